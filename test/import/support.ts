import { createCipheriv, createHash, pbkdf2Sync, randomBytes } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { Duplistatus } from "../../server/src/app";
import { rebuildChartRollups } from "../../server/src/charts/rollups";
import { RUN_COLUMNS } from "../../server/src/core/domain";
import {
  DuplistatusImportService,
  type ImportOptions,
  type ImportSummary,
} from "../../server/src/importer/import-service";

/**
 * Helpers of the importer's tests: the original's databases (copies of ../shared/fixtures/upstream-db in
 * test/fixtures/upstream-db), a direct reader for them, and fingerprints of our database.
 */

export const FIXTURE_DIR = path.resolve(__dirname, "..", "fixtures", "upstream-db");

export interface Fixture {
  file: string;
  release: string;
  schemaVersion: string;
  /** The runs' server column in the file. */
  serverColumn: "machine_id" | "server_id";
  /** Per-job settings stored (0.6 on). */
  hasSettings: boolean;
  /** Settings store `time` in the current format (0.8 on), which is kept when it matches the latest run. */
  storesTime: boolean;
}

export const FIXTURES: Fixture[] = [
  {
    file: "backups_v0.4.0.db",
    release: "0.4.0",
    schemaVersion: "1.0",
    serverColumn: "machine_id",
    hasSettings: false,
    storesTime: false,
  },
  {
    file: "backups_v0.5.0.db",
    release: "0.5.0",
    schemaVersion: "1.0",
    serverColumn: "machine_id",
    hasSettings: false,
    storesTime: false,
  },
  {
    file: "backups_v0.6.1.db",
    release: "0.6.1",
    schemaVersion: "2.0",
    serverColumn: "machine_id",
    hasSettings: true,
    storesTime: false,
  },
  {
    file: "backups_0.7.27.db",
    release: "0.7.27",
    schemaVersion: "3.0",
    serverColumn: "server_id",
    hasSettings: true,
    storesTime: false,
  },
  {
    file: "backups_0.8.21.db",
    release: "0.8.21",
    schemaVersion: "3.1",
    serverColumn: "server_id",
    hasSettings: true,
    storesTime: true,
  },
  {
    file: "backups_1.4.2.db",
    release: "1.4.2",
    schemaVersion: "4.0",
    serverColumn: "server_id",
    hasSettings: true,
    storesTime: true,
  },
];

export const fixturePath = (file: string): string => path.join(FIXTURE_DIR, file);

// ─── better-sqlite3 on the original's files (no TypeScript types ship with it) ─────────────────────────────────

export interface RawStatement {
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): { changes: number };
}
export interface RawDatabase {
  prepare(sql: string): RawStatement;
  exec(sql: string): unknown;
  close(): void;
}
type Ctor = new (file: string, options?: { readonly?: boolean; fileMustExist?: boolean }) => RawDatabase;
const requireHere = createRequire(__filename);
export const openRaw = (file: string): RawDatabase => new (requireHere("better-sqlite3") as Ctor)(file);

export function tempDir(prefix = "duplistatus-import-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A private copy of a fixture (the originals are WAL files: reading one in place would leave -shm files behind). */
export function copyFixture(file: string, dir = tempDir()): string {
  const target = path.join(dir, file);
  fs.copyFileSync(fixturePath(file), target);
  return target;
}

/** Reads a fixture directly (on a private copy). */
export function readFixture<T>(file: string, read: (db: RawDatabase) => T): T {
  const dir = tempDir();
  const db = openRaw(copyFixture(file, dir));
  try {
    return read(db);
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Edits a private copy of a fixture; returns its path. */
export function deriveFixture(file: string, edit: (db: RawDatabase) => void, dir = tempDir()): string {
  const target = copyFixture(file, dir);
  const db = openRaw(target);
  try {
    edit(db);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  return target;
}

// ─── the original's encryption (reference §4.3), written here independently of the importer ─────────────────

/** Encrypts as the original's encryptData: PBKDF2-SHA256 (100 000, 32 bytes) per salt, AES-256-GCM, 12-byte IV. */
export function originalEncrypt(plain: string, masterKey: Buffer): string {
  const salt = randomBytes(32);
  const iv = randomBytes(12);
  const key = pbkdf2Sync(masterKey, salt, 100_000, 32, "sha256");
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const encrypted = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return [salt, iv, cipher.getAuthTag(), encrypted].map((b) => b.toString("hex")).join(":");
}

// ─── our side ───────────────────────────────────────────────────────────────────────────────────────────────────

export function importer(app: Duplistatus): DuplistatusImportService {
  const { db, clock, log, secrets, audit, events, config } = app.context;
  return new DuplistatusImportService({
    db,
    clock,
    log,
    secrets,
    audit,
    events,
    dataDir: config.dataDir,
    timeZone: config.timeZone,
  });
}

export function importFixture(
  app: Duplistatus,
  file: string,
  options: Partial<ImportOptions> = {},
): Promise<ImportSummary> {
  return importer(app).importFile(fixturePath(file), { via: "cli", fileName: file, ...options });
}

/** Row counts of the tables an import writes (the audit log, which records each attempt, aside). */
export async function tableCounts(app: Duplistatus): Promise<Record<string, number>> {
  const tables = [
    "servers",
    "backups",
    "jobs",
    "job_notification_settings",
    "configurations",
    "chart_rollups",
    "users",
  ];
  const out: Record<string, number> = {};
  await app.db.read(async (q) => {
    for (const t of tables) out[t] = Number((await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))?.n ?? 0);
  });
  return out;
}

/** SHA-256 over every run (every column, in key order), and over the other tables an import writes. */
export async function fingerprint(app: Duplistatus): Promise<Record<string, string>> {
  const queries: Record<string, string> = {
    runs: `SELECT ${RUN_COLUMNS.join(", ")} FROM backups ORDER BY server_id, backup_name, date`,
    servers: `SELECT * FROM servers ORDER BY id`,
    jobs: `SELECT * FROM jobs ORDER BY server_id, backup_name`,
    prefs: `SELECT * FROM job_notification_settings ORDER BY server_id, backup_name`,
    configurations: `SELECT * FROM configurations WHERE key <> 'last_overdue_check' ORDER BY key`,
    rollups: `SELECT * FROM chart_rollups ORDER BY granularity, bucket_start`,
  };
  const out: Record<string, string> = {};
  await app.db.read(async (q) => {
    for (const [name, sql] of Object.entries(queries)) {
      const hash = createHash("sha256");
      for (const row of await q.all<Record<string, unknown>>(sql)) hash.update(JSON.stringify(row));
      out[name] = hash.digest("hex");
    }
  });
  return out;
}

class Rollback extends Error {}

/** The chart roll-ups as stored, and as a rebuild from the runs makes them (the rebuild is rolled back). */
export async function rollupsAndRebuild(app: Duplistatus): Promise<{ stored: unknown[]; rebuilt: unknown[] }> {
  const sql = `SELECT * FROM chart_rollups ORDER BY granularity, bucket_start`;
  const stored = await app.db.read((q) => q.all(sql));
  let rebuilt: unknown[] = [];
  await app.db
    .write(async (q) => {
      await q.run(`DELETE FROM chart_rollups`);
      await rebuildChartRollups(q, app.db.dialect);
      rebuilt = await q.all(sql);
      throw new Rollback();
    })
    .catch((err: unknown) => {
      if (!(err instanceof Rollback)) throw err;
    });
  return { stored, rebuilt };
}

/** ISO 8601 UTC with milliseconds of a stored date, null kept. */
export const iso = (v: unknown): string | null =>
  v === null || v === undefined
    ? null
    : new Date(String(v).includes("T") ? String(v) : `${String(v).replace(" ", "T")}Z`).toISOString();
