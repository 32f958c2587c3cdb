import type { MigrationInterface, QueryRunner } from "typeorm";
import { rebuildChartRollups } from "../../../charts/rollups";
import { runnerQueryable } from "./support";

/**
 * PostgreSQL twin of sqlite/1764460800000-ChartRollups.ts: the roll-up table (an ordinary table: PostgreSQL has no
 * WITHOUT ROWID, its primary key index serves the same lookups), the covering index of the chart queries (same
 * columns, so an index-only scan answers a server's range), and the roll-ups of the runs already stored.
 */
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
      runs BIGINT NOT NULL DEFAULT 0,
      ok_runs BIGINT NOT NULL DEFAULT 0,
      failed_runs BIGINT NOT NULL DEFAULT 0,
      duration_ms BIGINT NOT NULL DEFAULT 0,
      uploaded BIGINT NOT NULL DEFAULT 0,
      jobs BIGINT NOT NULL DEFAULT 0,
      size BIGINT NOT NULL DEFAULT 0,
      files BIGINT NOT NULL DEFAULT 0,
      storage BIGINT NOT NULL DEFAULT 0,
      versions BIGINT NOT NULL DEFAULT 0,
      PRIMARY KEY (granularity, bucket_start)
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS idx_backups_chart ON backups (${CHART_INDEX_COLUMNS.join(", ")})`);
    await rebuildChartRollups(runnerQueryable(q), "postgres");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_backups_chart`);
    await q.query(`DROP TABLE chart_rollups`);
  }
}
