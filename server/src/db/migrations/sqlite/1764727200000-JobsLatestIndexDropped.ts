import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Drops idx_jobs_server_latest (jobs: server_id, latest_date). Every upload moves its job's latest_date, so every
 * upload rewrote an entry of this index, at a random place (one more page in the upload's share of the WAL: measured
 * ~1.1 of the ~10 pages an upload writes, and ~10 µs of the writer thread's CPU per upload). The reads it served all
 * ask for one server's jobs (its latest runs, its newest run, its last backup date): the primary key
 * (server_id, backup_name) finds those rows just as directly, and sorting a server's few jobs by date costs nothing.
 * EXPLAIN of those queries: a search on sqlite_autoindex_jobs_1 (server_id=?), no scan.
 */
export class JobsLatestIndexDropped1764727200000 implements MigrationInterface {
  name = "JobsLatestIndexDropped1764727200000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_jobs_server_latest`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS idx_jobs_server_latest ON jobs (server_id, latest_date)`);
  }
}
