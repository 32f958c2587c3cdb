import fs from "node:fs";
import path from "node:path";
import { DataSource, type QueryRunner } from "typeorm";
import type { Logger } from "../core/logger";
import { type Dialect, sqliteDialect } from "./dialect";
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

  private constructor(
    readonly dataSource: DataSource,
    readonly dialect: Dialect,
    private readonly log: Logger,
  ) {
    this.runner = dataSource.createQueryRunner();
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
      statementCacheSize: 200,
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
    return this.lock.run(() => work(queryable(this.runner, this.dialect)));
  }

  /** One transaction: all of `work` or nothing. */
  write<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      await this.runner.startTransaction();
      try {
        const result = await work(queryable(this.runner, this.dialect));
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
}
