/**
 * The ingest writer thread (see ingest-writer.ts): a connection of its own to the live SQLite file that stores
 * uploads in group commits, the same statements as the event loop would run (store-report.ts), under the write lock
 * it shares with the event loop's connection.
 */
import fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { sqliteDialect, openSqliteFile, sqliteExecutor } from "../db/dialect";
import { commitUnits, executorQueryable } from "../db/group-commit";
import { SharedWriteLock } from "../db/write-lock";
import type { FromWriter, StoreUnit, ThreadError, ToWriter, UnitResult, WriterData } from "./ingest-writer-protocol";
import { storeReport } from "./store-report";

/** At most this many uploads share one transaction (as the event loop's group commit). */
const MAX_UNITS = 64;
const WRITER_CACHE_KB = 4 * 1024;

const data = workerData as WriterData;
const port =
  parentPort ??
  (() => {
    throw new Error("ingest-writer-thread runs as a worker thread");
  })();

const conn = openSqliteFile(data.file, { readonly: false });
for (const stmt of data.connectionSetup) conn.exec(stmt);
conn.exec(`PRAGMA wal_autocheckpoint = ${data.autoCheckpointPages}`);
// Its working set is the index and table pages an insert touches; reads use the event loop's connection and its
// SQLITE_CACHE_MB. 4 MB instead of that 16 MB kept the process ~20 MB smaller over 20,000 uploads at the same speed.
conn.exec(`PRAGMA cache_size = -${WRITER_CACHE_KB}`);
const executor = sqliteExecutor(conn, data.statementCacheSize);
// The dialect's SQL rewriting only; its tuning is already applied through connectionSetup.
const q = executorQueryable(() => executor, sqliteDialect({ synchronous: "NORMAL", cacheMb: 1, busyTimeoutMs: 0 }));
const lock = new SharedWriteLock(data.lock);
const options = { forUpdate: "", audit: true, notificationPrefs: true };

/**
 * The WAL's bound under a steady stream of uploads. The background checkpointer (db/checkpointer.ts) copies the WAL
 * back into the database beside this thread, but SQLite starts the WAL over only when a transaction begins after a
 * checkpoint that caught up with its end, and while this thread appends without pause the checkpointer never does:
 * measured, the WAL grew by ~38 KB per upload, 838 MB over 22,000 uploads, and stays that size on disk. So every
 * WAL_CHECK_COMMITS group commits the thread looks at the WAL's size and, past `walBoundBytes` (64 MB), checkpoints it
 * itself between two transactions: only the tail the background checkpointer has not copied yet, after which the next
 * transaction starts the WAL over (and journal_size_limit, dialect.ts, cuts the file back to 64 MB). Measured over
 * 6 interleaved runs of 20,000 uploads each way: the WAL stays at 64 MB, uploads/s the same within this VM's noise.
 */
const WAL_CHECK_COMMITS = 4;
const walFile = `${data.file}-wal`;
let commitsSinceWalCheck = 0;

function boundWal(): void {
  if (++commitsSinceWalCheck < WAL_CHECK_COMMITS) return;
  commitsSinceWalCheck = 0;
  // No WAL file (yet): nothing to bound.
  const size = fs.statSync(walFile, { throwIfNoEntry: false })?.size ?? 0;
  if (size > data.walBoundBytes) conn.exec("PRAGMA wal_checkpoint(PASSIVE)");
}

const queue: StoreUnit[] = [];
let scheduled = false;
let closing = false;

const post = (m: FromWriter) => port.postMessage(m);

function threadError(err: unknown): ThreadError {
  const e = err as { name?: unknown; message?: unknown; code?: unknown };
  return {
    name: typeof e?.name === "string" ? e.name : "Error",
    message: typeof e?.message === "string" ? e.message : String(err),
    ...(typeof e?.code === "string" ? { code: e.code } : {}),
  };
}

async function flush(): Promise<void> {
  scheduled = false;
  while (queue.length > 0) {
    const units = queue.splice(0, MAX_UNITS);
    lock.acquireBlocking();
    let outcomes;
    try {
      outcomes = await commitUnits(
        executor,
        units,
        (u) => storeReport(q, u.mapped, options),
        (err) => post({ kind: "warn", message: "rollback to savepoint failed", error: threadError(err) }),
      );
    } finally {
      lock.release();
    }
    const results: UnitResult[] = [];
    const again: StoreUnit[] = [];
    units.forEach((u, i) => {
      const o = outcomes[i];
      if (o?.ok === true) results.push({ id: u.id, ok: true, value: o.value });
      else if (o?.ok === false) results.push({ id: u.id, ok: false, error: threadError(o.error) });
      else again.push(u);
    });
    queue.unshift(...again);
    if (results.length > 0) post({ kind: "done", results });
    boundWal();
  }
  if (closing) {
    conn.close();
    port.close();
  }
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  // After the messages already waiting are taken in, so that they share the transaction.
  setImmediate(() => {
    flush().catch((err: unknown) => {
      post({ kind: "fatal", error: threadError(err) });
      process.exit(1);
    });
  });
}

post({ kind: "ready" });

port.on("message", (m: ToWriter) => {
  if (m.kind === "store") {
    queue.push(...m.units);
    schedule();
  } else if (m.kind === "autocheckpoint") {
    conn.exec(`PRAGMA wal_autocheckpoint = ${m.pages}`);
  } else if (m.kind === "close") {
    closing = true;
    schedule();
  }
});
