/**
 * The SQLite write lock shared by the connections of one process that write: the event loop's (Database) and the
 * ingest writer thread's (ingest/ingest-writer.ts). SQLite would serialise them anyway, but through busy_timeout: a
 * connection that finds the database locked sleeps inside the statement, and on the event loop that sleep stops every
 * request. Here the event loop waits asynchronously (Atomics.waitAsync) and goes first: the thread, which may block,
 * lets a waiting event loop in before it takes the lock again, so the uploads' stream cannot starve other writes.
 *
 * Layout of the shared Int32Array: [0] who holds the lock (FREE / LOOP / THREAD), [1] how many event-loop writers wait.
 */
const FREE = 0;
const LOOP = 1;
const THREAD = 2;
const HOLDER = 0;
const LOOP_WAITING = 1;

/** Waits are re-checked at least this often (a lost wake-up costs at most this long, never a hang). */
const RECHECK_MS = 50;

/** Atomics.waitAsync (Node 20 has it; the ES2022 library typings do not). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(cells: Int32Array, index: number, value: number, timeoutMs: number): { value: unknown };
  }
).waitAsync;

export class SharedWriteLock {
  private readonly cells: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)) {
    this.cells = new Int32Array(buffer);
  }

  /** The event loop's side: resolves once the lock is held; never blocks the thread it runs on. */
  async acquire(): Promise<void> {
    if (Atomics.compareExchange(this.cells, HOLDER, FREE, LOOP) === FREE) return;
    Atomics.add(this.cells, LOOP_WAITING, 1);
    try {
      for (;;) {
        const holder = Atomics.compareExchange(this.cells, HOLDER, FREE, LOOP);
        if (holder === FREE) return;
        await waitAsync(this.cells, HOLDER, holder, RECHECK_MS).value;
      }
    } finally {
      Atomics.sub(this.cells, LOOP_WAITING, 1);
      Atomics.notify(this.cells, LOOP_WAITING);
    }
  }

  /** The writer thread's side: blocks until the lock is held, after any event-loop writer that is waiting. */
  acquireBlocking(): void {
    for (;;) {
      const waiting = Atomics.load(this.cells, LOOP_WAITING);
      if (waiting > 0) {
        Atomics.wait(this.cells, LOOP_WAITING, waiting, RECHECK_MS);
        continue;
      }
      const holder = Atomics.compareExchange(this.cells, HOLDER, FREE, THREAD);
      if (holder === FREE) return;
      Atomics.wait(this.cells, HOLDER, holder, RECHECK_MS);
    }
  }

  release(): void {
    Atomics.store(this.cells, HOLDER, FREE);
    Atomics.notify(this.cells, HOLDER);
  }
}
