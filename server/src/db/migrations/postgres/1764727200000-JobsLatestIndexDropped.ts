import type { MigrationInterface, QueryRunner } from "typeorm";

/** PostgreSQL twin of sqlite/1764727200000-JobsLatestIndexDropped.ts (the per-server reads use the primary key). */
export class JobsLatestIndexDropped1764727200000 implements MigrationInterface {
  name = "JobsLatestIndexDropped1764727200000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_jobs_server_latest`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS idx_jobs_server_latest ON jobs (server_id, latest_date)`);
  }
}
