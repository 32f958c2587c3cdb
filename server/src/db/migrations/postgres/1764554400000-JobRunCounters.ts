import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * PostgreSQL twin of sqlite/1764554400000-JobRunCounters.ts: per-job run counters by status, filled from `backups`
 * (the same row-value UPDATE: PostgreSQL takes `SET (a, b) = (SELECT …)` as SQLite does).
 */
export class JobRunCounters1764554400000 implements MigrationInterface {
  name = "JobRunCounters1764554400000";

  async up(q: QueryRunner): Promise<void> {
    for (const column of COLUMNS) {
      await q.query(`ALTER TABLE jobs ADD COLUMN ${column} BIGINT NOT NULL DEFAULT 0`);
    }
    await q.query(`UPDATE jobs SET (runs_success, runs_warning, runs_error, runs_fatal, runs_unknown) = (
      SELECT COALESCE(SUM(CASE WHEN b.status = 'Success' THEN 1 ELSE 0 END), 0),
             COALESCE(SUM(CASE WHEN b.status = 'Warning' THEN 1 ELSE 0 END), 0),
             COALESCE(SUM(CASE WHEN b.status = 'Error' THEN 1 ELSE 0 END), 0),
             COALESCE(SUM(CASE WHEN b.status = 'Fatal' THEN 1 ELSE 0 END), 0),
             COALESCE(SUM(CASE WHEN b.status IN ('Success', 'Warning', 'Error', 'Fatal') THEN 0 ELSE 1 END), 0)
        FROM backups b
       WHERE b.server_id = jobs.server_id AND b.backup_name = jobs.backup_name
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const column of [...COLUMNS].reverse()) await q.query(`ALTER TABLE jobs DROP COLUMN ${column}`);
  }
}

const COLUMNS = ["runs_success", "runs_warning", "runs_error", "runs_fatal", "runs_unknown"] as const;
