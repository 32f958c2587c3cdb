import type { Logger } from "./logger";
import type { BackupStatus, JobRef, RunRecord, ServerRef } from "./domain";

/** The typed domain events the core emits. Plugins subscribe to these and nothing else of the core's internals. */
export interface DomainEvents {
  backupReceived: {
    server: ServerRef;
    job: JobRef;
    run: RunRecord;
    /** True when this run is now the job's most recent one (an old report re-sent late is not). */
    isLatest: boolean;
    nextExpectedAt: string | null;
    /** The job's open overdue episode when the run arrived (its start), or null: none was open. */
    overdueSince: string | null;
  };
  serverChanged: {
    serverId: string;
    change: "created" | "renamed" | "updated" | "deleted" | "merged";
    server: ServerRef | null;
    previousName?: string;
    mergedInto?: string;
  };
  backupOverdue: {
    server: ServerRef;
    job: JobRef;
    lastRunDate: string | null;
    lastStatus: BackupStatus | null;
    expectedAt: string;
    toleranceMinutes: number;
    /** 1 for the first notice of an episode, then 2, 3… for re-notifications. */
    notice: number;
  };
  overdueCleared: {
    server: ServerRef;
    job: JobRef;
    run: RunRecord | null;
    overdueSince: string;
  };
}

export type EventName = keyof DomainEvents;
export type EventHandler<K extends EventName> = (payload: DomainEvents[K]) => void | Promise<void>;

/**
 * A small typed event bus. Handlers run after the emitter's own work is committed; a handler that throws or
 * rejects is logged and never reaches the emitter, so an integration can never fail an upload.
 */
export class EventBus {
  private readonly handlers = new Map<EventName, Set<EventHandler<EventName>>>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly log: Logger) {}

  on<K extends EventName>(name: K, handler: EventHandler<K>): () => void {
    let set = this.handlers.get(name);
    if (!set) {
      set = new Set();
      this.handlers.set(name, set);
    }
    set.add(handler as EventHandler<EventName>);
    return () => set.delete(handler as EventHandler<EventName>);
  }

  emit<K extends EventName>(name: K, payload: DomainEvents[K]): void {
    const set = this.handlers.get(name);
    if (!set || set.size === 0) return;
    for (const handler of set) {
      const run = (async () => {
        try {
          await handler(payload);
        } catch (err) {
          this.log.error({ err, event: name }, "event handler failed");
        }
      })();
      this.pending.add(run);
      void run.finally(() => this.pending.delete(run));
    }
  }

  /** Resolves when every handler started so far has finished (used at shutdown and by tests). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
