import { AuditLogService } from "../audit/audit-log-service";
import { auditRetentionJobOf } from "../audit/module";
import type { AppContext, CoreModule } from "../context";
import { cronRoutes } from "./cron-routes";
import { type ScheduledTask, taskRegistryOf } from "./task-registry";

/** The original's cron task names (reference §2.5). */
export const OVERDUE_TASK = "overdue-backup-check";
export const AUDIT_CLEANUP_TASK = "audit-log-cleanup";

/** The overdue check, scheduled by the monitoring room from the `cron_service` configuration. */
function overdueTask(ctx: AppContext): ScheduledTask {
  const { overdue } = ctx.services;
  return {
    name: OVERDUE_TASK,
    offHint: 'Choose an interval with POST /api/cron-config (it is "disabled")',
    async run() {
      const statistics = await overdue.check();
      return { message: "Task executed successfully", statistics: { ...statistics } };
    },
    async start() {
      await overdue.schedule();
      return overdue.isScheduled();
    },
    stop: () => overdue.stop(),
    isActive: () => overdue.isScheduled(),
  };
}

/** The daily audit log retention, scheduled by the audit room. */
function auditCleanupTask(ctx: AppContext): ScheduledTask | null {
  const job = auditRetentionJobOf(ctx);
  if (!job) return null;
  return {
    name: AUDIT_CLEANUP_TASK,
    async run(actor) {
      const result = await new AuditLogService(ctx).cleanup({ actor, trigger: "manual" });
      return {
        message: `Cleaned up ${result.deletedCount} audit log entries older than ${result.retentionDays} days`,
        statistics: { deletedCount: result.deletedCount, retentionDays: result.retentionDays },
      };
    },
    start() {
      job.start();
      return true;
    },
    stop: () => job.stop(),
    isActive: () => job.nextRunAt() !== null,
  };
}

const cleanups = new WeakMap<AppContext, Array<() => void>>();

/**
 * The original's cron service, in process: GET /api/cron/health and start / stop / trigger / reload of the scheduled
 * tasks. The tasks keep their own scheduling (monitoring and audit rooms, the periodic collect); this room registers
 * them in the task registry and records their scheduled runs. Listed after the rooms whose tasks it wraps.
 */
export const cronModule: CoreModule = {
  name: "cron",
  routes: (ctx) => cronRoutes(ctx, taskRegistryOf(ctx)),
  start(ctx) {
    const registry = taskRegistryOf(ctx);
    const undo: Array<() => void> = [];
    const overdue = ctx.services.overdue;
    undo.push(registry.register(overdueTask(ctx)));
    overdue.onScheduledRun = (error) => registry.recordRun(OVERDUE_TASK, error);
    undo.push(() => (overdue.onScheduledRun = undefined));
    const audit = auditCleanupTask(ctx);
    const job = auditRetentionJobOf(ctx);
    if (audit && job) {
      undo.push(registry.register(audit));
      job.onScheduledRun = (error) => registry.recordRun(AUDIT_CLEANUP_TASK, error);
      undo.push(() => (job.onScheduledRun = undefined));
    }
    cleanups.set(ctx, undo);
  },
  stop(ctx) {
    for (const fn of cleanups.get(ctx) ?? []) fn();
    cleanups.delete(ctx);
  },
};
