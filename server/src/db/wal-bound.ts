import fs from "node:fs";

/**
 * Keeps the WAL of a connection that writes without pause from growing without end. SQLite starts the WAL over only
 * when a transaction begins after a checkpoint that caught up with the WAL's end; the background checkpointer
 * (checkpointer.ts) copies the WAL back beside the writer, but while the writer appends without pause it never
 * catches up: measured, the WAL grew by ~38 KB per upload, 838 MB over 22,000 uploads at c=16, and the file keeps
 * that size on disk until the last connection closes. So the writer looks at the WAL's size every few commits and,
 * past the bound, checkpoints it itself between two transactions: only the tail the background worker has not copied
 * yet, after which its next transaction starts the WAL over (and journal_size_limit, dialect.ts, cuts the file back).
 *
 * Used by the ingest writer thread and by the event loop's group commit (bulk imports, collects), each on its own
 * connection. Measured on the ingest writer over 6 interleaved runs of 20,000 uploads each way: the WAL stays at
 * 64 MB, uploads/s the same within this VM's noise.
 */
export class WalBound {
  private commits = 0;

  constructor(
    private readonly walFile: string,
    private readonly boundBytes: number,
    /** A PASSIVE checkpoint on the writing connection (never waits for readers or other writers). */
    private readonly checkpoint: () => void,
    /** A failed checkpoint is reported here, never thrown: the commit before it stands and is answered. */
    private readonly onError: (err: unknown) => void,
    /** Look at the WAL's size once per this many commits (a stat call each time). */
    private readonly everyCommits = 4,
  ) {}

  /** Call after each COMMIT, outside any transaction. */
  afterCommit(): void {
    if (++this.commits < this.everyCommits) return;
    this.commits = 0;
    // No WAL file (yet): nothing to bound.
    const size = fs.statSync(this.walFile, { throwIfNoEntry: false })?.size ?? 0;
    if (size <= this.boundBytes) return;
    try {
      this.checkpoint();
    } catch (err) {
      this.onError(err);
    }
  }
}
