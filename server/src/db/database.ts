import fs from "node:fs";
import path from "node:path";
import { DataSource, QueryFailedError, type QueryRunner } from "typeorm";
import type { Logger } from "../core/logger";
import {
  type Dialect,
  type SqliteConnection,
  type SqliteExecutor,
  isSqliteConnection,
  openSqliteFile,
  sqliteDialect,
  sqliteDump,
  sqliteExecutor,
  sqliteOnlineBackup,
} from "./dialect";
import { ALL_ENTITIES } from "./entities";
import { Mutex } from "./mutex";
import { SQLITE_MIGRATIONS } from "./migrations/sqlite";

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
}

const STATEMENT_CACHE_SIZE = 200;

/**
 * Queryable over the SQLite executor (dialect.ts): the statements run synchronously on the connection, errors come
 * out as TypeORM's QueryFailedError exactly as through the query runner.
 */
function executorQueryable(executor: () => SqliteExecutor, dialect: Dialect): Queryable {
  const execute = (sql: string, params: readonly unknown[]) => {
    const text = dialect.sql(sql);
    try {
      return executor().execute(text, params);
    } catch (err) {
      throw new QueryFailedError(text, [...params], err as Error);
    }
  };
  return {
    async all<T>(sql: string, params: readonly unknown[] = []) {
      return (execute(sql, params).rows ?? []) as T[];
    },
    async get<T>(sql: string, params: readonly unknown[] = []) {
      return execute(sql, params).rows?.[0] as T | undefined;
    },
    async run(sql: string, params: readonly unknown[] = []) {
      return { changes: execute(sql, params).changes };
    },
  };
}

function queryable(runner: QueryRunner, dialect: Dialect): Queryable {
  return {
    async all<T>(sql: string, params: readonly unknown[] = []) {
      const res = await runner.query(dialect.sql(sql), [...params], true);
      return (res.records ?? []) as T[];
    },
    async get<T>(sql: string, params: readonly unknown[] = []) {
      const res = await runner.query(dialect.sql(sql), [...params], true);
      return (res.records as T[] | undefined)?.[0];
    },
    async run(sql: string, params: readonly unknown[] = []) {
      const res = await runner.query(dialect.sql(sql), [...params], true);
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
  private readonly runner: QueryRunner;
  /** SQLite: units of work run on the executor (see dialect.ts); other dialects go through the query runner. */
  private executor: SqliteExecutor | undefined;
  private readonly q: Queryable;

  private constructor(
    readonly dataSource: DataSource,
    readonly dialect: Dialect,
    private readonly log: Logger,
  ) {
    this.runner = dataSource.createQueryRunner();
    this.q =
      dialect.kind === "sqlite"
        ? executorQueryable(() => this.sqliteExecutor(), dialect)
        : queryable(this.runner, dialect);
  }

  /** The executor of the live connection (made again should the driver ever hand out another connection). */
  private sqliteExecutor(): SqliteExecutor {
    const conn = this.sqliteConnection();
    if (this.executor?.connection !== conn) this.executor = sqliteExecutor(conn, STATEMENT_CACHE_SIZE);
    return this.executor;
  }

  static async open(options: DatabaseOptions, log: Logger): Promise<Database> {
    const dialect = sqliteDialect({ synchronous: options.synchronous, cacheMb: options.cacheMb, busyTimeoutMs: 30_000 });
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
    return new Database(dataSource, dialect, log);
  }

  /** A consistent read. */
  read<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    return this.lock.run(() => work(this.q));
  }

  /** One transaction: all of `work` or nothing. */
  write<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    if (this.dialect.kind !== "sqlite") return this.writeViaRunner(work);
    return this.lock.run(async () => {
      const executor = this.sqliteExecutor();
      executor.begin();
      try {
        const result = await work(this.q);
        executor.commit();
        return result;
      } catch (err) {
        try {
          // A failed COMMIT or an I/O error may already have ended the transaction.
          if (executor.connection.inTransaction) executor.rollback();
        } catch (rollbackErr) {
          this.log.error({ err: rollbackErr }, "rollback failed");
        }
        throw err;
      }
    });
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

  async close(): Promise<void> {
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
    return sqliteOnlineBackup(this.sqliteConnection(), file);
  }

  /**
   * An SQL dump of the live database, read on a separate read-only connection inside one read transaction: a
   * consistent snapshot (WAL) that does not hold up writers.
   */
  async dumpSql(write: (text: string) => Promise<void>): Promise<{ tables: number; rows: number }> {
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
  exclusive<T>(work: (conn: SqliteConnection) => Promise<T>): Promise<T> {
    return this.lock.run(() => work(this.sqliteConnection()));
  }

  private sqliteConnection(): SqliteConnection {
    const conn = (this.dataSource.driver as unknown as { databaseConnection?: unknown }).databaseConnection;
    if (this.dialect.kind !== "sqlite" || !isSqliteConnection(conn)) {
      throw new Error("database maintenance needs the better-sqlite3 driver");
    }
    return conn;
  }
}
