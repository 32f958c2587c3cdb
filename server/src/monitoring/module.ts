import type { CoreModule } from "../context";
import { monitoringRoutes } from "./routes";

/**
 * Overdue monitoring: settings routes, the scheduled check, and a fast path that ends an overdue episode as soon as
 * the late backup arrives (the scheduled check would also end it, at its next tick).
 */
const unsubscribers = new WeakMap<object, () => void>();

export const monitoringModule: CoreModule = {
  name: "monitoring",
  routes: (ctx) => monitoringRoutes(ctx),
  async start(ctx) {
    const { overdue } = ctx.services;
    // Only a job with an open episode can have it ended by a run (the upload read the episode in its transaction).
    const off = ctx.events.on("backupReceived", (e) =>
      e.isLatest && e.overdueSince !== null ? overdue.evaluateJob(e.job.serverId, e.job.backupName, e.run) : undefined,
    );
    unsubscribers.set(ctx, off);
    await overdue.schedule();
  },
  stop(ctx) {
    ctx.services.overdue.stop();
    unsubscribers.get(ctx)?.();
    unsubscribers.delete(ctx);
  },
};
