import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `jobs.latest_examined_files`: the job's latest run's examined-file count, next to its other latest_* gauges
 * (size, stored size, versions). With it the job row holds everything the chart roll-ups need of the job's previous
 * latest run, so an upload of the job's newest run (nearly every upload) folds into the roll-ups without looking up
 * its neighbouring runs in `backups` (charts/rollups.ts). Existing rows are filled from their latest run here;
 * applyRunToJob and recomputeJob keep it from then on.
 */
export class JobLatestExaminedFiles1764813600000 implements MigrationInterface {
  name = "JobLatestExaminedFiles1764813600000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN latest_examined_files ${this.integerType} NOT NULL DEFAULT 0`);
    await q.query(`UPDATE jobs SET latest_examined_files = COALESCE(
      (SELECT b.examined_files FROM backups b WHERE b.id = jobs.latest_run_id), 0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN latest_examined_files`);
  }

  /** The dialect's type of the run counters (the PostgreSQL twin says BIGINT). */
  protected get integerType(): string {
    return "INTEGER";
  }
}
