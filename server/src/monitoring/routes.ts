import { z } from "zod";
import type { AppContext } from "../context";
import { actorOf } from "../auth/principal";
import { defineRoute, type RouteDef } from "../http/route";
import { getConfigValue } from "../store/configuration-store";
import { clearNotificationTimestamps, listJobs } from "./settings-store";
import { monitoringCsv } from "./monitoring-csv";
import { BackupSettingsSchema, CHECK_INTERVALS, ToleranceSchema } from "./settings-types";

const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });
const Message = z.looseObject({ message: z.string() });
const CheckStats = z.object({
  totalBackupConfigs: z.number(),
  checkedBackups: z.number(),
  overdueBackupsFound: z.number(),
  notificationsSent: z.number(),
});
const CronConfig = z.object({ cronExpression: z.string(), enabled: z.boolean() });
const intervalKeys = Object.keys(CHECK_INTERVALS) as [
  keyof typeof CHECK_INTERVALS,
  ...Array<keyof typeof CHECK_INTERVALS>,
];

/** Monitoring settings, the overdue check and the monitoring CSV (reference §2.5, §2.6, §8.1). */
export function monitoringRoutes(ctx: AppContext): RouteDef[] {
  const { monitoring, overdue } = ctx.services;
  const audit = (kctx: Parameters<RouteDef["handler"]>[0], action: string, details: Record<string, unknown>) =>
    ctx.access
      .resolve(kctx)
      .then((p) => ctx.audit.record({ ...actorOf(p), action, category: "config", details, ipAddress: kctx.ip }));

  return [
    defineRoute({
      method: "get",
      path: "/api/configuration/backup-settings",
      access: "user",
      summary: 'Per-job monitoring and notification settings ("sid:job" → settings)',
      tags: ["monitoring"],
      responses: {
        200: { description: "Settings map", schema: z.object({ backupSettings: z.record(z.string(), z.unknown()) }) },
      },
      handler: async () => ({ body: { backupSettings: await monitoring.backupSettingsMap() } }),
    }),
    defineRoute({
      method: "post",
      path: "/api/configuration/backup-settings",
      access: "admin",
      summary: "Update per-job settings (interval, weekdays, monitoring on/off, notification event and channels)",
      description:
        'Keys are "<serverId>:<backupName>" (or "<serverId>:__default__" for a server\'s additional-destination defaults). Jobs not named keep their settings. A changed schedule recomputes the next expected run and ends an open overdue episode.',
      tags: ["monitoring"],
      body: z.object({ backupSettings: z.record(z.string(), BackupSettingsSchema) }),
      responses: {
        200: {
          description: "Saved",
          schema: z.object({ message: z.string(), updated: z.number(), ignoredKeys: z.array(z.string()) }),
        },
        400: { description: "Invalid key or interval", schema: ErrorBody },
      },
      handler: async (kctx, { body }) => {
        const result = await monitoring.updateBackupSettings(body.backupSettings);
        await audit(kctx, "backup_notification_updated", {
          keys: Object.keys(body.backupSettings),
          ignored: result.ignored,
        });
        // A schedule that changed may have ended or started an episode: settle it now rather than at the next tick.
        void overdue
          .check()
          .catch((err: unknown) => ctx.log.error({ err }, "overdue check after settings change failed"));
        return {
          body: {
            message: "Backup settings updated successfully",
            updated: result.updated,
            ignoredKeys: result.ignored,
          },
        };
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/configuration/overdue-tolerance",
      access: "user",
      summary: "Grace period after the expected run before a backup counts as overdue",
      tags: ["monitoring"],
      responses: { 200: { description: "Tolerance", schema: z.object({ overdue_tolerance: ToleranceSchema }) } },
      handler: async () => ({ body: { overdue_tolerance: await monitoring.tolerance() } }),
    }),
    defineRoute({
      method: "post",
      path: "/api/configuration/overdue-tolerance",
      access: "admin",
      summary: "Set the overdue tolerance",
      tags: ["monitoring"],
      body: z.object({ overdue_tolerance: ToleranceSchema }),
      responses: {
        200: { description: "Saved", schema: Message },
        400: { description: "Invalid value", schema: ErrorBody },
      },
      handler: async (kctx, { body }) => {
        await monitoring.setTolerance(body.overdue_tolerance);
        await audit(kctx, "overdue_tolerance_updated", { value: body.overdue_tolerance });
        return { body: { message: "Overdue tolerance updated successfully" } };
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/cron-config",
      access: "user",
      summary: "Schedule of the overdue check",
      tags: ["monitoring"],
      responses: { 200: { description: "Cron expression (UTC)", schema: CronConfig } },
      handler: async () => ({ body: await monitoring.checkSchedule() }),
    }),
    defineRoute({
      method: "post",
      path: "/api/cron-config",
      access: "admin",
      summary: "Set how often the overdue check runs",
      tags: ["monitoring"],
      body: z.object({ interval: z.enum(intervalKeys) }),
      responses: {
        200: {
          description: "Saved and rescheduled",
          schema: z.object({ success: z.literal(true), cronExpression: z.string(), enabled: z.boolean() }),
        },
        400: { description: "Missing or unknown interval", schema: ErrorBody },
      },
      handler: async (kctx, { body }) => {
        const task = await monitoring.setCheckInterval(body.interval);
        await overdue.schedule();
        await audit(kctx, "overdue_monitoring_interval_updated", { interval: body.interval });
        return { body: { success: true, ...task } };
      },
    }),
    defineRoute({
      method: "post",
      path: "/api/notifications/check-overdue",
      access: "user",
      summary: "Run the overdue check now",
      tags: ["monitoring"],
      responses: {
        200: { description: "Check result", schema: z.object({ message: z.string(), statistics: CheckStats }) },
      },
      handler: async (kctx) => {
        const statistics = await overdue.check();
        await audit(kctx, "overdue_check_manual", statistics as unknown as Record<string, unknown>);
        return { body: { message: "Overdue backup check completed with next run times recalculated", statistics } };
      },
    }),
    defineRoute({
      method: "post",
      path: "/api/notifications/clear-overdue-timestamps",
      access: "admin",
      summary: "Forget overdue notices sent, so the next check notifies every overdue job again",
      tags: ["monitoring"],
      responses: { 200: { description: "Cleared", schema: Message } },
      handler: async (kctx) => {
        const cleared = await ctx.db.write((q) => clearNotificationTimestamps(q));
        await audit(kctx, "overdue_notifications_reset", { cleared });
        return { body: { message: "Overdue backup notification timestamps cleared successfully" } };
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/backups/monitoring.csv",
      access: "user",
      summary: "Monitoring state of every job as CSV",
      tags: ["monitoring"],
      responses: { 200: { description: "CSV file", contentType: "text/csv", schema: z.string() } },
      handler: async () => {
        const now = ctx.clock.now();
        const [rows, tolerance] = await Promise.all([ctx.db.read((q) => listJobs(q)), monitoring.toleranceMinutes()]);
        return {
          body: monitoringCsv(rows, now, tolerance),
          headers: {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": `attachment; filename="backup-monitoring-${now.toISOString().slice(0, 10)}.csv"`,
          },
        };
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/notifications/last-check",
      access: "user",
      summary: "When the overdue check last ran",
      tags: ["monitoring"],
      responses: { 200: { description: "ISO time or N/A", schema: z.object({ lastOverdueCheck: z.string() }) } },
      handler: async () => ({
        body: { lastOverdueCheck: (await ctx.db.read((q) => getConfigValue(q, "last_overdue_check"))) ?? "N/A" },
      }),
    }),
  ];
}
