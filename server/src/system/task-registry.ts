import type { AuditActor } from "../audit/audit-service";
import type { AppContext } from "../context";

/** What a task run reports back: a line of text and, for some tasks, counters. */
export interface TaskOutcome {
  message: string;
  statistics?: Record<string, number>;
}

/**
 * One of the in-process scheduled jobs (the original ran them in a separate cron service): the overdue check, the
 * audit log retention and the optional periodic collect. The owner keeps its own scheduling; the registry only
 * starts, stops, triggers and reports on it.
 */
export interface ScheduledTask {
  readonly name: string;
  /** Runs the task once, now (POST /api/cron/trigger/:taskName, on behalf of `actor`). */
  run(actor: AuditActor): Promise<TaskOutcome>;
  /** (Re)schedules it from its configuration. Returns false when the configuration has it off. */
  start(): Promise<boolean> | boolean;
  /** How to turn the task on when start() finds it off. */
  readonly offHint?: string;
  stop(): void;
  isActive(): boolean;
}

export interface TriggerResult {
  taskName: string;
  success: boolean;
  message?: string;
  error?: string;
  statistics?: Record<string, number>;
}

export interface TaskHealth {
  isRunning: true;
  activeTasks: string[];
  lastRunTimes: Record<string, string>;
  errors: Record<string, string>;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The scheduled tasks of one application instance, with the time and error of each one's last run. */
export class TaskRegistry {
  private readonly tasks = new Map<string, ScheduledTask>();
  private readonly lastRunTimes: Record<string, string> = {};
  private readonly errors: Record<string, string> = {};

  constructor(private readonly now: () => Date) {}

  /** Adds (or replaces) a task; returns the function that removes it again. */
  register(task: ScheduledTask): () => void {
    this.tasks.set(task.name, task);
    return () => {
      if (this.tasks.get(task.name) === task) this.tasks.delete(task.name);
    };
  }

  get(name: string): ScheduledTask | undefined {
    return this.tasks.get(name);
  }

  names(): string[] {
    return [...this.tasks.keys()];
  }

  /** Notes a run that happened (a scheduled one, or a manual trigger): its time, and its error or none. */
  recordRun(name: string, error?: unknown): void {
    this.lastRunTimes[name] = this.now().toISOString();
    if (error === undefined) delete this.errors[name];
    else this.errors[name] = errorText(error);
  }

  /** Runs a task now. A failure is reported in the result (and kept for health), not thrown. */
  async trigger(task: ScheduledTask, actor: AuditActor): Promise<TriggerResult> {
    try {
      const outcome = await task.run(actor);
      this.recordRun(task.name);
      return { taskName: task.name, success: true, ...outcome };
    } catch (err) {
      this.recordRun(task.name, err);
      return { taskName: task.name, success: false, error: errorText(err) };
    }
  }

  /** Stops every task and schedules each again from its configuration (POST /api/cron/reload-config). */
  async reload(): Promise<void> {
    for (const task of this.tasks.values()) task.stop();
    for (const task of this.tasks.values()) await task.start();
  }

  health(): TaskHealth {
    return {
      isRunning: true,
      activeTasks: [...this.tasks.values()].filter((t) => t.isActive()).map((t) => t.name),
      lastRunTimes: { ...this.lastRunTimes },
      errors: { ...this.errors },
    };
  }
}

const registries = new WeakMap<AppContext, TaskRegistry>();

/** The registry of an application instance (several instances can share a process: the tests start many). */
export function taskRegistryOf(ctx: AppContext): TaskRegistry {
  let registry = registries.get(ctx);
  if (!registry) {
    registry = new TaskRegistry(() => ctx.clock.now());
    registries.set(ctx, registry);
  }
  return registry;
}
