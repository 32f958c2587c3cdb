import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Client } from "pg";

/**
 * PostgreSQL mode of the test suite. When TEST_DATABASE_URL is set (a database on a server where the user may
 * CREATE DATABASE, e.g. postgres://postgres@127.0.0.1:5432/postgres), every test server gets a fresh database of
 * its own, named dstest_<random>, instead of a SQLite file: the same tests then run against PostgreSQL.
 *
 * The database belongs to the server's data folder, as the SQLite file does: its URL is written in
 * DATA_DIR/.test-database-url, so a server restarted on the same folder (or a child process spawned on it) finds
 * the same database, and the direct inspection helpers (test/support/sqlite.ts) read it. Databases are dropped
 * when the test server that made its own folder closes, and the rest at the end of the run (setup.ts).
 */

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL?.trim() || undefined;

/** True when the suite runs against PostgreSQL. */
export const postgresMode = TEST_DATABASE_URL !== undefined;

/** For `this.skip()` / pending tests that inherently need the SQLite file. */
export const SQLITE_ONLY = "needs the SQLite file (TEST_DATABASE_URL is set: the suite runs on PostgreSQL)";
export const POSTGRES_ONLY = "runs only when TEST_DATABASE_URL names a PostgreSQL server";

const MARKER = ".test-database-url";
const created = new Set<string>();

function adminUrl(): string {
  if (!TEST_DATABASE_URL) throw new Error("TEST_DATABASE_URL is not set");
  return TEST_DATABASE_URL;
}

/** The URL of a database named `name` on the TEST_DATABASE_URL server. */
export function databaseUrlFor(name: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

const databaseName = (url: string): string => decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));

async function withAdmin<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database and returns its URL. */
export async function createTestDatabase(prefix = "dstest"): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await withAdmin((c) =>
    c.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`),
  );
  const url = databaseUrlFor(name);
  created.add(url);
  return url;
}

/** Drops a database made here (connections still open to it are ended). */
export async function dropTestDatabase(url: string): Promise<void> {
  created.delete(url);
  await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${databaseName(url).replace(/"/g, '""')}" WITH (FORCE)`));
}

/** Drops every database this process made and has not dropped yet (end of the run). */
export async function dropAllTestDatabases(): Promise<void> {
  for (const url of [...created]) await dropTestDatabase(url).catch(() => undefined);
}

/** The database of a data folder, if one was made for it. */
export function databaseOfDataDir(dataDir: string): string | undefined {
  const file = path.join(dataDir, MARKER);
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : undefined;
}

/** The database of a data folder, made on first use. */
export async function ensureDataDirDatabase(dataDir: string): Promise<string> {
  const existing = databaseOfDataDir(dataDir);
  if (existing) return existing;
  const url = await createTestDatabase();
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, MARKER), url);
  return url;
}

/** Environment for a server on `dataDir`: DATABASE_URL in PostgreSQL mode, nothing otherwise. */
export async function databaseEnv(dataDir: string): Promise<Record<string, string>> {
  return postgresMode ? { DATABASE_URL: await ensureDataDirDatabase(dataDir) } : {};
}

// ─── Synchronous access for the inspection helpers ─────────────────────────────────────────────────────────────
// The specs inspect a server's database synchronously (test/support/sqlite.ts hands them better-sqlite3's API). On
// PostgreSQL the same calls go through `psql`, one process per statement: slow, but only a few per test.

function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (Buffer.isBuffer(value)) return `'\\x${value.toString("hex")}'::bytea`;
  return `'${String(value).replace(/'/g, "''")}'`;
}

/** `?` placeholders filled with SQL literals (outside quotes). */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  let i = 0;
  let out = "";
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      out += ch;
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === "?") {
      out += literal(params[i++]);
    } else {
      out += ch;
    }
  }
  return out;
}

function psql(url: string, sql: string): string {
  try {
    return execFileSync("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url], {
      input: sql,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`psql: ${e.stderr?.trim() || e.message}\n${sql}`, { cause: err });
  }
}

/** Rows of a query, as JSON objects (BIGINT as numbers, TEXT as strings, NULL as null). */
export function queryRowsSync(
  url: string,
  sql: string,
  params: readonly unknown[] = [],
): Array<Record<string, unknown>> {
  const text = inlineParams(sql.trim().replace(/;\s*$/, ""), params);
  const out = psql(url, `SELECT COALESCE(json_agg(t), '[]'::json) FROM (${text}) t;`);
  return JSON.parse(out.trim() || "[]") as Array<Record<string, unknown>>;
}

/** Runs a statement that returns no rows; returns the number of rows it changed. */
export function runSync(url: string, sql: string, params: readonly unknown[] = []): number {
  const text = inlineParams(sql.trim().replace(/;\s*$/, ""), params);
  const out = psql(url, `WITH changed AS (${text} RETURNING 1) SELECT COUNT(*) FROM changed;`);
  return Number(out.trim() || 0);
}

/** Whether a statement returns rows (SELECT, WITH … SELECT, VALUES). */
export const isQuery = (sql: string): boolean => /^\s*(SELECT|WITH|VALUES)\b/i.test(sql);
