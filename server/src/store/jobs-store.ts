import type { Queryable } from "../db/database";
import type { JobState } from "../core/domain";

/** SQL for the `jobs` table: per-job state maintained on every upload. */

const JOB_COLUMNS = [
  "server_id",
  "backup_name",
  "backup_id",
  "run_count",
  "uploaded_total",
  "first_run_date",
  "latest_run_id",
  "latest_date",
  "latest_status",
  "latest_size",
  "latest_known_file_size",
  "latest_backup_list_count",
  "latest_examined_files",
  "last_success_date",
  "monitoring_enabled",
  "expected_interval",
  "allowed_weekdays",
  "next_expected_at",
  "next_scheduled_run",
  "updated_at",
  "runs_success",
  "runs_warning",
  "runs_error",
  "runs_fatal",
  "runs_unknown",
] as const satisfies readonly (keyof JobState)[];

/** Every column but the key (server_id, backup_name): what an existing job's row has written. */
const JOB_STATE_COLUMNS = JOB_COLUMNS.filter((c) => c !== "server_id" && c !== "backup_name");

const UPSERT_JOB_SQL =
  `INSERT INTO jobs (${JOB_COLUMNS.join(", ")}) VALUES (${JOB_COLUMNS.map(() => "?").join(", ")}) ` +
  `ON CONFLICT (server_id, backup_name) DO UPDATE SET ` +
  JOB_STATE_COLUMNS.map((c) => `${c} = excluded.${c}`).join(", ");

const UPDATE_JOB_SQL = `UPDATE jobs SET ${JOB_STATE_COLUMNS.map((c) => `${c} = ?`).join(", ")} WHERE server_id = ? AND backup_name = ?`;

/**
 * The job's state, plus its open overdue episode (owned by monitoring, so read here but never written by saveJob):
 * the upload passes it on in backupReceived, and monitoring only re-evaluates jobs that had one.
 */
export async function getJobForUpdate(
  q: Queryable,
  forUpdate: string,
  serverId: string,
  backupName: string,
): Promise<(JobState & { overdue_since: string | null }) | undefined> {
  return q.get<JobState & { overdue_since: string | null }>(
    `SELECT ${JOB_COLUMNS.join(", ")}, overdue_since FROM jobs WHERE server_id = ? AND backup_name = ?${forUpdate}`,
    [serverId, backupName],
  );
}

/**
 * Writes the job's state. `exists`: the caller read the row in this transaction (getJobForUpdate, which locks it on
 * PostgreSQL), so a plain UPDATE does: an upsert first tries the INSERT, meets the primary key and only then updates
 * (~4 µs more per upload in the writer thread's statement timings). A new job is inserted as an upsert, so that two
 * instances creating the same job at once both succeed.
 */
export async function saveJob(q: Queryable, job: JobState, exists = false): Promise<void> {
  if (!exists) {
    await q.run(
      UPSERT_JOB_SQL,
      JOB_COLUMNS.map((c) => job[c]),
    );
    return;
  }
  await q.run(UPDATE_JOB_SQL, [...JOB_STATE_COLUMNS.map((c) => job[c]), job.server_id, job.backup_name]);
}
