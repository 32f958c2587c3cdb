import type { AppContext, CoreModule } from "../context";
import { AuditLogService } from "./audit-log-service";
import { auditRoutes } from "./audit-routes";
import { AuditRetentionJob } from "./retention-job";

interface Running {
  job: AuditRetentionJob;
  unsubscribe: () => void;
}

/**
 * Background work per application instance. Several instances can share a process (the tests start many), so
 * the state is keyed by context rather than held in one variable.
 */
const running = new Map<AppContext, Running>();

/** Uploads are audited as a summary (ids, status, size), never the report or its log text. */
function auditUploads(ctx: AppContext): () => void {
  return ctx.events.on("backupReceived", async ({ server, job, run }) => {
    await ctx.audit.record({
      action: "backup_upload",
      category: "backup",
      targetType: "backup",
      targetId: run.id,
      details: {
        serverId: server.id,
        backupName: job.backupName,
        runId: run.id,
        status: run.status,
        uploadedSize: run.uploaded_size,
      },
    });
  });
}

/** The audit log's endpoints, its daily retention job and the upload audit subscription. */
export const auditModule: CoreModule = {
  name: "audit",
  routes: (ctx) => auditRoutes(ctx, new AuditLogService(ctx)),
  start(ctx) {
    if (running.has(ctx)) return;
    const job = new AuditRetentionJob(ctx);
    job.start();
    running.set(ctx, { job, unsubscribe: auditUploads(ctx) });
  },
  stop(ctx) {
    const r = running.get(ctx);
    if (!r) return;
    r.job.stop();
    r.unsubscribe();
    running.delete(ctx);
  },
};

/** The scheduled retention job of a running instance (for tests and diagnostics). */
export const auditRetentionJobOf = (ctx: AppContext): AuditRetentionJob | undefined => running.get(ctx)?.job;
