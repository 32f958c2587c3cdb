import schedule from "node-schedule";
import type { AuditActor } from "../audit/audit-service";
import type { AppContext, CoreModule } from "../context";
import { type ScheduledTask, taskRegistryOf } from "../system/task-registry";
import { type BulkResult, DuplicatiService } from "./collect-service";
import { duplicatiRoutes } from "./routes";

export const COLLECT_TASK = "collect-backups";

/** Counters and a one-line summary of a collect over every server. */
function summarise(result: BulkResult): { message: string; statistics: Record<string, number>; failure?: string } {
  const failed = result.results.filter((r) => !r.success);
  const statistics = {
    servers: result.results.length,
    failedServers: failed.length,
    processed: result.stats.processed,
    skipped: result.stats.skipped,
    errors: result.stats.errors,
  };
  const message =
    result.results.length === 0
      ? (result.message ?? "No servers to collect from")
      : `Collected from ${result.results.length - failed.length} of ${result.results.length} server(s): ` +
        `${result.stats.processed} new run(s), ${result.stats.skipped} already stored`;
  const failure =
    failed.length > 0
      ? `${failed.length} server(s) failed: ${failed.map((f) => `${f.serverId ?? f.hostname}: ${f.error ?? "error"}`).join("; ")}`
      : undefined;
  return { message, statistics, ...(failure ? { failure } : {}) };
}

/**
 * The optional periodic collect (COLLECT_INTERVAL_MINUTES, off by default): every N minutes, collect from every
 * server with a stored Duplicati address and password, for servers that cannot push their reports. Runs never
 * overlap; the next one is planned when the previous one ends.
 */
class PeriodicCollect implements ScheduledTask {
  readonly name = COLLECT_TASK;
  readonly offHint = "Set COLLECT_INTERVAL_MINUTES (minutes between collections) and restart";
  private job: schedule.Job | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly ctx: AppContext,
    private readonly service: DuplicatiService,
  ) {}

  async run(actor: AuditActor): Promise<{ message: string; statistics: Record<string, number> }> {
    const { message, statistics, failure } = summarise(await this.service.collectAll(actor));
    if (failure) throw new Error(failure);
    return { message, statistics };
  }

  start(): boolean {
    this.stop();
    if (this.ctx.config.collectIntervalMinutes <= 0) return false;
    this.arm();
    return true;
  }

  private arm(): void {
    const at = new Date(Date.now() + this.ctx.config.collectIntervalMinutes * 60_000);
    this.job = schedule.scheduleJob(at, () => {
      this.running = this.runScheduled().finally(() => {
        this.running = null;
        if (this.job) this.arm();
      });
    });
  }

  private async runScheduled(): Promise<void> {
    // Several instances on one database: only the lease holder collects on schedule (db/leader.ts).
    if (!(await this.ctx.db.leader.isLeader())) return;
    const registry = taskRegistryOf(this.ctx);
    try {
      const { message, statistics, failure } = summarise(await this.service.collectAll());
      this.ctx.log.info({ task: COLLECT_TASK, ...statistics }, message);
      if (failure) this.ctx.log.warn({ task: COLLECT_TASK }, failure);
      registry.recordRun(COLLECT_TASK, failure);
    } catch (err) {
      this.ctx.log.error({ err, task: COLLECT_TASK }, "periodic collect failed");
      registry.recordRun(COLLECT_TASK, err);
    }
  }

  stop(): void {
    this.job?.cancel();
    this.job = null;
  }

  isActive(): boolean {
    return this.job !== null;
  }

  /** Waits for a run in progress (at shutdown, after the service cancelled its requests). */
  async settled(): Promise<void> {
    await this.running;
  }
}

interface Running {
  service: DuplicatiService;
  collect: PeriodicCollect;
  unregister: () => void;
}

const services = new WeakMap<AppContext, DuplicatiService>();
const running = new WeakMap<AppContext, Running>();

function serviceOf(ctx: AppContext): DuplicatiService {
  let service = services.get(ctx);
  if (!service) {
    service = new DuplicatiService(ctx);
    services.set(ctx, service);
  }
  return service;
}

/**
 * Pulling from Duplicati servers: the stored connection (password, connection test), POST /api/backups/collect and
 * /api/backups/sync-schedule, and the optional periodic collect (cron task "collect-backups").
 */
export const duplicatiModule: CoreModule = {
  name: "duplicati",
  routes: (ctx) => duplicatiRoutes(ctx, serviceOf(ctx)),
  start(ctx) {
    if (running.has(ctx)) return;
    const service = serviceOf(ctx);
    const collect = new PeriodicCollect(ctx, service);
    const unregister = taskRegistryOf(ctx).register(collect);
    collect.start();
    running.set(ctx, { service, collect, unregister });
  },
  async stop(ctx) {
    const r = running.get(ctx);
    if (!r) return;
    r.collect.stop();
    await r.service.stop();
    await r.collect.settled();
    r.unregister();
    running.delete(ctx);
  },
};
