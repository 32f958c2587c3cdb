import type { QueryRunner } from "typeorm";
import type { Queryable } from "../../database";
import { postgresDialect } from "../../dialect";

/**
 * A Queryable over a migration's query runner, with the `?` placeholders rewritten for PostgreSQL, so a data-filling
 * step can call the same portable code as the application (e.g. rebuildChartRollups).
 */
export function runnerQueryable(runner: QueryRunner): Queryable {
  const { sql } = postgresDialect();
  return {
    async all<T>(text: string, params: readonly unknown[] = []) {
      return ((await runner.query(sql(text), [...params], true)).records ?? []) as T[];
    },
    async get<T>(text: string, params: readonly unknown[] = []) {
      return ((await runner.query(sql(text), [...params], true)).records as T[] | undefined)?.[0];
    },
    async run(text: string, params: readonly unknown[] = []) {
      return { changes: (await runner.query(sql(text), [...params], true)).affected ?? 0 };
    },
  };
}
