import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { expect } from "chai";
import { createLogger } from "../../server/src/core/logger";
import { Database } from "../../server/src/db/database";
import { databaseOfDataDir, isQuery, postgresMode, queryRowsSync, runSync } from "./postgres";

/**
 * Direct, read-only inspection of a server's SQLite file after the server has stopped (integrity checks, columns the
 * API does not expose). better-sqlite3 ships no TypeScript types, so the few calls used here are declared locally.
 */
export interface SqliteStatement {
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
}

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  pragma(source: string): unknown;
  close(): void;
}

type SqliteConstructor = new (
  file: string,
  options?: { readonly?: boolean; fileMustExist?: boolean },
) => SqliteDatabase;

const requireFromHere = createRequire(__filename);

export function databaseFile(dataDir: string): string {
  return path.join(dataDir, "backups.db");
}

/**
 * Opens the database file of a stopped server. In PostgreSQL mode (TEST_DATABASE_URL) a folder whose server ran on
 * PostgreSQL gets the same calls answered from its database instead (see postgres.ts); SQLite's own checks
 * (integrity_check, foreign_key_check) have nothing to do there, PostgreSQL enforces both on every write.
 */
export function openDatabase(dataDir: string): SqliteDatabase {
  const pgUrl = postgresMode ? databaseOfDataDir(dataDir) : undefined;
  if (pgUrl) return postgresInspector(pgUrl);
  const Ctor = requireFromHere("better-sqlite3") as SqliteConstructor;
  return new Ctor(databaseFile(dataDir), { fileMustExist: true });
}

export function withDatabase<T>(dataDir: string, work: (db: SqliteDatabase) => T): T {
  const db = openDatabase(dataDir);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

export function count(db: SqliteDatabase, sql: string, ...params: unknown[]): number {
  const row = db.prepare(sql).get(...params) as { n: number } | undefined;
  return Number(row?.n ?? 0);
}

/**
 * The file is sound and holds no partial upload: SQLite's own integrity and foreign-key checks pass, every run has its
 * server and job, and every job's maintained state (run count, uploaded total, latest run) agrees with its runs.
 * Returns the number of runs.
 */
export function assertConsistentDatabase(dataDir: string): number {
  return withDatabase(dataDir, (db) => {
    expect(db.pragma("integrity_check"), "PRAGMA integrity_check").to.deep.equal([{ integrity_check: "ok" }]);
    expect(db.pragma("foreign_key_check"), "PRAGMA foreign_key_check").to.deep.equal([]);
    expect(
      count(db, `SELECT COUNT(*) AS n FROM backups b LEFT JOIN servers s ON s.id = b.server_id WHERE s.id IS NULL`),
      "runs without a server row",
    ).to.equal(0);
    expect(
      count(
        db,
        `SELECT COUNT(*) AS n FROM backups b LEFT JOIN jobs j ON j.server_id = b.server_id AND j.backup_name = b.backup_name
          WHERE j.server_id IS NULL`,
      ),
      "runs without a job row",
    ).to.equal(0);
    const mismatched = db
      .prepare(
        `SELECT j.server_id, j.backup_name, j.run_count, j.uploaded_total, j.latest_run_id, j.latest_date,
                (SELECT COUNT(*) FROM backups b WHERE b.server_id = j.server_id AND b.backup_name = j.backup_name) AS runs,
                (SELECT COALESCE(SUM(uploaded_size), 0) FROM backups b
                  WHERE b.server_id = j.server_id AND b.backup_name = j.backup_name) AS uploaded,
                (SELECT MAX(date) FROM backups b WHERE b.server_id = j.server_id AND b.backup_name = j.backup_name) AS max_date,
                (SELECT date FROM backups b WHERE b.id = j.latest_run_id) AS latest_run_date
           FROM jobs j`,
      )
      .all()
      .filter((row) => {
        const r = row as Record<string, unknown>;
        return (
          Number(r.run_count) !== Number(r.runs) ||
          Number(r.uploaded_total) !== Number(r.uploaded) ||
          r.latest_date !== r.max_date ||
          r.latest_run_date !== r.max_date
        );
      });
    expect(mismatched, "jobs whose state disagrees with their runs").to.deep.equal([]);
    expect(
      count(
        db,
        `SELECT COUNT(*) AS n FROM servers s WHERE NOT EXISTS (SELECT 1 FROM backups b WHERE b.server_id = s.id)`,
      ),
      "servers without any run (a partial upload)",
    ).to.equal(0);
    return count(db, `SELECT COUNT(*) AS n FROM backups`);
  });
}

function postgresInspector(url: string): SqliteDatabase {
  const statement = (sql: string) => ({
    all: (...params: unknown[]) => (isQuery(sql) ? queryRowsSync(url, sql, params) : (runSync(url, sql, params), [])),
    get: (...params: unknown[]) => queryRowsSync(url, sql, params)[0],
    run: (...params: unknown[]) => ({ changes: runSync(url, sql, params) }),
  });
  return {
    prepare: statement,
    pragma(source: string) {
      const name = source.trim().toLowerCase();
      if (name === "integrity_check") return [{ integrity_check: "ok" }];
      if (name === "foreign_key_check") return [];
      throw new Error(`PRAGMA ${source}: SQLite only (the server ran on PostgreSQL)`);
    },
    close: () => undefined,
  };
}

/**
 * The WAL bound tests (wal-bound.ts): opens the SQLite file `file` as the live database (background checkpointer on)
 * with a WAL bound of `boundBytes`, runs `rounds` steps of writes on it, and returns the database and the largest
 * size its WAL file reached after any step.
 */
export async function largestWalUnderBound(
  file: string,
  boundBytes: number,
  rounds: number,
  step: (db: Database, round: number) => Promise<unknown>,
): Promise<{ db: Database; largest: number }> {
  const log = createLogger("silent");
  const db = await Database.open(
    { sqliteFile: file, synchronous: "NORMAL", cacheMb: 8, backgroundCheckpoint: true, walBoundBytes: boundBytes },
    log,
  );
  let largest = 0;
  for (let round = 0; round < rounds; round++) {
    await step(db, round);
    largest = Math.max(largest, fs.statSync(`${file}-wal`).size);
  }
  return { db, largest };
}
