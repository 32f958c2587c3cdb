/**
 * THE DIALECT MODULE: the only place where SQLite and PostgreSQL differ. Everything else writes portable SQL with
 * `?` placeholders (ON CONFLICT, RETURNING-free upserts, ISO-8601 text timestamps) and asks this module for the rest.
 */
import { createRequire } from "node:module";

export type DialectKind = "sqlite" | "postgres";

export interface Dialect {
  readonly kind: DialectKind;
  /** Rewrites `?` placeholders into the driver's form (PostgreSQL wants $1, $2…). */
  sql(text: string): string;
  /** Row lock for read-modify-write inside a transaction (SQLite serialises writers, so nothing to add). */
  readonly forUpdate: string;
  /** SQL that lists the user tables, one column `name`. */
  readonly listTablesSql: string;
  /** Statements run on every new connection. */
  readonly connectionSetup: string[];
}

export interface SqliteTuning {
  synchronous: "NORMAL" | "FULL";
  cacheMb: number;
  busyTimeoutMs: number;
}

/** SQLite's automatic checkpoint threshold, in pages (see connectionSetup); also the background checkpointer's fallback. */
export const SQLITE_AUTOCHECKPOINT_PAGES = 4000;

/**
 * The size the WAL file is cut back to when SQLite starts it over (journal_size_limit), and the default size past
 * which a connection that writes without pause checkpoints it itself (see wal-bound.ts). Without a limit the file
 * keeps the size of its largest burst until the last connection closes.
 */
export const SQLITE_JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export function sqliteDialect(tuning: SqliteTuning): Dialect {
  return {
    kind: "sqlite",
    sql: (text) => text,
    forUpdate: "",
    listTablesSql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    // WAL lets readers run beside the writer; NORMAL sync in WAL mode loses nothing on a process crash (only an OS
    // crash or power loss can drop the last commits; SQLITE_SYNCHRONOUS=FULL closes that too, at an fsync per upload).
    connectionSetup: [
      "PRAGMA journal_mode = WAL",
      `PRAGMA synchronous = ${tuning.synchronous}`,
      `PRAGMA busy_timeout = ${tuning.busyTimeoutMs}`,
      `PRAGMA cache_size = -${tuning.cacheMb * 1024}`,
      "PRAGMA temp_store = MEMORY",
      "PRAGMA foreign_keys = ON",
      // Checkpoint every 4000 pages (16 MB of WAL) instead of SQLite's 1000: a page rewritten by many uploads in
      // between (job rows, index leaves, roll-ups) is copied back once, and checkpoints (each with two fsyncs) run a
      // quarter as often. Measured over 10,000 uploads: 114 instead of 429 fsyncs, 31k instead of 49k page reads.
      `PRAGMA wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`,
      `PRAGMA journal_size_limit = ${SQLITE_JOURNAL_SIZE_LIMIT_BYTES}`,
    ],
  };
}

export function postgresDialect(): Dialect {
  return {
    kind: "postgres",
    sql: postgresPlaceholders,
    forUpdate: " FOR UPDATE",
    listTablesSql:
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
    connectionSetup: [],
  };
}

// ─── SQLite maintenance: online backup, SQL dump, integrity checks, contents replacement ─────────────────────────
// These talk to better-sqlite3 directly: none of them has a portable form, so they live here and nowhere else.
// better-sqlite3 ships no TypeScript types; the few calls used are declared below.

export interface SqliteStatement {
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): { changes: number };
  iterate(...params: unknown[]): IterableIterator<unknown>;
  raw(toggle?: boolean): SqliteStatement;
  safeIntegers(toggle?: boolean): SqliteStatement;
  columns(): Array<{ name: string }>;
}

/** A better-sqlite3 connection (the live one behind TypeORM, or one opened here on another file). */
export interface SqliteConnection {
  readonly inTransaction: boolean;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  backup(file: string): Promise<unknown>;
  close(): unknown;
}

export function isSqliteConnection(value: unknown): value is SqliteConnection {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.prepare === "function" && typeof v.exec === "function" && typeof v.backup === "function";
}

/** The first 16 bytes of every SQLite 3 database file. */
export const SQLITE_FILE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

type SqliteConstructor = new (file: string, options: { readonly: boolean; fileMustExist: boolean }) => SqliteConnection;
const requireHere = createRequire(__filename);

/** Opens another SQLite file (an uploaded database, a scratch file). `readonly` also requires that it exists. */
export function openSqliteFile(file: string, options: { readonly: boolean }): SqliteConnection {
  const Ctor = requireHere("better-sqlite3") as SqliteConstructor;
  return new Ctor(file, { readonly: options.readonly, fileMustExist: options.readonly });
}

/**
 * SQLite's online backup of `conn`'s main database into `file`. It copies a few pages per event-loop turn, so other
 * work goes on meanwhile; pages changed through this same connection are folded into the copy (a step that meets
 * an open write transaction is retried on the next turn), so the result is a consistent snapshot.
 */
export async function sqliteOnlineBackup(conn: SqliteConnection, file: string): Promise<void> {
  await conn.backup(file);
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** `PRAGMA integrity_check` of one schema: [] when sound, otherwise SQLite's messages (at most 10). */
export function sqliteIntegrityProblems(conn: SqliteConnection, schema = "main"): string[] {
  const rows = conn
    .prepare(`PRAGMA ${quoteIdent(schema)}.integrity_check(10)`)
    .raw(true)
    .all() as unknown[][];
  const messages = rows.map((r) => String(r[0]));
  return messages.length === 1 && messages[0] === "ok" ? [] : messages;
}

/** The user tables of a schema, in creation order (sqlite_* internals excluded). */
export function sqliteTableNames(conn: SqliteConnection, schema = "main"): string[] {
  const rows = conn
    .prepare(
      `SELECT name FROM ${quoteIdent(schema)}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid`,
    )
    .raw(true)
    .all() as unknown[][];
  return rows.map((r) => String(r[0]));
}

function columnNames(conn: SqliteConnection, schema: string, table: string): string[] {
  const rows = conn.prepare(`PRAGMA ${quoteIdent(schema)}.table_info(${quoteIdent(table)})`).all();
  return (rows as Array<{ name: string }>).map((r) => r.name);
}

/** One SQL literal for a value read with safeIntegers (integers arrive as bigint, so every number is a REAL). */
function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NULL";
    if (!Number.isFinite(value)) return value > 0 ? "9e999" : "-9e999";
    const text = String(value);
    // "3" would come back as an INTEGER in a column without REAL affinity; "3.0" stays a REAL.
    return /[.eE]/.test(text) ? text : `${text}.0`;
  }
  if (typeof value === "string") {
    // SQLite's tokenizer stops at a NUL character, so such (rare) text goes in as UTF-8 bytes.
    if (value.includes("\0")) return `CAST(X'${Buffer.from(value, "utf8").toString("hex")}' AS TEXT)`;
    return `'${value.replace(/'/g, "''")}'`;
  }
  if (Buffer.isBuffer(value)) return `X'${value.toString("hex")}'`;
  throw new Error(`unexpected SQLite value of type ${typeof value}`);
}

/**
 * An SQL text dump of `conn`'s main database: BEGIN TRANSACTION; each table's CREATE statement followed by one
 * INSERT per row; then the indexes, views and triggers; COMMIT;. Everything is read inside one read transaction,
 * so the dump is a consistent snapshot even while another connection writes. `write` receives chunks of text and
 * may wait (back-pressure).
 */
export async function sqliteDump(
  conn: SqliteConnection,
  write: (text: string) => Promise<void>,
): Promise<{ tables: number; rows: number }> {
  const CHUNK = 256 * 1024;
  let buffer = "";
  const emit = async (line: string): Promise<void> => {
    buffer += line;
    if (buffer.length >= CHUNK) {
      const out = buffer;
      buffer = "";
      await write(out);
    }
  };
  let rows = 0;
  conn.exec("BEGIN");
  try {
    const objects = conn
      .prepare(
        `SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid`,
      )
      .all() as Array<{ type: string; name: string; sql: string }>;
    const tables = objects.filter((o) => o.type === "table");
    await emit("BEGIN TRANSACTION;\n");
    for (const table of tables) {
      await emit(`${table.sql};\n`);
      const select = conn
        .prepare(`SELECT * FROM ${quoteIdent(table.name)}`)
        .raw(true)
        .safeIntegers(true);
      const columns = select
        .columns()
        .map((c) => quoteIdent(c.name))
        .join(", ");
      const prefix = `INSERT INTO ${quoteIdent(table.name)} (${columns}) VALUES (`;
      for (const row of select.iterate()) {
        await emit(`${prefix}${(row as unknown[]).map(sqlLiteral).join(", ")});\n`);
        rows++;
      }
    }
    for (const other of objects.filter((o) => o.type !== "table")) await emit(`${other.sql};\n`);
    await emit("COMMIT;\n");
    if (buffer) await write(buffer);
    return { tables: tables.length, rows };
  } finally {
    conn.exec("COMMIT");
  }
}

/**
 * Runs already-split statements into a scratch database in one transaction, with foreign keys off (a dump lists
 * tables in creation order, not in dependency order; references are checked when the data is restored).
 */
export function sqliteRunStatements(conn: SqliteConnection, statements: Iterable<string>): number {
  conn.exec("PRAGMA foreign_keys = OFF");
  conn.exec("BEGIN");
  let count = 0;
  try {
    for (const sql of statements) {
      conn.prepare(sql).run();
      count++;
    }
    conn.exec("COMMIT");
    return count;
  } catch (err) {
    if (conn.inTransaction) conn.exec("ROLLBACK");
    throw err;
  }
}

/** The source's rows do not fit the live schema (a constraint, a foreign key, or the integrity check failed). */
export class RejectedDataError extends Error {}

const sqliteCode = (err: unknown): string => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
};

/**
 * Whether an error comes from the machine (disk full, I/O, out of memory, permissions) rather than from the file
 * being read: the former is our fault (500), the latter the file's (400).
 */
export function isSqliteEnvironmentError(err: unknown): boolean {
  return /^SQLITE_(FULL|IOERR|NOMEM|CANTOPEN|READONLY|PERM|BUSY|LOCKED)/.test(sqliteCode(err));
}

/** What a contents replacement does with each live table; every other one takes the source's rows. */
export interface ReplacePlan {
  /** Live tables left exactly as they are (e.g. the migrations record, the audit trail). */
  keep: ReadonlySet<string>;
  /** Live tables emptied and not refilled (e.g. sessions). */
  clear: ReadonlySet<string>;
}

export interface ReplaceOutcome {
  copied: Array<{ table: string; rows: number }>;
  cleared: string[];
  kept: string[];
}

/**
 * Replaces the rows of `conn`'s main database with those of `sourceFile`, in one transaction: the source is
 * ATTACHed, each table both have is emptied and refilled with the columns both have (a live table the source lacks
 * keeps its rows), and the result must pass
 * `integrity_check` and `foreign_key_check` before COMMIT — otherwise everything is rolled back and the live
 * database is untouched. The schema itself (and so its migrations) stays the live one. Must be called outside
 * any transaction (ATTACH and PRAGMA foreign_keys do not work inside one) with no other use of `conn` meanwhile.
 */
export function sqliteReplaceContents(conn: SqliteConnection, sourceFile: string, plan: ReplacePlan): ReplaceOutcome {
  const SOURCE = "restore_source";
  conn.prepare(`ATTACH DATABASE ? AS ${SOURCE}`).run(sourceFile);
  const fkRow = conn.prepare("PRAGMA foreign_keys").raw(true).get() as unknown[] | undefined;
  const foreignKeysWereOn = Number(fkRow?.[0] ?? 0) === 1;
  try {
    conn.exec("PRAGMA foreign_keys = OFF");
    const sourceTables = new Set(sqliteTableNames(conn, SOURCE));
    const outcome: ReplaceOutcome = { copied: [], cleared: [], kept: [] };
    conn.exec("BEGIN IMMEDIATE");
    try {
      for (const table of sqliteTableNames(conn, "main")) {
        const target = `main.${quoteIdent(table)}`;
        if (plan.keep.has(table)) {
          outcome.kept.push(table);
        } else if (plan.clear.has(table)) {
          conn.prepare(`DELETE FROM ${target}`).run();
          outcome.cleared.push(table);
        } else if (sourceTables.has(table)) {
          const sourceColumns = new Set(columnNames(conn, SOURCE, table));
          const columns = columnNames(conn, "main", table)
            .filter((c) => sourceColumns.has(c))
            .map(quoteIdent)
            .join(", ");
          conn.prepare(`DELETE FROM ${target}`).run();
          const { changes } = conn
            .prepare(`INSERT INTO ${target} (${columns}) SELECT ${columns} FROM ${SOURCE}.${quoteIdent(table)}`)
            .run();
          outcome.copied.push({ table, rows: changes });
        } else {
          outcome.kept.push(table);
        }
      }
      const problems = sqliteIntegrityProblems(conn, "main");
      if (problems.length > 0) {
        throw new RejectedDataError(`integrity check failed after copying: ${problems.join("; ")}`);
      }
      const violations = conn.prepare("PRAGMA main.foreign_key_check").all();
      if (violations.length > 0) throw new RejectedDataError(`${violations.length} foreign key violation(s)`);
      conn.exec("COMMIT");
      return outcome;
    } catch (err) {
      if (conn.inTransaction) conn.exec("ROLLBACK");
      if (sqliteCode(err).startsWith("SQLITE_CONSTRAINT")) throw new RejectedDataError((err as Error).message);
      throw err;
    }
  } finally {
    if (foreignKeysWereOn) conn.exec("PRAGMA foreign_keys = ON");
    conn.exec(`DETACH DATABASE ${SOURCE}`);
  }
}

// ─── SQLite statement execution for the units of work ──────────────────────────────────────────────────────────
// Database.read/write run their statements here, on the live better-sqlite3 connection, instead of through
// TypeORM's query runner, which wraps every statement in several awaits (subscriber broadcasts, connect, a result
// wait) and allocations. An upload runs a dozen statements in two or three units of work, a read endpoint two or
// three: same statements, same parameters, same cache of prepared statements; only the bookkeeping is gone.

/** A prepared statement as the executor uses it (`reader`: it returns rows). */
interface PreparedStatement {
  readonly reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}

export interface SqliteExecutor {
  /** The connection the statements are prepared on (checked by the caller, which may outlive a reconnect). */
  readonly connection: SqliteConnection;
  /** Runs one statement: the rows of a statement that returns rows, otherwise the number of rows changed. */
  execute(sql: string, params: readonly unknown[]): { rows: unknown[] | undefined; changes: number };
  begin(): void;
  commit(): void;
  rollback(): void;
  /** Savepoints around one unit of a group commit (see Database.write): its work undone alone when it fails. */
  savepoint(): void;
  releaseSavepoint(): void;
  rollbackToSavepoint(): void;
}

/** Statement executor over a better-sqlite3 connection, with a FIFO cache of prepared statements. */
export function sqliteExecutor(conn: SqliteConnection, cacheSize = 200): SqliteExecutor {
  const cache = new Map<string, PreparedStatement>();
  const prepare = (sql: string): PreparedStatement => {
    let stmt = cache.get(sql);
    if (stmt === undefined) {
      stmt = conn.prepare(sql) as unknown as PreparedStatement;
      cache.set(sql, stmt);
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
    }
    return stmt;
  };
  // better-sqlite3 cannot bind booleans: 0/1, as TypeORM's runner did.
  const toSqlite = (v: unknown): unknown => (typeof v === "boolean" ? (v ? 1 : 0) : v);
  const bind = (params: readonly unknown[]): unknown[] =>
    params.some((p) => typeof p === "boolean") ? params.map(toSqlite) : (params as unknown[]);
  const begin = conn.prepare("BEGIN TRANSACTION");
  const commit = conn.prepare("COMMIT");
  const rollback = conn.prepare("ROLLBACK");
  const savepoint = conn.prepare("SAVEPOINT unit");
  const release = conn.prepare("RELEASE unit");
  const rollbackTo = conn.prepare("ROLLBACK TO unit");
  return {
    connection: conn,
    execute(sql, params) {
      const stmt = prepare(sql);
      if (stmt.reader) return { rows: stmt.all(...bind(params)), changes: 0 };
      return { rows: undefined, changes: stmt.run(...bind(params)).changes };
    },
    begin: () => void begin.run(),
    commit: () => void commit.run(),
    rollback: () => void rollback.run(),
    savepoint: () => void savepoint.run(),
    releaseSavepoint: () => void release.run(),
    rollbackToSavepoint: () => void rollbackTo.run(),
  };
}

// ─── Time buckets for the chart data (server/src/charts) ───────────────────────────────────────────────────────
// Runs store `date` as ISO-8601 UTC text with milliseconds ("2025-04-21T23:45:46.971Z"). A bucket is named by its
// start, in the same form, so bucket keys sort and compare as text. Weeks start on Monday 00:00 UTC (ISO weeks).

export type TimeBucket = "minute" | "hour" | "day" | "week";

/**
 * SQL expression for the start of the `bucket` containing the ISO-8601 UTC text timestamp in `column`, as ISO-8601
 * UTC text with milliseconds ("2025-04-21T23:00:00.000Z"). Must agree with charts/buckets.ts `bucketStartMs`.
 */
export function bucketStartSql(kind: DialectKind, bucket: TimeBucket, column: string): string {
  if (kind === "postgres") {
    const ts = `((${column})::timestamptz AT TIME ZONE 'UTC')`;
    // date_trunc('week', …) starts weeks on Monday, as ISO 8601 does.
    return `to_char(date_trunc('${bucket}', ${ts}), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  }
  switch (bucket) {
    // The text is canonical (toISOString), so minute, hour and day starts are prefixes of it.
    case "minute":
      return `(substr(${column}, 1, 16) || ':00.000Z')`;
    case "hour":
      return `(substr(${column}, 1, 13) || ':00:00.000Z')`;
    case "day":
      return `(substr(${column}, 1, 10) || 'T00:00:00.000Z')`;
    case "week":
      // 'weekday 0' moves forward to the next Sunday (or stays on one); six days back is that week's Monday.
      return `(date(substr(${column}, 1, 10), 'weekday 0', '-6 days') || 'T00:00:00.000Z')`;
  }
}

/**
 * SQL returning one column `version`: a value that changes whenever the database may have changed (a write through
 * this connection, even one rolled back, or a commit by another connection), so a read result can be reused while
 * it stays the same. Null where there is no cheap and exact one (PostgreSQL): callers then do not reuse results.
 */
export function dataVersionSql(kind: DialectKind): string | null {
  if (kind === "postgres") return null;
  return "SELECT total_changes() || ':' || (SELECT data_version FROM pragma_data_version) AS version";
}

// ─── PostgreSQL ────────────────────────────────────────────────────────────────────────────────────────────────
// What only PostgreSQL needs: placeholders, value types, the retryable errors, advisory locks and a dedicated
// session (the leader lease and the event relay hold one connection of their own, outside the pool).

const placeholderCache = new Map<string, string>();

/**
 * `?` → `$1, $2…`, leaving alone a `?` inside a string literal, a quoted identifier or a comment. Cached: the
 * application's statements are a few hundred constant strings.
 */
export function postgresPlaceholders(text: string): string {
  const cached = placeholderCache.get(text);
  if (cached !== undefined) return cached;
  let out = "";
  let n = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      const stop = end === -1 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      const stop = end === -1 ? text.length : end;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === "?") {
      out += `$${++n}`;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  if (placeholderCache.size < 2_000) placeholderCache.set(text, out);
  return out;
}

const NUL = String.fromCharCode(0);
const needsBinding = (v: unknown): boolean => typeof v === "boolean" || (typeof v === "string" && v.includes(NUL));

/**
 * Parameters for node-postgres: booleans become 0/1 as on SQLite (the schema's flags are integers), and NUL
 * characters, which PostgreSQL text cannot hold (SQLite can), become U+FFFD: a report or a lookup carrying one is
 * stored or answered instead of failing with an encoding error.
 */
export function postgresParams(params: readonly unknown[]): unknown[] {
  if (!params.some(needsBinding)) return [...params];
  return params.map((v) =>
    typeof v === "boolean" ? (v ? 1 : 0) : typeof v === "string" ? v.replaceAll(NUL, "\ufffd") : v,
  );
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * node-postgres type parsers for the pool: BIGINT (COUNT, SUM of integers, the counters) and NUMERIC (SUM of
 * BIGINT) come back as JS numbers, as SQLite returns them, instead of strings. Values beyond 2^53 lose precision
 * exactly as they do on SQLite's side of the driver.
 */
export const postgresTypes = {
  getTypeParser(oid: number, format?: "text" | "binary"): (value: string) => unknown {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => (value === null ? null : Number(value));
    return pgTypes().getTypeParser(oid, format ?? "text") as (value: string) => unknown;
  },
};

let pgModule: typeof import("pg") | undefined;
const loadPg = (): typeof import("pg") => (pgModule ??= requireHere("pg") as typeof import("pg"));
const pgTypes = () => loadPg().types as unknown as { getTypeParser(oid: number, format: string): unknown };

/** SQLSTATEs after which a unit of work can simply run again: serialization_failure, deadlock_detected. */
export function isRetryablePostgresError(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return code === "40001" || code === "40P01";
}

/** SQLSTATE class 23 (integrity constraint violation: not null, foreign key, unique, check). */
export function isConstraintViolation(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === "string" && code.startsWith("23");
}

/** SQLSTATE unique_violation (a concurrent insert of the same key that ON CONFLICT could not absorb). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  return (e?.driverError?.code ?? e?.code) === "23505";
}

/**
 * A stable 64-bit advisory-lock key for a name (so every instance maps "overdue-check" to the same lock), as a
 * decimal literal for SQL.
 */
export function advisoryKey(name: string): string {
  // FNV-1a, 64-bit, on the UTF-8 bytes of "duplistatus:<name>"; signed, as PostgreSQL's bigint.
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(`duplistatus:${name}`, "utf8")) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return BigInt.asIntN(64, h).toString();
}

/** Session-level lock around the migrations (see Database.open). */
export const POSTGRES_MIGRATION_LOCK = {
  lock: `SELECT pg_advisory_lock(${advisoryKey("migrations")})`,
  unlock: `SELECT pg_advisory_unlock(${advisoryKey("migrations")})`,
};

/**
 * SQL that makes the rest of the current transaction exclusive among all instances for `name` (PostgreSQL: a
 * transaction-level advisory lock, released at COMMIT or ROLLBACK), or null where writers are serialised anyway
 * (SQLite: one writer at a time, and one process). E.g. two instances running the overdue check at once: the
 * second waits, then sees the first one's records and does not notify again.
 */
export function exclusiveSectionSql(kind: DialectKind, name: string): string | null {
  return kind === "postgres" ? `SELECT pg_advisory_xact_lock(${advisoryKey(name)})` : null;
}

/** One PostgreSQL connection of its own (not from the pool): advisory locks held across transactions, LISTEN. */
export interface PostgresSession {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** NOTIFY payloads of the channels LISTENed to. */
  onNotification(handler: (channel: string, payload: string) => void): void;
  /** The connection broke (server restart, network, terminated backend). */
  onError(handler: (err: Error) => void): void;
  close(): Promise<void>;
}

export async function openPostgresSession(url: string, applicationName = "duplistatus"): Promise<PostgresSession> {
  const { Client } = loadPg();
  const client = new Client({ connectionString: url, application_name: applicationName, types: postgresTypes });
  const errorHandlers: Array<(err: Error) => void> = [];
  let failed = false;
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    for (const h of errorHandlers) h(err);
  };
  client.on("error", fail);
  client.on("end", () => fail(new Error("connection ended")));
  await client.connect();
  return {
    async query<T>(sql: string, params: readonly unknown[] = []) {
      const res = await client.query(postgresPlaceholders(sql), postgresParams(params));
      return res.rows as T[];
    },
    onNotification(handler) {
      client.on("notification", (msg) => handler(msg.channel, msg.payload ?? ""));
    },
    onError(handler) {
      errorHandlers.push(handler);
    },
    async close() {
      failed = true;
      await client.end().catch(() => undefined);
    },
  };
}

// ─── Schema introspection (the table copy of db/copy.ts: migration tool, PostgreSQL backup and restore) ────────

/** SQL listing a table's columns in order: one column `name`; one parameter, the table name. */
export function listColumnsSql(kind: DialectKind): string {
  return kind === "postgres"
    ? "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
    : "SELECT name FROM pragma_table_info(?) ORDER BY cid";
}

/** SQL listing a table's primary-key columns in key order: one column `name`; one parameter, the table name. */
export function primaryKeySql(kind: DialectKind): string {
  return kind === "postgres"
    ? `SELECT a.attname AS name FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
        WHERE i.indrelid = to_regclass(?) AND i.indisprimary
        ORDER BY array_position(i.indkey::int2[], a.attnum)`
    : "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk";
}

/** SQL listing the foreign keys between user tables: columns `child` and `parent`. */
export function foreignKeysSql(kind: DialectKind): string {
  return kind === "postgres"
    ? `SELECT DISTINCT tc.table_name AS child, ccu.table_name AS parent
         FROM information_schema.table_constraints tc
         JOIN information_schema.constraint_column_usage ccu
           ON ccu.constraint_name = tc.constraint_name AND ccu.constraint_schema = tc.constraint_schema
        WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()`
    : `SELECT DISTINCT m.name AS child, f."table" AS parent
         FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f
        WHERE m.type = 'table'`;
}

/**
 * Statements to run after rows with explicit ids went into `table`, so the next generated id follows them
 * (PostgreSQL identity columns; SQLite's AUTOINCREMENT keeps track by itself). One parameter: the table name.
 */
export function identityColumnsSql(kind: DialectKind): string | null {
  return kind === "postgres"
    ? "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND is_identity = 'YES'"
    : null;
}

export function resetIdentitySql(table: string, column: string): string {
  const t = quoteIdent(table);
  const c = quoteIdent(column);
  return `SELECT setval(pg_get_serial_sequence('${t.replace(/'/g, "''")}', '${column.replace(/'/g, "''")}'), COALESCE((SELECT MAX(${c}) FROM ${t}), 0) + 1, false)`;
}

/** The database's collation, when it is not byte order (C/POSIX): text would sort differently from SQLite. */
export function postgresCollationSql(): string {
  return "SELECT datcollate AS collate FROM pg_database WHERE datname = current_database()";
}
