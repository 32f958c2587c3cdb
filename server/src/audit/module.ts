import type { AppContext, CoreModule } from "../context";
import { AuditLogService } from "./audit-log-service";
import { auditRoutes } from "./audit-routes";
import { AuditRetentionJob } from "./retention-job";

/**
 * Background work per application instance. Several instances can share a process (the tests start many), so
 * the state is keyed by context rather than held in one variable.
 */
const running = new Map<AppContext, AuditRetentionJob>();

/**
 * The audit log's endpoints and its daily retention job. Uploads are audited in their own transaction
 * (ingest/store-report.ts), not here.
 */
export const auditModule: CoreModule = {
  name: "audit",
  routes: (ctx) => auditRoutes(ctx, new AuditLogService(ctx)),
  start(ctx) {
    if (running.has(ctx)) return;
    const job = new AuditRetentionJob(ctx);
    job.start();
    running.set(ctx, job);
  },
  stop(ctx) {
    running.get(ctx)?.stop();
    running.delete(ctx);
  },
};

/** The scheduled retention job of a running instance (for tests and diagnostics). */
export const auditRetentionJobOf = (ctx: AppContext): AuditRetentionJob | undefined => running.get(ctx);
