import type { Queryable } from "./database";
import type { Dialect, SqliteExecutor } from "./dialect";

/** How one unit of a group commit ended: committed, failed (undone alone), or to run again in a later group. */
export type UnitOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown } | { ok: "again" };

/**
 * Runs `units` one after the other in ONE SQLite transaction on `executor`, each inside a savepoint (when there are
 * several), so a unit that fails is undone alone and the others commit. Nothing counts as committed before COMMIT.
 * If an I/O or disk-full error ends the whole transaction, the failing unit fails and every other unit comes back as
 * "again" (units are database work only, so running one again is safe). Used by the event loop's group commit
 * (Database.write) and by the ingest writer thread.
 */
export async function commitUnits<U, T>(
  executor: SqliteExecutor,
  units: readonly U[],
  run: (unit: U) => Promise<T>,
  onRollbackError: (err: unknown) => void,
): Promise<UnitOutcome<T>[]> {
  const outcomes: UnitOutcome<T>[] = [];
  const single = units.length === 1;
  try {
    executor.begin();
  } catch (error) {
    return units.map(() => ({ ok: false, error }));
  }
  for (let i = 0; i < units.length; i++) {
    try {
      if (!single) executor.savepoint();
      const value = await run(units[i] as U);
      if (!single) executor.releaseSavepoint();
      outcomes.push({ ok: true, value });
    } catch (error) {
      if (!executor.connection.inTransaction) {
        // The transaction is gone, and with it what the units before this one did.
        return units.map((_, j) => (j === i ? { ok: false, error } : { ok: "again" }));
      }
      outcomes.push({ ok: false, error });
      if (!single) {
        try {
          executor.rollbackToSavepoint();
          executor.releaseSavepoint();
        } catch (rollbackErr) {
          onRollbackError(rollbackErr);
        }
      }
    }
  }
  try {
    if (single && outcomes[0]?.ok === false) executor.rollback();
    else executor.commit();
  } catch (error) {
    try {
      if (executor.connection.inTransaction) executor.rollback();
    } catch (rollbackErr) {
      onRollbackError(rollbackErr);
    }
    return units.map(() => ({ ok: false, error }));
  }
  return outcomes;
}

/**
 * Queryable over the SQLite executor: the statements run synchronously on the connection. `wrapError` turns a
 * driver error into what callers expect (the event loop's Database wraps it as TypeORM's QueryFailedError).
 */
export function executorQueryable(
  executor: () => SqliteExecutor,
  dialect: Dialect,
  wrapError: (err: unknown, sql: string, params: readonly unknown[]) => unknown = (err) => err,
): Queryable {
  const execute = (sql: string, params: readonly unknown[]) => {
    const text = dialect.sql(sql);
    try {
      return executor().execute(text, params);
    } catch (err) {
      throw wrapError(err, text, params);
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
