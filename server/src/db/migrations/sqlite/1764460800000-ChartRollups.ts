import type { MigrationInterface, QueryRunner } from "typeorm";
import { rebuildChartRollups } from "../../../charts/rollups";
import type { Queryable } from "../../database";

/**
 * Chart data (server/src/charts):
 * - `chart_rollups`: per (granularity hour|day|week, bucket start) sums and gauge sums of all runs, maintained in the
 *   upload transaction, so GET /api/chart-data/aggregated reads bucket rows instead of scanning the runs;
 * - idx_backups_chart: backups (server_id, date) plus every column the chart queries read, so the server and job
 *   scopes read one server's runs in a time range from the index alone (no random reads into the table: with a
 *   million runs those were most of a server query's time);
 * - the roll-ups of the runs already stored.
 * If chart_rollups ever changes shape, that later migration rebuilds it and the rebuild call below must keep to
 * the columns created here.
 */
/** The key (server, time) and then the columns the bucket aggregations read: a covering index. */
const CHART_INDEX_COLUMNS = [
  "server_id",
  "date",
  "backup_name",
  "status",
  "duration_seconds",
  "uploaded_size",
  "size",
  "examined_files",
  "known_file_size",
  "backup_list_count",
];

export class ChartRollups1764460800000 implements MigrationInterface {
  name = "ChartRollups1764460800000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE chart_rollups (
      granularity TEXT NOT NULL,
      bucket_start TEXT NOT NULL,
      runs INTEGER NOT NULL DEFAULT 0,
      ok_runs INTEGER NOT NULL DEFAULT 0,
      failed_runs INTEGER NOT NULL DEFAULT 0,
      duration_ms INTEGER NOT NULL DEFAULT 0,
      uploaded INTEGER NOT NULL DEFAULT 0,
      jobs INTEGER NOT NULL DEFAULT 0,
      size INTEGER NOT NULL DEFAULT 0,
      files INTEGER NOT NULL DEFAULT 0,
      storage INTEGER NOT NULL DEFAULT 0,
      versions INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (granularity, bucket_start)
    ) WITHOUT ROWID`);
    await q.query(`CREATE INDEX IF NOT EXISTS idx_backups_chart ON backups (${CHART_INDEX_COLUMNS.join(", ")})`);
    await rebuildChartRollups(runnerQueryable(q), "sqlite");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_backups_chart`);
    await q.query(`DROP TABLE chart_rollups`);
  }
}

function runnerQueryable(runner: QueryRunner): Queryable {
  return {
    async all<T>(sql: string, params: readonly unknown[] = []) {
      return ((await runner.query(sql, [...params], true)).records ?? []) as T[];
    },
    async get<T>(sql: string, params: readonly unknown[] = []) {
      return ((await runner.query(sql, [...params], true)).records as T[] | undefined)?.[0];
    },
    async run(sql: string, params: readonly unknown[] = []) {
      return { changes: (await runner.query(sql, [...params], true)).affected ?? 0 };
    },
  };
}
