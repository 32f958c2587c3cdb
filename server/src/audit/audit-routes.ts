import { z } from "zod";
import type { AppContext } from "../context";
import { badRequest } from "../core/errors";
import { defineRoute, type RouteDef } from "../http/route";
import { auditCsv } from "./audit-export";
import { AuditLogService, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from "./audit-log-service";
import { AuditExportQuery, AuditListQuery, paging, toAuditFilter } from "./audit-query";
import { requestActor } from "./request-actor";

const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });

const accessErrors = {
  401: { description: "Not logged in, or an invalid / revoked API token", schema: ErrorBody },
  403: { description: "Not allowed for this user or token scope (or a missing CSRF token)", schema: ErrorBody },
};

const AuditLogEntry = z.object({
  id: z.number().int(),
  timestamp: z.string(),
  userId: z.string().nullable(),
  username: z.string().nullable(),
  action: z.string(),
  category: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  ipAddress: z.string().nullable(),
  userAgent: z.string().nullable(),
  status: z.string(),
  errorMessage: z.string().nullable(),
});

const RANGE_ERROR = `Retention days must be between ${MIN_RETENTION_DAYS} and ${MAX_RETENTION_DAYS}`;
const RetentionDays = z
  .number({ error: "retentionDays must be a number" })
  .int({ error: "retentionDays must be a whole number" })
  .min(MIN_RETENTION_DAYS, { error: RANGE_ERROR })
  .max(MAX_RETENTION_DAYS, { error: RANGE_ERROR });

const RetentionBody = z.object({ retentionDays: RetentionDays });
/**
 * Both fields are optional, so an empty body runs a real cleanup with the configured retention. The lenient JSON
 * parser hands over "" when a request has no body at all.
 */
const CleanupBody = z.preprocess(
  (b) => (b === undefined || b === "" ? {} : b),
  z.object({
    retentionDays: RetentionDays.optional(),
    dryRun: z.boolean({ error: "dryRun must be true or false" }).optional(),
  }),
);

const CleanupResponse = z.union([
  z.object({
    dryRun: z.literal(true),
    wouldDeleteCount: z.number().int(),
    oldestRemaining: z.string().nullable(),
    retentionDays: z.number().int(),
    cutoffDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  }),
  z.object({
    success: z.literal(true),
    deletedCount: z.number().int(),
    oldestRemaining: z.string().nullable(),
    retentionDays: z.number().int(),
  }),
]);

/** The audit log: browse, export, retention and cleanup (reference §2.8). */
export function auditRoutes(ctx: AppContext, service: AuditLogService): RouteDef[] {
  const updateRetention = (method: "patch" | "put") =>
    defineRoute({
      method,
      path: "/api/audit-log/retention",
      access: "admin",
      summary: `Set how many days audit entries are kept (${MIN_RETENTION_DAYS}–${MAX_RETENTION_DAYS})${method === "put" ? " (alias of PATCH)" : ""}`,
      tags: ["audit"],
      body: RetentionBody,
      responses: {
        200: {
          description: "Stored",
          schema: z.object({ success: z.literal(true), retentionDays: z.number().int() }),
        },
        400: { description: "retentionDays missing, not a whole number, or out of range", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => {
        const days = await service.setRetentionDays(body.retentionDays, await requestActor(ctx.access, kctx));
        return { body: { success: true, retentionDays: days } };
      },
    });

  return [
    defineRoute({
      method: "get",
      path: "/api/audit-log",
      access: "user",
      summary: "Audit log entries, newest first, with filters and paging",
      tags: ["audit"],
      query: AuditListQuery,
      noCache: true,
      responses: {
        200: {
          description: "One page of entries",
          schema: z.object({
            logs: z.array(AuditLogEntry),
            pagination: z.object({
              page: z.number().int(),
              limit: z.number().int(),
              total: z.number().int(),
              totalPages: z.number().int(),
            }),
          }),
        },
        400: { description: "Invalid filter or paging parameter", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (_kctx, { query }) => {
        const { page, limit, offset } = paging(query);
        const { logs, total } = await service.list(toAuditFilter(query), limit, offset);
        return { body: { logs, pagination: { page, limit, total, totalPages: Math.ceil(total / limit) } } };
      },
    }),

    defineRoute({
      method: "get",
      path: "/api/audit-log/download",
      access: "user",
      summary: "Export audit log entries as CSV or JSON (at most 10 000, newest first)",
      tags: ["audit"],
      query: AuditExportQuery,
      noCache: true,
      responses: {
        200: {
          description: "Attachment audit-log-YYYY-MM-DD.csv (text/csv) or .json (a JSON array of entries)",
          contentType: "text/csv",
          schema: z.union([z.string(), z.array(AuditLogEntry)]),
        },
        400: { description: "Invalid parameter, or no entries to export as CSV", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (_kctx, { query }) => {
        const format = query.format ?? "csv";
        const logs = await service.exportRows(toAuditFilter(query));
        const filename = `audit-log-${ctx.clock.now().toISOString().slice(0, 10)}.${format}`;
        const disposition = { "Content-Disposition": `attachment; filename="${filename}"` };
        if (format === "json") {
          return { headers: { ...disposition, "Content-Type": "application/json; charset=utf-8" }, body: logs };
        }
        if (logs.length === 0) throw badRequest("No logs to export");
        return { headers: { ...disposition, "Content-Type": "text/csv; charset=utf-8" }, body: auditCsv(logs) };
      },
    }),

    defineRoute({
      method: "get",
      path: "/api/audit-log/filters",
      access: "user",
      summary: "The distinct actions, categories and statuses in the log (for filter menus)",
      tags: ["audit"],
      noCache: true,
      responses: {
        200: {
          description: "Sorted distinct values",
          schema: z.object({
            actions: z.array(z.string()),
            categories: z.array(z.string()),
            statuses: z.array(z.string()),
          }),
        },
        ...accessErrors,
      },
      handler: async () => ({ body: await service.filterValues() }),
    }),

    defineRoute({
      method: "get",
      path: "/api/audit-log/retention",
      access: "user",
      summary: "How many days audit entries are kept",
      tags: ["audit"],
      noCache: true,
      responses: {
        200: { description: "Retention in days (default 90)", schema: z.object({ retentionDays: z.number().int() }) },
        ...accessErrors,
      },
      handler: async () => ({ body: { retentionDays: await service.retentionDays() } }),
    }),
    updateRetention("patch"),
    updateRetention("put"),

    defineRoute({
      method: "post",
      path: "/api/audit-log/cleanup",
      access: "admin",
      summary: "Delete audit entries older than the retention now (or preview with dryRun)",
      tags: ["audit"],
      body: CleanupBody,
      responses: {
        200: { description: "Preview (dryRun) or result", schema: CleanupResponse },
        400: { description: "retentionDays out of range, or dryRun not a boolean", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => {
        if (body.dryRun) return { body: await service.previewCleanup(body.retentionDays) };
        const actor = await requestActor(ctx.access, kctx);
        return { body: await service.cleanup({ days: body.retentionDays, actor, trigger: "manual" }) };
      },
    }),
  ];
}
