import { type Job, scheduleJob } from "node-schedule";
import type { AppContext } from "../context";
import { AuditLogService, type CleanupResult } from "./audit-log-service";

/** The original's cron task "audit-log-cleanup": every day at 02:00 UTC (reference §2.5). */
export const RETENTION_CRON = "0 2 * * *";

/**
 * One run of the daily retention cleanup: the same service method as POST /api/audit-log/cleanup, with the
 * configured retention, the context's clock, and "system" as the actor. Exported so tests can run it with a
 * ManualClock instead of waiting for 02:00.
 */
export function runAuditRetention(ctx: AppContext): Promise<CleanupResult> {
  return new AuditLogService(ctx).cleanup({ actor: { username: "system" }, trigger: "scheduled" });
}

/** The scheduled job. A failed run is logged (and audited by the service); the next day tries again. */
export class AuditRetentionJob {
  private job: Job | null = null;
  private running = false;

  constructor(private readonly ctx: AppContext) {}

  start(): void {
    this.job ??= scheduleJob({ rule: RETENTION_CRON, tz: "UTC" }, () => void this.runOnce());
  }

  stop(): void {
    this.job?.cancel();
    this.job = null;
  }

  /** Told after each scheduled run, with its error if it failed (the cron task registry's record). */
  onScheduledRun?: (error?: unknown) => void;

  /** When the scheduler will next fire (null once stopped). */
  nextRunAt(): Date | null {
    const next: { getTime(): number } | null | undefined = this.job?.nextInvocation();
    return next ? new Date(next.getTime()) : null;
  }

  private async runOnce(): Promise<void> {
    // A run that outlasts a day (it never should) is not started twice.
    if (this.running) return;
    this.running = true;
    try {
      // Several instances on one database: only the lease holder runs the scheduled cleanup (db/leader.ts).
      if (!(await this.ctx.db.leader.isLeader())) return;
      const result = await runAuditRetention(this.ctx);
      this.ctx.log.info(
        { deletedCount: result.deletedCount, retentionDays: result.retentionDays },
        "audit log retention cleanup done",
      );
      this.onScheduledRun?.();
    } catch (err) {
      this.ctx.log.error({ err }, "audit log retention cleanup failed");
      this.onScheduledRun?.(err);
    } finally {
      this.running = false;
    }
  }
}
