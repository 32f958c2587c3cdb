import { randomUUID } from "node:crypto";
import { Worker, isMainThread, parentPort } from "node:worker_threads";
import fs from "node:fs";
import path from "node:path";
import Koa from "koa";
import { koaBody } from "koa-body";
import { openSqliteFile } from "../server/src/db/dialect";

/**
 * The floor: the echo's bare Koa + koa-body, plus the least a faithful ingestion must do with each report — store it
 * as one row of the original's `backups` table (its columns, its random v4 id, its unique (server, job, date) index
 * and date index) in SQLite in WAL mode, durable (committed) before the answer, 409 on a repeat. No validation, no
 * server or job rows, no roll-ups, audit, events or plugins: everything the real server does on top costs more. The
 * ingestion bench runs it next to the echo to show how much of the echo's rate storing a report alone leaves.
 *
 * FLOOR_MODE=autocommit (default): one transaction per upload on the event loop, better-sqlite3 being synchronous.
 * FLOOR_MODE=group: uploads that arrive in the same event-loop turn share one COMMIT (a group commit, as the server's
 * writer does) and are answered after it.
 * FLOOR_MODE=thread: the row goes to a worker thread with a connection of its own, which group-commits what reaches it
 * together (the server's design: the event loop parses while the thread writes, on the second core).
 */
const dataDir = process.env.DATA_DIR ?? "/tmp/floor-data";
fs.mkdirSync(dataDir, { recursive: true });
// The server's connection settings (db/dialect.ts): WAL, synchronous NORMAL, a 16 MB page cache.
const db = openSqliteFile(path.join(dataDir, "floor.db"), { readonly: false });
db.exec("PRAGMA journal_mode = WAL");
db.exec("PRAGMA synchronous = NORMAL");
db.exec("PRAGMA cache_size = -16384");
db.exec(`CREATE TABLE IF NOT EXISTS backups (
  id TEXT PRIMARY KEY NOT NULL, server_id TEXT NOT NULL, backup_name TEXT NOT NULL, backup_id TEXT NOT NULL,
  date TEXT NOT NULL, status TEXT NOT NULL, duration_seconds REAL NOT NULL, size INTEGER NOT NULL,
  uploaded_size INTEGER NOT NULL, examined_files INTEGER NOT NULL, warnings INTEGER NOT NULL, errors INTEGER NOT NULL,
  messages_array TEXT, deleted_files INTEGER NOT NULL, deleted_folders INTEGER NOT NULL,
  modified_files INTEGER NOT NULL, opened_files INTEGER NOT NULL, added_files INTEGER NOT NULL,
  size_of_modified_files INTEGER NOT NULL, size_of_added_files INTEGER NOT NULL, size_of_examined_files INTEGER NOT NULL,
  size_of_opened_files INTEGER NOT NULL, not_processed_files INTEGER NOT NULL, added_folders INTEGER NOT NULL,
  too_large_files INTEGER NOT NULL, files_with_error INTEGER NOT NULL, modified_folders INTEGER NOT NULL,
  modified_symlinks INTEGER NOT NULL, added_symlinks INTEGER NOT NULL, deleted_symlinks INTEGER NOT NULL,
  partial_backup INTEGER NOT NULL, dryrun INTEGER NOT NULL, interrupted INTEGER NOT NULL, main_operation TEXT NOT NULL,
  parsed_result TEXT NOT NULL, version TEXT, begin_time TEXT NOT NULL, end_time TEXT NOT NULL,
  bytes_downloaded INTEGER NOT NULL, known_file_size INTEGER NOT NULL, backup_list_count INTEGER NOT NULL,
  created_at TEXT NOT NULL)`);
db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS uq_backups_server_job_date ON backups (server_id, backup_name, date)`);
db.exec(`CREATE INDEX IF NOT EXISTS idx_backups_date ON backups (date)`);

const COLUMNS = [
  "id", "server_id", "backup_name", "backup_id", "date", "status", "duration_seconds", "size", "uploaded_size",
  "examined_files", "warnings", "errors", "messages_array", "deleted_files", "deleted_folders", "modified_files",
  "opened_files", "added_files", "size_of_modified_files", "size_of_added_files", "size_of_examined_files",
  "size_of_opened_files", "not_processed_files", "added_folders", "too_large_files", "files_with_error",
  "modified_folders", "modified_symlinks", "added_symlinks", "deleted_symlinks", "partial_backup", "dryrun",
  "interrupted", "main_operation", "parsed_result", "version", "begin_time", "end_time", "bytes_downloaded",
  "known_file_size", "backup_list_count", "created_at",
]; // prettier-ignore
const insert = db.prepare(`INSERT INTO backups (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`);

type Num = number | string | undefined;
const n = (v: Num): number => (typeof v === "number" ? v : Number(v ?? 0) || 0);
const b = (v: unknown): number => (v === true || v === "true" ? 1 : 0);

interface Report {
  Data: Record<string, Num> & { BackendStatistics?: Record<string, Num> };
  Extra: Record<string, string>;
  LogLines?: string[];
}

/** One row's values from a report: a direct mapping, the shape of what the real server stores. */
function rowOf(r: Report): unknown[] {
  const d = r.Data;
  const bs = d.BackendStatistics ?? {};
  const begin = new Date(String(d.BeginTime)).toISOString();
  const end = new Date(String(d.EndTime)).toISOString();
  return [
    randomUUID(), r.Extra["machine-id"], r.Extra["backup-name"], r.Extra["backup-id"] ?? "", begin,
    String(d.ParsedResult), (Date.parse(end) - Date.parse(begin)) / 1000, n(bs.KnownFileSize), n(bs.BytesUploaded),
    n(d.ExaminedFiles), n(d.WarningsActualLength), n(d.ErrorsActualLength), JSON.stringify(r.LogLines ?? []),
    n(d.DeletedFiles), n(d.DeletedFolders), n(d.ModifiedFiles), n(d.OpenedFiles), n(d.AddedFiles),
    n(d.SizeOfModifiedFiles), n(d.SizeOfAddedFiles), n(d.SizeOfExaminedFiles), n(d.SizeOfOpenedFiles),
    n(d.NotProcessedFiles), n(d.AddedFolders), n(d.TooLargeFiles), n(d.FilesWithError), n(d.ModifiedFolders),
    n(d.ModifiedSymlinks), n(d.AddedSymlinks), n(d.DeletedSymlinks), b(d.PartialBackup), b(d.Dryrun),
    b(d.Interrupted), String(d.MainOperation), String(d.ParsedResult), String(d.Version ?? ""), begin, end,
    n(bs.BytesDownloaded), n(bs.KnownFileSize), n(bs.BackupListCount), new Date().toISOString(),
  ]; // prettier-ignore
}

const isUnique = (e: unknown) => (e as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE";

/** 200 stored, 409 already there (the unique index); a repeat leaves the transaction usable. */
function storeRow(row: unknown[]): number {
  try {
    insert.run(row);
    return 200;
  } catch (e) {
    if (isUnique(e)) return 409;
    throw e;
  }
}

/** A group commit: the rows in one transaction, their statuses once it is committed. */
function commitRows(rows: unknown[][]): number[] {
  db.exec("BEGIN");
  try {
    const statuses = rows.map(storeRow);
    db.exec("COMMIT");
    return statuses;
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

/** Items gathered until the current event-loop turn ends, then handed to `flush` together. */
function perTurn<T>(flush: (items: T[]) => void): (item: T) => void {
  let batch: T[] = [];
  return (item) => {
    if (batch.length === 0)
      setImmediate(() => {
        const items = batch;
        batch = [];
        flush(items);
      });
    batch.push(item);
  };
}

/** The group mode: the rows of one event-loop turn share a COMMIT; each is answered with its status after it. */
function groupCommitter(): (row: unknown[]) => Promise<number> {
  const add = perTurn<{ row: unknown[]; done: (status: number) => void }>((items) => {
    const statuses = commitRows(items.map((it) => it.row));
    items.forEach((it, i) => it.done(statuses[i]!));
  });
  return (row) => new Promise<number>((done) => add({ row, done }));
}

/** The thread mode's hand-over: rows to the worker, statuses back, matched by id. */
function threadCommitter(): (row: unknown[]) => Promise<number> {
  const worker = new Worker(__filename);
  worker.unref();
  const waiting = new Map<number, (status: number) => void>();
  let nextId = 1;
  worker.on("message", (answers: Array<[number, number]>) => {
    for (const [id, status] of answers) {
      waiting.get(id)?.(status);
      waiting.delete(id);
    }
  });
  return (row) =>
    new Promise<number>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      worker.postMessage([id, row]);
    });
}

const mode = process.env.FLOOR_MODE ?? "autocommit";
if (!isMainThread && parentPort) {
  // The thread mode's writer: what reaches it in one turn shares a COMMIT and one answer message.
  const port = parentPort;
  const add = perTurn<[number, unknown[]]>((items) => {
    const statuses = commitRows(items.map(([, row]) => row));
    port.postMessage(items.map(([id], i) => [id, statuses[i]]));
  });
  port.on("message", add);
} else {
  const store =
    mode === "group" ? groupCommitter() : mode === "thread" ? threadCommitter() : (row: unknown[]) => storeRow(row);
  const app = new Koa();
  app.use(koaBody({ json: true, jsonLimit: "5mb", urlencoded: false, text: false, multipart: false }));
  app.use(async (ctx) => {
    if (ctx.method !== "POST") {
      ctx.body = { ready: true };
      return;
    }
    const status = await store(rowOf(ctx.request.body as unknown as Report));
    ctx.status = status;
    ctx.body = status === 200 ? { success: true } : { error: "Duplicate backup" };
  });
  const server = app.listen(Number(process.env.PORT), process.env.HOST ?? "127.0.0.1");
  const stop = () =>
    server.close(() => {
      db.close();
      process.exit(0);
    });
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
