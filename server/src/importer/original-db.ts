import fs from "node:fs";
import path from "node:path";
import { readHead } from "../admin/restore-format";
import {
  SQLITE_FILE_HEADER,
  type SqliteConnection,
  openSqliteFile,
  sqliteIntegrityProblems,
  sqliteTableNames,
} from "../db/dialect";

/**
 * Reading a database of the original duplistatus, whatever version wrote it. The file is copied into a scratch
 * folder first (with its -wal, which holds commits not yet checkpointed) and only the copy is opened: the original
 * may keep its file open, and its WAL-mode files cannot be read in a read-only folder without SQLite's -shm.
 */

/** The file is not an original duplistatus database we can read: the caller's input, not our failure. */
export class ImportRefusedError extends Error {}

/**
 * The database layouts the original has shipped. Its `db_version` table names the schema (none before 0.6). The
 * reader goes by the tables and columns actually present, so a file between or after these reads the same way;
 * the entry only says what the file is and what it cannot carry.
 */
export const ORIGINAL_SCHEMAS: Record<string, { releases: string; lacks: string[] }> = {
  // 0.4.x, 0.5.x: `machines`, runs keyed by machine_id, no configurations, no available versions stored.
  "1.0": { releases: "0.5.x or earlier", lacks: ["settings (none stored before 0.6)", "stored available versions"] },
  // 0.6.x: adds available_backups and `configurations` (ntfy and templates bundled under `notifications`; per-job
  // settings keyed by machine name, interval as {expectedInterval: <number>, intervalUnit}).
  "2.0": { releases: "0.6.x", lacks: ["server alias, note and Duplicati address (added in 0.7)"] },
  // 0.7.x: `servers` (alias, note, server_url), runs keyed by server_id; per-job settings keyed by server id.
  "3.0": { releases: "0.7.x", lacks: ["server passwords (added in 0.8)"] },
  // 0.8.x: server_password; ntfy_config, notification_templates, notification_frequency; interval strings ("1D").
  "3.1": { releases: "0.8.x", lacks: [] },
  // 0.9 – 1.4.x: users, sessions, audit_log; smtp_config, audit_retention_days; template language.
  "4.0": { releases: "0.9 – 1.4.x", lacks: [] },
};

export interface SourceLayout {
  /** From `db_version` ("1.0" when the file has none, as the original itself assumes). */
  schemaVersion: string;
  /** e.g. "schema 3.1 (duplistatus 0.8.x)". */
  description: string;
  serversTable: "servers" | "machines";
  /** The runs' server column: machine_id before 0.7. */
  serverIdColumn: "server_id" | "machine_id";
  serverColumns: ReadonlySet<string>;
  runColumns: ReadonlySet<string>;
  hasConfigurations: boolean;
  /** Every table of the file (to report what is left behind). */
  tables: readonly string[];
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function columns(conn: SqliteConnection, table: string): Set<string> {
  const rows = conn.prepare(`PRAGMA table_info(${quote(table)})`).all() as Array<{ name: string }>;
  return new Set(rows.map((r) => r.name));
}

/** The newest schema version recorded in db_version (versions compare as major.minor numbers). */
function recordedVersion(conn: SqliteConnection, tables: ReadonlySet<string>): string | null {
  if (!tables.has("db_version")) return null;
  const rows = conn.prepare(`SELECT version FROM db_version`).all() as Array<{ version: unknown }>;
  const versions = rows.map((r) => String(r.version)).filter((v) => /^\d+(\.\d+)?$/.test(v));
  const key = (v: string): number => {
    const [major = 0, minor = 0] = v.split(".").map(Number);
    return major * 1000 + minor;
  };
  return versions.sort((a, b) => key(b) - key(a))[0] ?? null;
}

/** Throws ImportRefusedError unless the file has the tables and columns every version of the original has. */
export function detectLayout(conn: SqliteConnection): SourceLayout {
  const tableList = sqliteTableNames(conn);
  const tables = new Set(tableList);
  if (tables.has("migrations") && tables.has("jobs") && tables.has("chart_rollups")) {
    throw new ImportRefusedError(
      "this is a database of this duplistatus (not of the original one): restore it with POST /api/database/restore instead",
    );
  }
  const serversTable = tables.has("servers") ? "servers" : tables.has("machines") ? "machines" : null;
  if (!tables.has("backups") || !serversTable) {
    throw new ImportRefusedError(
      "not a duplistatus database: it has no backups and servers (or machines) tables" +
        (tableList.length > 0 ? ` (tables: ${tableList.slice(0, 8).join(", ")})` : " (it has no tables)"),
    );
  }
  const runColumns = columns(conn, "backups");
  const serverColumns = columns(conn, serversTable);
  const serverIdColumn = runColumns.has("server_id") ? "server_id" : runColumns.has("machine_id") ? "machine_id" : null;
  const missing = ["id", "backup_name", "date", "status"].filter((c) => !runColumns.has(c));
  if (!serverIdColumn || missing.length > 0 || !serverColumns.has("id") || !serverColumns.has("name")) {
    const what = [...(serverIdColumn ? [] : ["server_id"]), ...missing].join(", ") || `${serversTable}.id/name`;
    throw new ImportRefusedError(`not a duplistatus database: the backups table lacks ${what}`);
  }
  const schemaVersion = recordedVersion(conn, tables) ?? "1.0";
  const known = ORIGINAL_SCHEMAS[schemaVersion];
  return {
    schemaVersion,
    description: known
      ? `schema ${schemaVersion} (duplistatus ${known.releases})`
      : `schema ${schemaVersion} (not a version this importer knows; read by its tables and columns)`,
    serversTable,
    serverIdColumn,
    serverColumns,
    runColumns,
    hasConfigurations: tables.has("configurations"),
    tables: tableList,
  };
}

export type SourceRow = Record<string, unknown>;

export class OriginalDatabase {
  private constructor(
    private readonly conn: SqliteConnection,
    readonly layout: SourceLayout,
  ) {}

  /**
   * Copies `file` into `scratchDir` and opens the copy. Refuses (ImportRefusedError) a file that is not SQLite,
   * fails SQLite's integrity check, or is not a database of the original duplistatus.
   */
  static open(file: string, scratchDir: string): OriginalDatabase {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new ImportRefusedError(`${file}: no such file`);
    }
    if (!stat.isFile()) throw new ImportRefusedError(`${file} is not a file`);
    if (!readHead(file, SQLITE_FILE_HEADER.length).equals(SQLITE_FILE_HEADER)) {
      throw new ImportRefusedError("not an SQLite database (the file does not start with the SQLite header)");
    }
    const copy = path.join(scratchDir, "original.db");
    fs.copyFileSync(file, copy);
    if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);

    let conn: SqliteConnection;
    try {
      conn = openSqliteFile(copy, { readonly: false });
    } catch (err) {
      throw new ImportRefusedError(`the file cannot be opened as an SQLite database: ${messageOf(err)}`);
    }
    try {
      let problems: string[];
      try {
        problems = sqliteIntegrityProblems(conn);
      } catch (err) {
        throw new ImportRefusedError(`the file is damaged: ${messageOf(err)}`);
      }
      if (problems.length > 0) {
        throw new ImportRefusedError(`the file is damaged (SQLite's integrity check failed: ${problems.join("; ")})`);
      }
      return new OriginalDatabase(conn, detectLayout(conn));
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  servers(): SourceRow[] {
    return this.conn.prepare(`SELECT * FROM ${quote(this.layout.serversTable)} ORDER BY rowid`).all() as SourceRow[];
  }

  runCount(): number {
    return Number((this.conn.prepare(`SELECT COUNT(*) AS n FROM backups`).get() as { n: number }).n);
  }

  /** Every run, in the order they were stored (the first of two runs with the same job and date wins). */
  runs(): IterableIterator<SourceRow> {
    return this.conn.prepare(`SELECT * FROM backups ORDER BY rowid`).iterate() as IterableIterator<SourceRow>;
  }

  /** The `configurations` key/value rows (empty before 0.6). */
  configuration(): Map<string, string> {
    if (!this.layout.hasConfigurations) return new Map();
    const rows = this.conn.prepare(`SELECT key, value FROM configurations`).all() as Array<{
      key: unknown;
      value: unknown;
    }>;
    return new Map(rows.filter((r) => typeof r.value === "string").map((r) => [String(r.key), r.value as string]));
  }

  rowCount(table: string): number {
    return Number((this.conn.prepare(`SELECT COUNT(*) AS n FROM ${quote(table)}`).get() as { n: number }).n);
  }

  close(): void {
    this.conn.close();
  }
}
