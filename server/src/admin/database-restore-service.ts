import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { AuditActor, AuditService } from "../audit/audit-service";
import type { SessionAndTokenPolicy } from "../auth/access-policy";
import type { Clock } from "../core/clock";
import { HttpError } from "../core/errors";
import type { Logger } from "../core/logger";
import { Database } from "../db/database";
import {
  RejectedDataError,
  isSqliteEnvironmentError,
  openSqliteFile,
  sqliteIntegrityProblems,
  sqliteOnlineBackup,
  sqliteReplaceContents,
  sqliteRunStatements,
  sqliteTableNames,
} from "../db/dialect";
import type { UploadedFile } from "../http/multipart";
import { maintenanceTempDir, pruneSafetyCopies, removeDatabaseFiles, safetyCopyPath } from "./files";
import { type RestoreFormat, detectRestoreFormat, readHead } from "./restore-format";
import { judgeStatement, splitSqlStatements, statementHead } from "./sql-script";

/** The largest database file a restore accepts (the original's limit). */
export const RESTORE_MAX_BYTES = 100 * 1024 * 1024;

/**
 * Live tables a restore never overwrites: the migration record (the live schema stays; the restored rows are
 * brought to it), and the audit trail (a restore must not rewrite the record of what happened, itself included).
 */
const KEEP_LIVE: ReadonlySet<string> = new Set(["migrations", "audit_log"]);
/** Emptied by every restore: everyone logs in again, against the restored accounts. */
const CLEARED: ReadonlySet<string> = new Set(["sessions"]);
/**
 * Accounts: restored when the file has them; a file older than the accounts tables would otherwise leave them
 * empty (the migration creates them empty) and nobody could log in again, so then the live ones stay.
 */
const ACCOUNT_TABLES: readonly string[] = ["users", "api_tokens"];

export interface RestoreResult {
  success: true;
  message: string;
  safetyBackupPath: string;
  requiresReauth: true;
}

const invalidFile = (message: string): HttpError => new HttpError(400, { error: "Invalid database file", message });
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A file-caused failure becomes a 400 with SQLite's reason; a machine-caused one (disk, I/O) stays an error. */
function asInvalid(err: unknown, what: string): unknown {
  if (err instanceof HttpError || isSqliteEnvironmentError(err)) return err;
  return invalidFile(`${what}: ${messageOf(err)}`);
}

/**
 * Restores the database from an uploaded SQLite file or SQL dump. Everything about the upload is checked on a
 * scratch copy first (integrity, that it is a duplistatus database, migration to the current schema), so a bad
 * file leaves the live database untouched. Only then, with the database locked: a safety copy of the live
 * database, and one transaction that replaces the live rows with the restored ones (see sqliteReplaceContents).
 */
export class DatabaseRestoreService {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      log: Logger;
      dataDir: string;
      audit: AuditService;
      access: SessionAndTokenPolicy;
    },
  ) {}

  async restore(file: UploadedFile | null, actor: AuditActor): Promise<RestoreResult> {
    const fileName = file?.originalName ?? null;
    try {
      if (!file) {
        throw new HttpError(400, {
          error: "No file uploaded",
          message: 'Send the database in the multipart field "database"',
        });
      }
      const { format, safetyBackupPath, tables } = await this.restoreFile(file);
      // Cached settings (the "require API keys" switch) must be read again from the restored rows.
      this.deps.access.invalidate();
      await this.deps.audit.record({
        ...actor,
        action: "database_restore",
        category: "system",
        targetType: "database",
        details: { format, fileName, sizeBytes: file.size, safetyBackupPath, tables },
      });
      return {
        success: true,
        message: `Database restored successfully from ${format === "db" ? "DB" : "SQL"} file`,
        safetyBackupPath,
        requiresReauth: true,
      };
    } catch (err) {
      const refused = err instanceof HttpError;
      await this.deps.audit.record({
        ...actor,
        action: "database_restore",
        category: "system",
        targetType: "database",
        status: refused ? "failure" : "error",
        details: { fileName, sizeBytes: file?.size ?? 0 },
        errorMessage: refused ? String(err.body.message ?? err.body.error) : messageOf(err),
      });
      throw err;
    }
  }

  private async restoreFile(
    file: UploadedFile,
  ): Promise<{ format: RestoreFormat; safetyBackupPath: string; tables: Record<string, number> }> {
    const format = detectRestoreFormat(file.originalName, readHead(file.path));
    if (!format) {
      throw invalidFile("Unrecognised format: send a SQLite database (.db, .sqlite, .sqlite3) or an SQL dump (.sql)");
    }
    const workDir = path.join(maintenanceTempDir(this.deps.dataDir), `restore-${randomUUID()}`);
    fs.mkdirSync(workDir, { recursive: true });
    try {
      const candidate = path.join(workDir, "candidate.db");
      if (format === "db") fs.renameSync(file.path, candidate);
      else loadDump(file.path, candidate);
      const uploadedTables = inspectCandidate(candidate);
      try {
        const applied = await Database.migrateFile(candidate, this.deps.log);
        if (applied.length > 0) this.deps.log.info({ migrations: applied }, "restored database migrated");
      } catch (err) {
        throw asInvalid(err, "The database could not be brought to the current schema");
      }
      const keep = new Set([...KEEP_LIVE, ...ACCOUNT_TABLES.filter((t) => !uploadedTables.has(t))]);
      const { safetyBackupPath, tables } = await this.replaceLive(candidate, keep);
      return { format, safetyBackupPath, tables };
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  }

  /**
   * PostgreSQL: the same steps without the SQLite connection. The safety copy is a SQLite snapshot of the live rows
   * (the backup download's format); the replacement is one PostgreSQL transaction whose constraints refuse rows that
   * do not fit before anything is committed (so there is no unsound result to roll back from the copy).
   */
  private async replaceLivePostgres(
    candidate: string,
    keep: ReadonlySet<string>,
  ): Promise<{ safetyBackupPath: string; tables: Record<string, number> }> {
    const { db, dataDir, clock } = this.deps;
    const safety = safetyCopyPath(dataDir, clock.now());
    await db.backupTo(safety);
    let copied;
    try {
      ({ copied } = await db.replaceFromSqliteFile(candidate, { keep, clear: CLEARED }));
    } catch (err) {
      removeDatabaseFiles(safety);
      if (err instanceof RejectedDataError) throw invalidFile(`The database's rows do not fit: ${err.message}`);
      throw err;
    }
    pruneSafetyCopies(dataDir);
    return {
      safetyBackupPath: path.basename(safety),
      tables: Object.fromEntries(copied.map((c) => [c.table, c.rows])),
    };
  }

  /**
   * Safety copy, then every live table except `keep` (and the emptied sessions) replaced by the candidate's rows in
   * one transaction; rolled back from the copy if the result is unsound. Tables the migration derives from the runs
   * (chart roll-ups) thereby always match the restored runs.
   */
  private replaceLive(
    candidate: string,
    keep: ReadonlySet<string>,
  ): Promise<{ safetyBackupPath: string; tables: Record<string, number> }> {
    const { dataDir, log } = this.deps;
    if (this.deps.db.dialect.kind === "postgres") return this.replaceLivePostgres(candidate, keep);
    return this.deps.db.exclusive(async (conn) => {
      const safety = safetyCopyPath(dataDir, this.deps.clock.now());
      await sqliteOnlineBackup(conn, safety);
      let copied;
      try {
        ({ copied } = sqliteReplaceContents(conn, candidate, { keep, clear: CLEARED }));
      } catch (err) {
        // Rolled back: the live database is as it was, so this safety copy protects nothing.
        removeDatabaseFiles(safety);
        if (err instanceof RejectedDataError) throw invalidFile(`The database's rows do not fit: ${err.message}`);
        throw err;
      }
      const problems = sqliteIntegrityProblems(conn);
      if (problems.length > 0) {
        log.error({ problems }, "database unsound after restore; putting the safety copy back");
        sqliteReplaceContents(conn, safety, { keep: KEEP_LIVE, clear: CLEARED });
        throw new Error(`the restored database failed the integrity check; rolled back from ${path.basename(safety)}`);
      }
      pruneSafetyCopies(dataDir);
      return {
        safetyBackupPath: path.basename(safety),
        tables: Object.fromEntries(copied.map((c) => [c.table, c.rows])),
      };
    });
  }
}

/** Runs an SQL dump into a fresh scratch database, statement by statement, refusing anything but DDL and inserts. */
function loadDump(sqlFile: string, target: string): void {
  const text = fs.readFileSync(sqlFile, "utf8").replace(/^\uFEFF/, "");
  function* runnable(): Generator<string> {
    for (const statement of splitSqlStatements(text)) {
      const verdict = judgeStatement(statement);
      if (verdict === "refuse") {
        throw invalidFile(`The SQL file contains a statement a restore does not run: ${statementHead(statement)}`);
      }
      if (verdict === "run") yield statement;
    }
  }
  const conn = openSqliteFile(target, { readonly: false });
  try {
    sqliteRunStatements(conn, runnable());
  } catch (err) {
    throw asInvalid(err, "The SQL file could not be executed");
  } finally {
    conn.close();
  }
}

/**
 * Checks the scratch copy read-only: SQLite's integrity check, and that it is a duplistatus database of this
 * implementation (servers, backups and a migration history). Returns its tables.
 */
function inspectCandidate(file: string): ReadonlySet<string> {
  let tables: string[];
  let problems: string[];
  try {
    const conn = openSqliteFile(file, { readonly: true });
    try {
      problems = sqliteIntegrityProblems(conn);
      tables = sqliteTableNames(conn);
    } finally {
      conn.close();
    }
  } catch (err) {
    throw asInvalid(err, "The file is not a readable SQLite database");
  }
  if (problems.length > 0)
    throw invalidFile(`The file failed SQLite's integrity check: ${problems.slice(0, 3).join("; ")}`);
  if (!tables.includes("servers") || !tables.includes("backups")) {
    throw invalidFile("The file is not a duplistatus database: it has no servers and backups tables");
  }
  if (!tables.includes("migrations")) {
    throw invalidFile(
      "The file has no migration history, so it is not a database of this duplistatus (a database of the original duplistatus cannot be restored)",
    );
  }
  return new Set(tables);
}
