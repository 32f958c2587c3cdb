import type { Queryable } from "../db/database";
import type { NotificationEvent } from "./settings-types";

/** SQL for per-job monitoring state (on `jobs`) and notification preferences (`job_notification_settings`). */

export interface JobMonitoringRow {
  server_id: string;
  backup_name: string;
  server_name: string;
  server_alias: string;
  server_note: string;
  server_url: string;
  run_count: number;
  latest_date: string | null;
  latest_status: string | null;
  latest_run_id: string | null;
  monitoring_enabled: number;
  expected_interval: string;
  allowed_weekdays: string;
  next_expected_at: string | null;
  overdue_since: string | null;
  overdue_notified_at: string | null;
  overdue_notice_count: number;
  notification_event: NotificationEvent | null;
  ntfy_enabled: number | null;
  email_enabled: number | null;
  additional_notification_event: NotificationEvent | null;
  additional_emails: string | null;
  additional_ntfy_topic: string | null;
}

const SELECT_JOBS = `SELECT j.server_id, j.backup_name, s.name AS server_name, s.alias AS server_alias, s.note AS server_note,
    s.server_url, j.run_count, j.latest_date, j.latest_status, j.latest_run_id, j.monitoring_enabled, j.expected_interval,
    j.allowed_weekdays, j.next_expected_at, j.overdue_since, j.overdue_notified_at, j.overdue_notice_count,
    n.notification_event, n.ntfy_enabled, n.email_enabled, n.additional_notification_event, n.additional_emails,
    n.additional_ntfy_topic
  FROM jobs j
  JOIN servers s ON s.id = j.server_id
  LEFT JOIN job_notification_settings n ON n.server_id = j.server_id AND n.backup_name = j.backup_name`;

export function listJobs(q: Queryable): Promise<JobMonitoringRow[]> {
  return q.all<JobMonitoringRow>(`${SELECT_JOBS} ORDER BY s.name, j.backup_name`);
}

export function getJob(q: Queryable, serverId: string, backupName: string): Promise<JobMonitoringRow | undefined> {
  return q.get<JobMonitoringRow>(`${SELECT_JOBS} WHERE j.server_id = ? AND j.backup_name = ?`, [serverId, backupName]);
}

/**
 * Jobs the overdue checker must look at: monitored jobs whose deadline has passed, and jobs in an open episode
 * (which may have to be cleared). Served by the next_expected_at index, so a check does not read every job.
 */
export function listCheckCandidates(q: Queryable, cutoffIso: string): Promise<JobMonitoringRow[]> {
  return q.all<JobMonitoringRow>(
    `${SELECT_JOBS} WHERE (j.run_count > 0 AND j.monitoring_enabled = 1 AND j.next_expected_at < ?)
        OR j.overdue_since IS NOT NULL`,
    [cutoffIso],
  );
}

export interface NotificationPrefsRow {
  server_id: string;
  backup_name: string;
  notification_event: NotificationEvent | null;
  ntfy_enabled: number | null;
  email_enabled: number | null;
  additional_notification_event: NotificationEvent | null;
  additional_emails: string | null;
  additional_ntfy_topic: string | null;
}

export function listNotificationPrefs(q: Queryable): Promise<NotificationPrefsRow[]> {
  return q.all<NotificationPrefsRow>(
    `SELECT server_id, backup_name, notification_event, ntfy_enabled, email_enabled, additional_notification_event,
            additional_emails, additional_ntfy_topic FROM job_notification_settings`,
  );
}

export function getNotificationPrefs(
  q: Queryable,
  serverId: string,
  backupName: string,
): Promise<NotificationPrefsRow | undefined> {
  return q.get<NotificationPrefsRow>(
    `SELECT server_id, backup_name, notification_event, ntfy_enabled, email_enabled, additional_notification_event,
            additional_emails, additional_ntfy_topic FROM job_notification_settings WHERE server_id = ? AND backup_name = ?`,
    [serverId, backupName],
  );
}

export async function upsertNotificationPrefs(q: Queryable, row: NotificationPrefsRow, now: string): Promise<void> {
  await q.run(
    `INSERT INTO job_notification_settings (server_id, backup_name, notification_event, ntfy_enabled, email_enabled,
        additional_notification_event, additional_emails, additional_ntfy_topic, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (server_id, backup_name) DO UPDATE SET notification_event = excluded.notification_event,
        ntfy_enabled = excluded.ntfy_enabled, email_enabled = excluded.email_enabled,
        additional_notification_event = excluded.additional_notification_event,
        additional_emails = excluded.additional_emails, additional_ntfy_topic = excluded.additional_ntfy_topic,
        updated_at = excluded.updated_at`,
    [
      row.server_id,
      row.backup_name,
      row.notification_event,
      row.ntfy_enabled,
      row.email_enabled,
      row.additional_notification_event,
      row.additional_emails,
      row.additional_ntfy_topic,
      now,
    ],
  );
}

export async function deleteAllNotificationPrefs(q: Queryable): Promise<void> {
  await q.run(`DELETE FROM job_notification_settings`);
}

export async function serverExists(q: Queryable, serverId: string): Promise<boolean> {
  return (await q.get<{ id: string }>(`SELECT id FROM servers WHERE id = ?`, [serverId])) !== undefined;
}

/** Creates the jobs row of a job known only from settings or a schedule (no runs yet). */
export async function ensureJobRow(q: Queryable, serverId: string, backupName: string, now: string): Promise<void> {
  await q.run(
    `INSERT INTO jobs (server_id, backup_name, updated_at) VALUES (?, ?, ?) ON CONFLICT (server_id, backup_name) DO NOTHING`,
    [serverId, backupName, now],
  );
}

export async function updateSchedule(
  q: Queryable,
  input: {
    serverId: string;
    backupName: string;
    monitoringEnabled: boolean;
    expectedInterval: string;
    allowedWeekdays: string;
    nextExpectedAt: string | null;
    resetEpisode: boolean;
    now: string;
  },
): Promise<void> {
  await q.run(
    `UPDATE jobs SET monitoring_enabled = ?, expected_interval = ?, allowed_weekdays = ?, next_expected_at = ?,
        updated_at = ?${input.resetEpisode ? ", overdue_notified_at = NULL" : ""}
      WHERE server_id = ? AND backup_name = ?`,
    [
      input.monitoringEnabled ? 1 : 0,
      input.expectedInterval,
      input.allowedWeekdays,
      input.nextExpectedAt,
      input.now,
      input.serverId,
      input.backupName,
    ],
  );
}

export async function setNextExpected(
  q: Queryable,
  serverId: string,
  backupName: string,
  next: string | null,
): Promise<void> {
  await q.run(`UPDATE jobs SET next_expected_at = ? WHERE server_id = ? AND backup_name = ?`, [
    next,
    serverId,
    backupName,
  ]);
}

export async function openOrRenotifyEpisode(
  q: Queryable,
  serverId: string,
  backupName: string,
  input: { overdueSince: string; notifiedAt: string; noticeCount: number },
): Promise<void> {
  await q.run(
    `UPDATE jobs SET overdue_since = ?, overdue_notified_at = ?, overdue_notice_count = ? WHERE server_id = ? AND backup_name = ?`,
    [input.overdueSince, input.notifiedAt, input.noticeCount, serverId, backupName],
  );
}

export async function closeEpisode(q: Queryable, serverId: string, backupName: string): Promise<void> {
  await q.run(
    `UPDATE jobs SET overdue_since = NULL, overdue_notified_at = NULL, overdue_notice_count = 0 WHERE server_id = ? AND backup_name = ?`,
    [serverId, backupName],
  );
}

/** "Reset notifications": forget when each open episode was last notified, so the next check notifies again. */
export async function clearNotificationTimestamps(q: Queryable): Promise<number> {
  return (await q.run(`UPDATE jobs SET overdue_notified_at = NULL WHERE overdue_since IS NOT NULL`)).changes;
}
