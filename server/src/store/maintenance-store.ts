import type { RunRecord } from "../core/domain";
import type { Queryable } from "../db/database";

/**
 * SQL for data maintenance: deleting runs (retention cleanup, delete-job, delete everything) and recomputing the
 * maintained `jobs` state from the runs that remain. Callers run these inside one `db.write`, so the runs and the
 * job state they summarise never disagree.
 */

export interface JobKey {
  server_id: string;
  backup_name: string;
}

/** The jobs that have at least one run which ended before `cutoff` (ISO 8601 UTC). */
export function jobsWithRunsEndedBefore(q: Queryable, cutoff: string): Promise<JobKey[]> {
  return q.all<JobKey>(`SELECT DISTINCT server_id, backup_name FROM backups WHERE end_time < ?`, [cutoff]);
}

/** The first and last run date (begin time) of a set of runs: what the chart roll-ups must be rebuilt over. */
export interface DateSpan {
  from: string;
  to: string;
}

async function dateSpan(q: Queryable, where: string, params: readonly unknown[]): Promise<DateSpan | null> {
  const row = await q.get<{ first: string | null; last: string | null }>(
    `SELECT MIN(date) AS first, MAX(date) AS last FROM backups WHERE ${where}`,
    params,
  );
  return row?.first && row.last ? { from: row.first, to: row.last } : null;
}

export const dateSpanOfRunsEndedBefore = (q: Queryable, cutoff: string): Promise<DateSpan | null> =>
  dateSpan(q, "end_time < ?", [cutoff]);

export const dateSpanOfJob = (q: Queryable, job: JobKey): Promise<DateSpan | null> =>
  dateSpan(q, "server_id = ? AND backup_name = ?", [job.server_id, job.backup_name]);

export async function deleteRunsEndedBefore(q: Queryable, cutoff: string): Promise<number> {
  return (await q.run(`DELETE FROM backups WHERE end_time < ?`, [cutoff])).changes;
}

export async function deleteRunsOfJob(q: Queryable, job: JobKey): Promise<number> {
  return (await q.run(`DELETE FROM backups WHERE server_id = ? AND backup_name = ?`, [job.server_id, job.backup_name]))
    .changes;
}

/**
 * Deletes a job's row (its counters, schedule and overdue state) and its notification preferences: a job that
 * reports again later starts from the defaults, as a new one would (contract §4: per-job settings are pruned).
 */
export async function deleteJob(q: Queryable, job: JobKey): Promise<number> {
  const key = [job.server_id, job.backup_name];
  await q.run(`DELETE FROM job_notification_settings WHERE server_id = ? AND backup_name = ?`, key);
  return (await q.run(`DELETE FROM jobs WHERE server_id = ? AND backup_name = ?`, key)).changes;
}

type LatestRun = Pick<
  RunRecord,
  "id" | "date" | "status" | "size" | "known_file_size" | "backup_list_count" | "examined_files" | "backup_id"
>;

/**
 * Rebuilds a job's counters and "latest" fields from its remaining runs, with the rules of applyRunToJob: run count,
 * uploaded total, first run, last success (Success or Warning) and the newest run's figures. A job without runs is
 * deleted. The per-status run counters are recounted too (a status outside the known ones counts as Unknown,
 * as applyRunToJob does). The schedule (monitoring settings, next expected run) is left alone: it belongs to the job, not to the
 * deleted runs. Returns what happened to the job.
 */
export async function recomputeJob(q: Queryable, job: JobKey, now: string): Promise<"updated" | "deleted"> {
  const key = [job.server_id, job.backup_name];
  const totals = await q.get<{
    runs: number;
    uploaded: number;
    first_date: string | null;
    last_success: string | null;
    runs_success: number;
    runs_warning: number;
    runs_error: number;
    runs_fatal: number;
    runs_unknown: number;
  }>(
    `SELECT COUNT(*) AS runs, COALESCE(SUM(uploaded_size), 0) AS uploaded, MIN(date) AS first_date,
            MAX(CASE WHEN status IN ('Success', 'Warning') THEN date END) AS last_success,
            COALESCE(SUM(CASE WHEN status = 'Success' THEN 1 ELSE 0 END), 0) AS runs_success,
            COALESCE(SUM(CASE WHEN status = 'Warning' THEN 1 ELSE 0 END), 0) AS runs_warning,
            COALESCE(SUM(CASE WHEN status = 'Error' THEN 1 ELSE 0 END), 0) AS runs_error,
            COALESCE(SUM(CASE WHEN status = 'Fatal' THEN 1 ELSE 0 END), 0) AS runs_fatal,
            COALESCE(SUM(CASE WHEN status IN ('Success', 'Warning', 'Error', 'Fatal') THEN 0 ELSE 1 END), 0) AS runs_unknown
       FROM backups WHERE server_id = ? AND backup_name = ?`,
    key,
  );
  const latest = await q.get<LatestRun>(
    `SELECT id, date, status, size, known_file_size, backup_list_count, examined_files, backup_id
       FROM backups WHERE server_id = ? AND backup_name = ? ORDER BY date DESC LIMIT 1`,
    key,
  );
  if (!totals || Number(totals.runs) === 0 || !latest) {
    await deleteJob(q, job);
    return "deleted";
  }
  await q.run(
    `UPDATE jobs SET run_count = ?, uploaded_total = ?, first_run_date = ?, last_success_date = ?, backup_id = ?,
            latest_run_id = ?, latest_date = ?, latest_status = ?, latest_size = ?, latest_known_file_size = ?,
            latest_backup_list_count = ?, latest_examined_files = ?, updated_at = ?, runs_success = ?,
            runs_warning = ?, runs_error = ?, runs_fatal = ?, runs_unknown = ?
      WHERE server_id = ? AND backup_name = ?`,
    [
      Number(totals.runs),
      Number(totals.uploaded),
      totals.first_date,
      totals.last_success,
      latest.backup_id,
      latest.id,
      latest.date,
      latest.status,
      latest.size,
      latest.known_file_size,
      latest.backup_list_count,
      latest.examined_files,
      now,
      Number(totals.runs_success),
      Number(totals.runs_warning),
      Number(totals.runs_error),
      Number(totals.runs_fatal),
      Number(totals.runs_unknown),
      ...key,
    ],
  );
  return "updated";
}

export interface ServerIdentity {
  id: string;
  name: string;
  alias: string;
}

export function listServerIdentities(q: Queryable): Promise<ServerIdentity[]> {
  return q.all<ServerIdentity>(`SELECT id, name, alias FROM servers ORDER BY id`);
}

/** The original's per-job settings maps, reset to empty by "Delete all data" (when they exist). */
const PER_JOB_SETTING_KEYS = ["backup_settings", "overdue_notifications"];

/**
 * Deletes every run, job (with its monitoring state), notification preference and server, and empties the original's
 * per-job settings maps. Rows of other tables that reference servers go with them through their foreign keys.
 */
export async function deleteAllBackupData(q: Queryable): Promise<{ runs: number; servers: number }> {
  const runs = (await q.run(`DELETE FROM backups`)).changes;
  await q.run(`DELETE FROM jobs`);
  await q.run(`DELETE FROM job_notification_settings`);
  const servers = (await q.run(`DELETE FROM servers`)).changes;
  await q.run(
    `UPDATE configurations SET value = '{}' WHERE key IN (${PER_JOB_SETTING_KEYS.map(() => "?").join(", ")})`,
    PER_JOB_SETTING_KEYS,
  );
  return { runs, servers };
}
