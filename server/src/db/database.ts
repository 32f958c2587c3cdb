import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DataSource, QueryFailedError, type QueryRunner } from "typeorm";
import type { AppConfig } from "../config";
import type { Logger } from "../core/logger";
import {
  SQLITE_AUTOCHECKPOINT_PAGES,
  SQLITE_JOURNAL_SIZE_LIMIT_BYTES,
  type Dialect,
  type ReplaceOutcome,
  type ReplacePlan,
  RejectedDataError,
  isConstraintViolation,
  type SqliteConnection,
  type SqliteExecutor,
  POSTGRES_MIGRATION_LOCK,
  postgresParams,
  isRetryablePostgresError,
  isSqliteConnection,
  openSqliteFile,
  postgresCollationSql,
  postgresDialect,
  postgresTypes,
  sqliteDialect,
  sqliteDump,
  sqliteExecutor,
  sqliteOnlineBackup,
} from "./dialect";
import { BackgroundCheckpointer } from "./checkpointer";
import { WalBound } from "./wal-bound";
import { copyDatabase } from "./copy";
import { commitUnits, executorQueryable } from "./group-commit";
import { SharedWriteLock } from "./write-lock";
import { ALL_ENTITIES } from "./entities";
import { type LeaderLease, PostgresLeaderLease, alwaysLeader } from "./leader";
import { Mutex } from "./mutex";
import { SQLITE_MIGRATIONS } from "./migrations/sqlite";
import { POSTGRES_MIGRATIONS } from "./migrations/postgres";

/** What repositories see of a connection: portable SQL with `?` placeholders. */
export interface Queryable {
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  run(sql: string, params?: readonly unknown[]): Promise<{ changes: number }>;
}

export interface DatabaseOptions {
  sqliteFile: string;
  synchronous: "NORMAL" | "FULL";
  cacheMb: number;
  /** postgres://… (DATABASE_URL): PostgreSQL instead of the SQLite file; the SQLite options are then unused. */
  databaseUrl?: string;
  /** PostgreSQL: connections in the pool (default 10). */
  poolSize?: number;
  /**
   * SQLite: WAL checkpoints in a worker thread instead of inside COMMITs (checkpointer.ts). For the live database of
   * a running server; scratch databases (restores, copies, tests of the data layer) leave it off.
   */
  backgroundCheckpoint?: boolean;
  /**
   * SQLite, with the background checkpointer: the WAL size past which a connection that writes (the ingest writer
   * thread's, this one's group commit) checkpoints the WAL itself between two transactions, so a steady stream of
   * writes cannot grow it without end (default SQLITE_JOURNAL_SIZE_LIMIT_BYTES; see wal-bound.ts).
   */
  walBoundBytes?: number;
}

/** The database options of a configuration: DATABASE_URL when set, otherwise the SQLite file in DATA_DIR. */
export function databaseOptions(config: AppConfig): DatabaseOptions {
  return {
    sqliteFile: config.sqliteFile,
    synchronous: config.sqliteSynchronous,
    cacheMb: config.sqliteCacheMb,
    databaseUrl: config.databaseUrl,
    poolSize: config.databasePoolSize,
    backgroundCheckpoint: true,
  };
}

/** Whether a DATABASE_URL names PostgreSQL. */
export const isPostgresUrl = (url: string | undefined): url is string => !!url && /^postgres(ql)?:\/\//i.test(url);

const STATEMENT_CACHE_SIZE = 200;

/** A unit of work waiting for the next SQLite group commit (see Database.write). */
interface WriteUnit {
  work: (q: Queryable) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/** At most this many units share one transaction, which bounds how long the first of them waits for its answer. */
const GROUP_COMMIT_MAX_UNITS = 64;

function queryable(runner: QueryRunner, dialect: Dialect): Queryable {
  return {
    async all<T>(sql: string, params: readonly unknown[] = []) {
      const res = await runner.query(dialect.sql(sql), postgresParams(params), true);
      return (res.records ?? []) as T[];
    },
    async get<T>(sql: string, params: readonly unknown[] = []) {
      const res = await runner.query(dialect.sql(sql), postgresParams(params), true);
      return (res.records as T[] | undefined)?.[0];
    },
    async run(sql: string, params: readonly unknown[] = []) {
      const res = await runner.query(dialect.sql(sql), postgresParams(params), true);
      return { changes: res.affected ?? 0 };
    },
  };
}

/**
 * The data layer's entry point: a TypeORM DataSource plus units of work. `read` and `write` are the only ways in,
 * so the SQLite single-connection rules (see Mutex) hold everywhere.
 */
export class Database {
  private readonly lock = new Mutex();
  /**
   * SQLite: the write lock this connection shares with the ingest writer thread's (write-lock.ts); uncontended (one
   * atomic operation per group) when there is no such thread.
   */
  readonly writeLock = new SharedWriteLock();
  /** SQLite: the live connection's automatic checkpoint threshold (0 while the checkpoint worker runs). */
  private readonly autoCheckpoint = {
    pages: SQLITE_AUTOCHECKPOINT_PAGES,
    listeners: new Set<(pages: number) => void>(),
  };
  /** SQLite: see DatabaseOptions.walBoundBytes. */
  walBoundBytes = SQLITE_JOURNAL_SIZE_LIMIT_BYTES;
  private readonly runner: QueryRunner;
  /** SQLite, the live database: WAL checkpoints in a worker thread (checkpointer.ts). */
  private checkpointer: BackgroundCheckpointer | undefined;
  /** SQLite, with the background checkpointer: the WAL bound of this connection's writes (wal-bound.ts). */
  private walBound: WalBound | undefined;
  /** SQLite: units of work run on the executor (see dialect.ts); other dialects go through the query runner. */
  private executor: SqliteExecutor | undefined;
  private readonly q: Queryable;
  /**
   * Whether this instance runs the scheduled tasks now (see leader.ts): always on SQLite, the advisory-lock holder
   * among the instances sharing a PostgreSQL database.
   */
  readonly leader: LeaderLease;

  private constructor(
    readonly dataSource: DataSource,
    readonly dialect: Dialect,
    private readonly log: Logger,
  ) {
    this.runner = dataSource.createQueryRunner();
    const url = (dataSource.options as { url?: unknown }).url;
    this.leader =
      dialect.kind === "postgres" && typeof url === "string" ? new PostgresLeaderLease(url, log) : alwaysLeader;
    this.q =
      dialect.kind === "sqlite"
        ? executorQueryable(
            () => this.sqliteExecutor(),
            dialect,
            (err, sql, params) => new QueryFailedError(sql, [...params], err as Error),
          )
        : queryable(this.runner, dialect);
  }

  /** The executor of the live connection (made again should the driver ever hand out another connection). */
  private sqliteExecutor(): SqliteExecutor {
    const conn = this.sqliteConnection();
    if (this.executor?.connection !== conn) this.executor = sqliteExecutor(conn, STATEMENT_CACHE_SIZE);
    return this.executor;
  }

  static async open(options: DatabaseOptions, log: Logger): Promise<Database> {
    if (options.databaseUrl !== undefined)
      return Database.openPostgres(options.databaseUrl, options.poolSize ?? 10, log);
    const dialect = sqliteDialect({
      synchronous: options.synchronous,
      cacheMb: options.cacheMb,
      busyTimeoutMs: 30_000,
    });
    fs.mkdirSync(path.dirname(options.sqliteFile), { recursive: true });
    const dataSource = new DataSource({
      type: "better-sqlite3",
      database: options.sqliteFile,
      entities: ALL_ENTITIES,
      migrations: SQLITE_MIGRATIONS,
      synchronize: false,
      statementCacheSize: STATEMENT_CACHE_SIZE,
      prepareDatabase: (db: { pragma(s: string): unknown }) => {
        for (const stmt of dialect.connectionSetup) db.pragma(stmt.replace(/^PRAGMA\s+/i, ""));
      },
    });
    await dataSource.initialize();
    const applied = await dataSource.runMigrations({ transaction: "each" });
    if (applied.length > 0) log.info({ migrations: applied.map((m) => m.name) }, "database migrated");
    const db = new Database(dataSource, dialect, log);
    if (options.walBoundBytes !== undefined) db.walBoundBytes = options.walBoundBytes;
    if (options.backgroundCheckpoint) {
      const conn = db.sqliteConnection();
      db.walBound = new WalBound(
        `${options.sqliteFile}-wal`,
        db.walBoundBytes,
        () => conn.exec("PRAGMA wal_checkpoint(PASSIVE)"),
        (err) => log.warn({ err }, "WAL checkpoint after a group commit failed"),
      );
      db.checkpointer = BackgroundCheckpointer.start(
        {
          file: options.sqliteFile,
          setAutoCheckpoint: (pages) => {
            conn.exec(`PRAGMA wal_autocheckpoint = ${pages}`);
            db.autoCheckpoint.pages = pages;
            for (const listener of db.autoCheckpoint.listeners) listener(pages);
          },
          log,
        },
        SQLITE_AUTOCHECKPOINT_PAGES,
      );
    }
    return db;
  }

  /**
   * PostgreSQL: a pool of connections, no mutex. Migrations run under an advisory lock, so instances starting
   * together on a fresh database do not race each other through them (the second waits, then finds them applied).
   */
  private static async openPostgres(url: string, poolSize: number, log: Logger): Promise<Database> {
    if (!isPostgresUrl(url)) throw new Error("DATABASE_URL must be a postgres:// or postgresql:// URL");
    const dialect = postgresDialect();
    const dataSource = new DataSource({
      type: "postgres",
      url,
      entities: ALL_ENTITIES,
      migrations: POSTGRES_MIGRATIONS,
      synchronize: false,
      poolSize,
      applicationName: "duplistatus",
      // BIGINT counters and NUMERIC sums come back as JS numbers, as they do from SQLite.
      extra: { types: postgresTypes },
    });
    await dataSource.initialize();
    try {
      const lock = dataSource.createQueryRunner();
      try {
        await lock.query(POSTGRES_MIGRATION_LOCK.lock);
        const applied = await dataSource.runMigrations({ transaction: "each" });
        if (applied.length > 0) log.info({ migrations: applied.map((m) => m.name) }, "database migrated");
        const [collation] = (await lock.query(postgresCollationSql())) as Array<{ collate?: string }>;
        if (collation?.collate && !/^(C|POSIX)(\.|$)/i.test(collation.collate)) {
          log.warn(
            { collation: collation.collate },
            "the database's collation is not byte order (C): lists sorted by name may differ from SQLite's order (docs/scale-out.md)",
          );
        }
      } finally {
        await lock.query(POSTGRES_MIGRATION_LOCK.unlock).catch(() => undefined);
        await lock.release();
      }
    } catch (err) {
      await dataSource.destroy().catch(() => undefined);
      throw err;
    }
    return new Database(dataSource, dialect, log);
  }

  /** The connection URL of a PostgreSQL database (for the leader lease and the event relay); undefined on SQLite. */
  get postgresUrl(): string | undefined {
    if (this.dialect.kind !== "postgres") return undefined;
    const url = (this.dataSource.options as { url?: unknown }).url;
    return typeof url === "string" ? url : undefined;
  }

  /** PostgreSQL: `work` on a pooled connection of its own, inside BEGIN … COMMIT (ROLLBACK when it throws). */
  private async onPooledConnection<T>(begin: string, work: (q: Queryable) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.query(begin);
      try {
        const result = await work(queryable(runner, this.dialect));
        await runner.query("COMMIT");
        return result;
      } catch (err) {
        try {
          await runner.query("ROLLBACK");
        } catch (rollbackErr) {
          this.log.error({ err: rollbackErr }, "rollback failed");
        }
        throw err;
      }
    } finally {
      await runner.release();
    }
  }

  /** A consistent read. */
  async read<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    // PostgreSQL: one snapshot for every statement of the unit (REPEATABLE READ), beside the other units.
    if (this.dialect.kind === "postgres") return this.onPooledConnection("BEGIN ISOLATION LEVEL REPEATABLE READ", work);
    // A read asked for after a write (even one not awaited) sees it: it waits for the group commit holding it.
    if (this.groupCommit.scheduled) await this.groupCommit.scheduled;
    return this.lock.run(() => work(this.q));
  }

  /**
   * One transaction: all of `work` or nothing. The promise settles once the work is committed (or rolled back).
   *
   * SQLite: group commit. Units asked for in the same event-loop turn (under load: every upload whose body arrived
   * meanwhile) run one after the other in ONE transaction, each inside a savepoint, so a unit that fails is undone
   * alone and the others commit. A COMMIT (WAL append and lock hand-over) costs more than an upload's six statements
   * together; sharing it is what lets ingestion keep up with the HTTP layer (bench/ingest.ts). Nothing is
   * acknowledged before its COMMIT: a crash loses only units whose callers had no answer yet.
   */
  write<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    if (this.dialect.kind === "postgres") return this.writePostgres(work);
    if (this.dialect.kind !== "sqlite") return this.writeViaRunner(work);
    return new Promise<T>((resolve, reject) => {
      this.groupCommit.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.scheduleGroupCommit();
    });
  }

  private readonly groupCommit: { pending: WriteUnit[]; scheduled: Promise<void> | null } = {
    pending: [],
    scheduled: null,
  };

  /**
   * The next group commit runs after the I/O callbacks of this event-loop turn (setImmediate), so every unit asked
   * for meanwhile joins it; it then takes the lock like any other unit of work.
   */
  private scheduleGroupCommit(): void {
    if (this.groupCommit.scheduled) return;
    this.groupCommit.scheduled = new Promise<void>((resolve) => {
      setImmediate(() => {
        // The cross-thread lock first (see write-lock.ts), then the event loop's own: units asked for while the
        // writer thread finishes its group join this one.
        void this.writeLock
          .acquire()
          .then(() =>
            this.lock.run(async () => {
              this.groupCommit.scheduled = null;
              const units = this.groupCommit.pending.splice(0, GROUP_COMMIT_MAX_UNITS);
              if (this.groupCommit.pending.length > 0) this.scheduleGroupCommit();
              try {
                await this.runGroup(units);
              } catch (err) {
                // runGroup settles every unit itself; this is a bug guard, so that no caller waits forever.
                this.log.error({ err }, "group commit failed");
                for (const u of units) u.reject(err);
              }
            }),
          )
          .finally(() => {
            this.writeLock.release();
            resolve();
          });
      });
    });
  }

  private async runGroup(units: WriteUnit[]): Promise<void> {
    const outcomes = await commitUnits(
      this.sqliteExecutor(),
      units,
      (u) => u.work(this.q),
      (err) => this.log.error({ err }, "rollback failed"),
    );
    this.walBound?.afterCommit();
    const again: WriteUnit[] = [];
    units.forEach((u, i) => {
      const o = outcomes[i];
      if (o?.ok === true) u.resolve(o.value);
      else if (o?.ok === false) u.reject(o.error);
      else again.push(u);
    });
    this.requeue(again);
  }

  private requeue(units: WriteUnit[]): void {
    this.groupCommit.pending.unshift(...units);
    if (units.length > 0) this.scheduleGroupCommit();
  }

  /**
   * PostgreSQL: a READ COMMITTED transaction on its own pooled connection. Writers of the same rows queue on the
   * row locks (FOR UPDATE, ON CONFLICT); a deadlock or serialization failure rolls the unit back and runs it again
   * (a unit of work is only database work, so running it again is safe), at most three more times.
   */
  private async writePostgres<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.onPooledConnection("BEGIN", work);
      } catch (err) {
        if (attempt > 3 || !isRetryablePostgresError(err)) throw err;
        this.log.debug({ err, attempt }, "transaction retried");
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }

  private writeViaRunner<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      await this.runner.startTransaction();
      try {
        const result = await work(this.q);
        await this.runner.commitTransaction();
        return result;
      } catch (err) {
        try {
          await this.runner.rollbackTransaction();
        } catch (rollbackErr) {
          this.log.error({ err: rollbackErr }, "rollback failed");
        }
        throw err;
      }
    });
  }

  /** Several server instances may share this database (PostgreSQL): scheduled work must ask `leader` first. */
  get shared(): boolean {
    return this.dialect.kind === "postgres";
  }

  async close(): Promise<void> {
    // Units already asked for are committed first (SIGTERM: in-flight uploads finish).
    while (this.groupCommit.scheduled) await this.groupCommit.scheduled;
    await this.checkpointer?.stop();
    await this.leader.close();
    await this.lock.run(async () => {
      if (this.dataSource.isInitialized) await this.dataSource.destroy();
    });
  }

  // ─── Maintenance (database backup and restore). SQLite only; the SQLite-specific work lives in dialect.ts. ───

  /**
   * Brings another SQLite file (a database being restored) to the current schema with the same migrations, and
   * closes it again whatever happens. Returns the names of the migrations applied. TypeORM's progress lines go
   * to our log at debug level instead of its console logger; a failure surfaces as the thrown error.
   */
  static async migrateFile(file: string, log: Logger): Promise<string[]> {
    const quiet = () => undefined;
    const dataSource = new DataSource({
      type: "better-sqlite3",
      database: file,
      entities: ALL_ENTITIES,
      migrations: SQLITE_MIGRATIONS,
      synchronize: false,
      logger: {
        logQuery: quiet,
        logQueryError: quiet,
        logQuerySlow: quiet,
        logSchemaBuild: quiet,
        log: quiet,
        logMigration: (message: string) => log.debug({ file: path.basename(file) }, message),
      },
    });
    try {
      await dataSource.initialize();
      const applied = await dataSource.runMigrations({ transaction: "each" });
      return applied.map((m) => m.name);
    } finally {
      if (dataSource.isInitialized) await dataSource.destroy();
    }
  }

  /**
   * What another connection to the live SQLite file that writes (the ingest writer thread) must do as this one does:
   * the file, the connection's PRAGMAs, the shared write lock, and the automatic checkpoint threshold, now and
   * whenever it changes (`onAutoCheckpoint`; returns the unsubscribe).
   */
  sqliteWriterSetup(): {
    file: string;
    connectionSetup: readonly string[];
    lock: SharedArrayBuffer;
    autoCheckpointPages: number;
    walBoundBytes: number;
    onAutoCheckpoint(listener: (pages: number) => void): () => void;
  } {
    return {
      file: this.sqliteFile,
      connectionSetup: this.dialect.connectionSetup,
      lock: this.writeLock.buffer,
      autoCheckpointPages: this.autoCheckpoint.pages,
      walBoundBytes: this.walBoundBytes,
      onAutoCheckpoint: (listener) => {
        this.autoCheckpoint.listeners.add(listener);
        return () => this.autoCheckpoint.listeners.delete(listener);
      },
    };
  }

  /** Path of the live SQLite file. */
  get sqliteFile(): string {
    const file = this.dataSource.options.database;
    if (this.dialect.kind !== "sqlite" || typeof file !== "string") throw new Error("not a SQLite database");
    return file;
  }

  /**
   * A consistent copy of the live database in `file`, taken while uploads continue. Deliberately not under the
   * lock: SQLite's online backup copies between event-loop turns and folds in what this connection writes meanwhile,
   * so holding the lock would only stall every request for the length of the copy.
   */
  backupTo(file: string): Promise<void> {
    if (this.dialect.kind === "postgres") return this.copyToSqliteFile(file);
    return sqliteOnlineBackup(this.sqliteConnection(), file);
  }

  /**
   * PostgreSQL: the live rows copied into a new SQLite file of the same schema, read in one REPEATABLE READ unit
   * (a consistent snapshot; uploads carry on). The download (and a restore) is then the same SQLite file on both.
   */
  private async copyToSqliteFile(file: string): Promise<void> {
    const target = await Database.open({ sqliteFile: file, synchronous: "NORMAL", cacheMb: 8 }, this.quietLog());
    try {
      await copyDatabase(this, target);
    } finally {
      await target.close();
    }
  }

  private quietLog(): Logger {
    return this.log.child({}, { level: "warn" });
  }

  /**
   * PostgreSQL: replaces the live rows with those of a SQLite file of the same schema (a restore), in one
   * transaction: tables in `plan.keep` stay as they are, those in `plan.clear` are emptied. A row that does not fit
   * (a constraint, a foreign key) rolls everything back and surfaces as RejectedDataError.
   */
  async replaceFromSqliteFile(file: string, plan: ReplacePlan): Promise<ReplaceOutcome> {
    if (this.dialect.kind !== "postgres")
      throw new Error("replaceFromSqliteFile is for PostgreSQL (SQLite: exclusive)");
    const source = await Database.open({ sqliteFile: file, synchronous: "NORMAL", cacheMb: 8 }, this.quietLog());
    try {
      return await copyDatabase(source, this, { keep: plan.keep, clear: plan.clear });
    } catch (err) {
      if (isConstraintViolation(err)) throw new RejectedDataError((err as Error).message);
      throw err;
    } finally {
      await source.close();
    }
  }

  /**
   * An SQL dump of the live database, read on a separate read-only connection inside one read transaction: a
   * consistent snapshot (WAL) that does not hold up writers.
   */
  async dumpSql(write: (text: string) => Promise<void>): Promise<{ tables: number; rows: number }> {
    if (this.dialect.kind === "postgres") {
      // The same SQLite dump, of a snapshot copy (see copyToSqliteFile): a restore reads it on either database.
      const scratch = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "duplistatus-dump-")), "snapshot.db");
      try {
        await this.copyToSqliteFile(scratch);
        const conn = openSqliteFile(scratch, { readonly: true });
        try {
          return await sqliteDump(conn, write);
        } finally {
          conn.close();
        }
      } finally {
        fs.rmSync(path.dirname(scratch), { recursive: true, force: true });
      }
    }
    const conn = openSqliteFile(this.sqliteFile, { readonly: true });
    try {
      return await sqliteDump(conn, write);
    } finally {
      conn.close();
    }
  }

  /**
   * Runs `work` with the raw live connection, holding the lock and outside any transaction, so nothing else touches
   * the database meanwhile (a restore's ATTACH, PRAGMA foreign_keys and copy cannot run inside a unit of work).
   */
  async exclusive<T>(work: (conn: SqliteConnection) => Promise<T>): Promise<T> {
    await this.writeLock.acquire();
    try {
      return await this.lock.run(() => work(this.sqliteConnection()));
    } finally {
      this.writeLock.release();
    }
  }

  private sqliteConnection(): SqliteConnection {
    const conn = (this.dataSource.driver as unknown as { databaseConnection?: unknown }).databaseConnection;
    if (this.dialect.kind !== "sqlite" || !isSqliteConnection(conn)) {
      throw new Error("database maintenance needs the better-sqlite3 driver");
    }
    return conn;
  }
}
