import type { Logger } from "../core/logger";
import { type PostgresSession, advisoryKey, openPostgresSession } from "./dialect";

/**
 * Who runs the scheduled tasks (the overdue check, the audit retention, the periodic collect) when several instances
 * share one database: exactly one at a time, the lease holder. Ask at every tick: `if (!(await lease.isLeader()))
 * return;`. Manual triggers (the API) run wherever they are asked and do not need the lease.
 *
 * - SQLite: one process owns the file; it always leads.
 * - PostgreSQL: a session-level advisory lock, taken with pg_try_advisory_lock on a connection of its own (outside
 *   the pool) and held for as long as that connection lives. Every instance tries at each tick; the holder keeps it.
 *   When the holder dies (crash, SIGKILL, lost network) PostgreSQL ends its connection and so releases the lock,
 *   and the next instance to tick takes it: a take-over within one check interval, with no lease rows to expire.
 */
export interface LeaderLease {
  /** Whether this instance leads now (on PostgreSQL: takes the lease when nobody holds it). Never throws. */
  isLeader(): Promise<boolean>;
  /** The last answer of isLeader(), without asking the database (diagnostics). */
  readonly holding: boolean;
  /** Gives the lease up (another instance can take it at its next tick). */
  close(): Promise<void>;
}

export const alwaysLeader: LeaderLease = {
  isLeader: async () => true,
  holding: true,
  close: async () => undefined,
};

export class PostgresLeaderLease implements LeaderLease {
  private session: PostgresSession | null = null;
  private held = false;
  private closed = false;
  private pending: Promise<boolean> | null = null;
  private readonly key: string;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    name = "scheduler",
  ) {
    this.key = advisoryKey(`leader:${name}`);
  }

  get holding(): boolean {
    return this.held;
  }

  /** Concurrent callers (two tasks ticking at the same second) share one round trip. */
  isLeader(): Promise<boolean> {
    this.pending ??= this.ask().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async ask(): Promise<boolean> {
    if (this.closed) return false;
    try {
      if (this.held && this.session) {
        // Still ours while the connection answers: a connection that broke took the lock with it.
        await this.session.query("SELECT 1");
        return true;
      }
      if (!this.session) {
        const session = await openPostgresSession(this.url, "duplistatus-leader");
        session.onError((err) => {
          if (this.session !== session) return;
          if (this.held) this.log.warn({ err: err.message }, "scheduler lease lost with its connection");
          this.session = null;
          this.held = false;
        });
        if (this.closed) {
          await session.close();
          return false;
        }
        this.session = session;
      }
      const [row] = await this.session.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${this.key}) AS locked`);
      const locked = row?.locked === true;
      if (locked && !this.held) this.log.info("this instance took the scheduler lease: it runs the scheduled tasks");
      this.held = locked;
      return locked;
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, "scheduler lease check failed");
      const session = this.session;
      this.session = null;
      this.held = false;
      await session?.close();
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pending?.catch(() => undefined);
    const session = this.session;
    this.session = null;
    this.held = false;
    // Ending the connection releases the lock.
    await session?.close();
  }
}
