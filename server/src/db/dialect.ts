/**
 * THE DIALECT MODULE: the only place where SQLite and PostgreSQL differ. Everything else writes portable SQL with
 * `?` placeholders (ON CONFLICT, RETURNING-free upserts, ISO-8601 text timestamps) and asks this module for the rest.
 */
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
      "PRAGMA wal_autocheckpoint = 1000",
    ],
  };
}

export function postgresDialect(): Dialect {
  return {
    kind: "postgres",
    sql: (text) => {
      let n = 0;
      return text.replace(/\?/g, () => `$${++n}`);
    },
    forUpdate: " FOR UPDATE",
    listTablesSql:
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
    connectionSetup: [],
  };
}
