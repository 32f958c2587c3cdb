/**
 * The ingest writer thread (see ingest-writer.ts): a connection of its own to the live SQLite file that stores
 * uploads in group commits, the same statements as the event loop would run (store-report.ts), under the write lock
 * it shares with the event loop's connection.
 */
import { parentPort, workerData } from "node:worker_threads";
import { sqliteDialect, openSqliteFile, sqliteExecutor } from "../db/dialect";
import { commitUnits, executorQueryable } from "../db/group-commit";
import { WalBound } from "../db/wal-bound";
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

// Under a steady stream of uploads this connection writes without pause: it bounds the WAL itself (see wal-bound.ts).
const walBound = new WalBound(
  `${data.file}-wal`,
  data.walBoundBytes,
  () => conn.exec("PRAGMA wal_checkpoint(PASSIVE)"),
  (err) => post({ kind: "warn", message: "WAL checkpoint after a group commit failed", error: threadError(err) }),
);

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
    walBound.afterCommit();
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
