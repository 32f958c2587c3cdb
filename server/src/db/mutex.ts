/**
 * A FIFO async lock. SQLite through TypeORM has a single connection and a single query runner: two transactions
 * interleaving at their awaits would nest into each other, and a read between two statements of a transaction would
 * see its uncommitted rows. Every unit of work on SQLite therefore runs under this lock. The statements themselves
 * are synchronous (better-sqlite3), so the lock costs a microtask hop, not throughput.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(work: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => next);
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }
}
