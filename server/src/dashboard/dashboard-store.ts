import { type BackupStatus, RUN_COLUMNS, type RunRecord } from "../core/domain";
import type { Queryable } from "../db/database";

/**
 * SQL of the dashboard, detail and server views. Every query is bounded by the number of servers and jobs, by an
 * index range of one job (status history), by a date window (chart points) or by a page (a server's runs): none
 * reads the whole `backups` table. The per-job "latest" figures come from the maintained `jobs` table.
 */

/** A server with the flag of a stored Duplicati password (never the password itself). */
export interface ServerFlagsRow {
  id: string;
  name: string;
  server_url: string;
  alias: string;
  note: string;
  created_at: string;
  has_password: number;
}

const SERVER_FLAGS = `SELECT id, name, server_url, alias, note, created_at,
    CASE WHEN server_password <> '' THEN 1 ELSE 0 END AS has_password FROM servers`;

export function listServerFlags(q: Queryable): Promise<ServerFlagsRow[]> {
  return q.all<ServerFlagsRow>(`${SERVER_FLAGS} ORDER BY name, id`);
}

export function getServerFlags(q: Queryable, id: string): Promise<ServerFlagsRow | undefined> {
  return q.get<ServerFlagsRow>(`${SERVER_FLAGS} WHERE id = ?`, [id]);
}

/** A job with runs: its maintained state, the figures of its latest run, and its notification event. */
export interface JobLatestRow {
  server_id: string;
  backup_name: string;
  run_count: number;
  latest_run_id: string | null;
  latest_date: string | null;
  latest_status: BackupStatus | null;
  latest_size: number;
  latest_known_file_size: number;
  latest_backup_list_count: number;
  monitoring_enabled: number;
  next_expected_at: string | null;
  overdue_notified_at: string | null;
  duration_seconds: number | null;
  examined_files: number | null;
  uploaded_size: number | null;
  warnings: number | null;
  errors: number | null;
  available_backups: string | null;
  notification_event: string | null;
}

const JOB_LATEST = `SELECT j.server_id, j.backup_name, j.run_count, j.latest_run_id, j.latest_date, j.latest_status,
    j.latest_size, j.latest_known_file_size, j.latest_backup_list_count, j.monitoring_enabled, j.next_expected_at,
    j.overdue_notified_at, b.duration_seconds, b.examined_files, b.uploaded_size, b.warnings, b.errors,
    b.available_backups, n.notification_event
  FROM jobs j
  LEFT JOIN backups b ON b.id = j.latest_run_id
  LEFT JOIN job_notification_settings n ON n.server_id = j.server_id AND n.backup_name = j.backup_name
  WHERE j.run_count > 0`;

/** Jobs with at least one run (all servers, or one), by server then job name. */
export function listJobLatest(q: Queryable, serverId?: string): Promise<JobLatestRow[]> {
  return serverId === undefined
    ? q.all<JobLatestRow>(`${JOB_LATEST} ORDER BY j.server_id, j.backup_name`)
    : q.all<JobLatestRow>(`${JOB_LATEST} AND j.server_id = ? ORDER BY j.backup_name`, [serverId]);
}

export interface StatusRow {
  server_id: string;
  backup_name: string;
  date: string;
  status: BackupStatus;
}

/**
 * The statuses of the last `perJob` runs of each job, oldest first. For each job a correlated subquery finds the
 * date of its perJob-th newest run by walking the (server_id, backup_name, date) unique index backwards, and the
 * join reads only the index range from there: O(jobs × perJob), whatever the number of stored runs.
 */
export function listStatusHistory(q: Queryable, perJob: number, serverId?: string): Promise<StatusRow[]> {
  // CROSS JOIN: jobs stay the outer loop (SQLite would otherwise be free to scan backups first).
  const sql = `SELECT b.server_id, b.backup_name, b.date, b.status
    FROM jobs j CROSS JOIN backups b
    WHERE b.server_id = j.server_id AND b.backup_name = j.backup_name
      AND b.date >= COALESCE((SELECT h.date FROM backups h WHERE h.server_id = j.server_id AND h.backup_name = j.backup_name
                              ORDER BY h.date DESC LIMIT 1 OFFSET ?), '')
      AND j.run_count > 0${serverId === undefined ? "" : " AND j.server_id = ?"}
    ORDER BY b.server_id, b.backup_name, b.date`;
  return q.all<StatusRow>(sql, serverId === undefined ? [perJob - 1] : [perJob - 1, serverId]);
}

export interface DailyRow {
  day: string;
  runs: number;
  uploaded: number;
  seconds: number;
  files: number;
  size: number;
  storage: number;
  versions: number;
}

/** True for a run that is its job's last run of its UTC day (no later run of the job that day). */
const LAST_OF_DAY = `NOT EXISTS (SELECT 1 FROM backups n WHERE n.server_id = b.server_id AND n.backup_name = b.backup_name
    AND n.date > b.date AND n.date < substr(b.date, 1, 10) || 'T99')`;

/**
 * One row per UTC day from `since` (ISO) on. Uploaded bytes, run time and run count are summed over the day's runs;
 * file count, size, storage and versions are gauges: the last run of each job that day, summed over the jobs.
 * All servers: a range of the date index. One server: a range of the unique index per job of the server (the
 * CROSS JOIN keeps jobs as the outer loop, so SQLite does not walk every run of the server).
 */
export function listDaily(q: Queryable, since: string, serverId?: string): Promise<DailyRow[]> {
  const from =
    serverId === undefined
      ? `FROM backups b WHERE b.date >= ?`
      : `FROM jobs j CROSS JOIN backups b
         WHERE j.server_id = ? AND b.server_id = j.server_id AND b.backup_name = j.backup_name AND b.date >= ?`;
  const sql = `SELECT substr(b.date, 1, 10) AS day, COUNT(*) AS runs, COALESCE(SUM(b.uploaded_size), 0) AS uploaded,
      COALESCE(SUM(b.duration_seconds), 0) AS seconds,
      COALESCE(SUM(CASE WHEN ${LAST_OF_DAY} THEN b.examined_files ELSE 0 END), 0) AS files,
      COALESCE(SUM(CASE WHEN ${LAST_OF_DAY} THEN b.size ELSE 0 END), 0) AS size,
      COALESCE(SUM(CASE WHEN ${LAST_OF_DAY} THEN b.known_file_size ELSE 0 END), 0) AS storage,
      COALESCE(SUM(CASE WHEN ${LAST_OF_DAY} THEN b.backup_list_count ELSE 0 END), 0) AS versions
    ${from}
    GROUP BY substr(b.date, 1, 10) ORDER BY day`;
  return q.all<DailyRow>(sql, serverId === undefined ? [since] : [serverId, since]);
}

const RUN_FIELDS = RUN_COLUMNS.map((c) => `b.${c}`).join(", ");

/**
 * One page of a server's runs (optionally of one job), newest first. For a whole server, each job contributes only
 * its newest offset + limit runs (an index range found as in listStatusHistory) before the sort, so a page never
 * sorts the server's whole history.
 */
export function listRunsPage(
  q: Queryable,
  serverId: string,
  page: { limit: number; offset: number; backupName?: string },
): Promise<RunRecord[]> {
  if (page.backupName !== undefined) {
    return q.all<RunRecord>(
      `SELECT ${RUN_FIELDS} FROM backups b WHERE b.server_id = ? AND b.backup_name = ? ORDER BY b.date DESC LIMIT ? OFFSET ?`,
      [serverId, page.backupName, page.limit, page.offset],
    );
  }
  return q.all<RunRecord>(
    `SELECT ${RUN_FIELDS}
       FROM jobs j CROSS JOIN backups b
      WHERE j.server_id = ? AND b.server_id = j.server_id AND b.backup_name = j.backup_name
        AND b.date >= COALESCE((SELECT h.date FROM backups h WHERE h.server_id = j.server_id AND h.backup_name = j.backup_name
                                ORDER BY h.date DESC LIMIT 1 OFFSET ?), '')
      ORDER BY b.date DESC, b.backup_name LIMIT ? OFFSET ?`,
    [serverId, page.offset + page.limit - 1, page.limit, page.offset],
  );
}

/** Number of runs of a server (or of one of its jobs), from the maintained job counters. */
export async function countRuns(q: Queryable, serverId: string, backupName?: string): Promise<number> {
  const row =
    backupName === undefined
      ? await q.get<{ n: number | null }>(`SELECT SUM(run_count) AS n FROM jobs WHERE server_id = ?`, [serverId])
      : await q.get<{ n: number | null }>(
          `SELECT SUM(run_count) AS n FROM jobs WHERE server_id = ? AND backup_name = ?`,
          [serverId, backupName],
        );
  return Number(row?.n ?? 0);
}

export interface LatestTimestampRow {
  server_name: string;
  server_id: string;
  backup_name: string;
  date: string;
}

/** The latest run date of every job, from the jobs table. */
export function listLatestTimestamps(q: Queryable): Promise<LatestTimestampRow[]> {
  return q.all<LatestTimestampRow>(
    `SELECT s.name AS server_name, j.server_id, j.backup_name, j.latest_date AS date
       FROM jobs j JOIN servers s ON s.id = j.server_id
      WHERE j.latest_date IS NOT NULL
      ORDER BY s.name, j.server_id, j.backup_name`,
  );
}

/** Server × job rows (jobs with runs) with the job's next expected and latest run, by server name then job. */
export interface ServerJobRow extends ServerFlagsRow {
  backup_name: string;
  next_expected_at: string | null;
  latest_date: string | null;
}

export function listServerJobs(q: Queryable): Promise<ServerJobRow[]> {
  return q.all<ServerJobRow>(
    `SELECT s.id, s.name, s.server_url, s.alias, s.note, s.created_at,
            CASE WHEN s.server_password <> '' THEN 1 ELSE 0 END AS has_password,
            j.backup_name, j.next_expected_at, j.latest_date
       FROM servers s JOIN jobs j ON j.server_id = s.id
      WHERE j.run_count > 0
      ORDER BY s.name, s.id, j.backup_name`,
  );
}
