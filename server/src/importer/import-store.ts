import type { Queryable } from "../db/database";
import type { NotificationPrefsRow } from "../monitoring/settings-store";
import { getNotificationPrefs, upsertNotificationPrefs } from "../monitoring/settings-store";
import { getConfigValue, setConfigValue } from "../store/configuration-store";

/** SQL of the import that no other room needs. Callers run these inside the import's one transaction. */

export interface ImportJobRow {
  server_id: string;
  backup_name: string;
  run_count: number;
  latest_date: string | null;
  monitoring_enabled: number;
  expected_interval: string;
  allowed_weekdays: string;
  next_expected_at: string | null;
  next_scheduled_run: string | null;
  overdue_since: string | null;
}

export function getImportJob(q: Queryable, serverId: string, backupName: string): Promise<ImportJobRow | undefined> {
  return q.get<ImportJobRow>(
    `SELECT server_id, backup_name, run_count, latest_date, monitoring_enabled, expected_interval, allowed_weekdays,
            next_expected_at, next_scheduled_run, overdue_since
       FROM jobs WHERE server_id = ? AND backup_name = ?`,
    [serverId, backupName],
  );
}

export async function listServerIds(q: Queryable): Promise<string[]> {
  return (await q.all<{ id: string }>(`SELECT id FROM servers`)).map((r) => r.id);
}

export async function insertServer(
  q: Queryable,
  s: { id: string; name: string; server_url: string; alias: string; note: string; server_password: string },
  createdAt: string,
  now: string,
): Promise<void> {
  await q.run(
    `INSERT INTO servers (id, name, server_url, alias, note, server_password, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [s.id, s.name, s.server_url, s.alias, s.note, s.server_password, createdAt, now],
  );
}

export type FillableServerField = "server_url" | "alias" | "note" | "server_password";

export async function fillServerFields(
  q: Queryable,
  id: string,
  fields: Partial<Record<FillableServerField, string>>,
  now: string,
): Promise<void> {
  const entries = Object.entries(fields) as Array<[FillableServerField, string]>;
  if (entries.length === 0) return;
  await q.run(`UPDATE servers SET ${[...entries.map(([k]) => `${k} = ?`), "updated_at = ?"].join(", ")} WHERE id = ?`, [
    ...entries.map(([, v]) => v),
    now,
    id,
  ]);
}

/** The (server, job, date) of the run stored under `id`, if any: an id the original reused must not clash. */
export function runKeyById(
  q: Queryable,
  id: string,
): Promise<{ server_id: string; backup_name: string; date: string } | undefined> {
  return q.get(`SELECT server_id, backup_name, date FROM backups WHERE id = ?`, [id]);
}

type Prefs = Omit<NotificationPrefsRow, "server_id" | "backup_name">;
const PREF_FIELDS = [
  "notification_event",
  "ntfy_enabled",
  "email_enabled",
  "additional_notification_event",
  "additional_emails",
  "additional_ntfy_topic",
] as const satisfies readonly (keyof Prefs)[];

/** Writes a job's (or a server's "__default__") notification preferences unless they are already these. */
export async function upsertPrefsIfChanged(
  q: Queryable,
  serverId: string,
  backupName: string,
  prefs: Prefs,
  now: string,
): Promise<boolean> {
  const current = await getNotificationPrefs(q, serverId, backupName);
  const norm = (v: unknown): unknown => (v === null || v === undefined ? null : typeof v === "number" ? Number(v) : v);
  if (current && PREF_FIELDS.every((f) => norm(current[f]) === norm(prefs[f]))) return false;
  await upsertNotificationPrefs(q, { server_id: serverId, backup_name: backupName, ...prefs }, now);
  return true;
}

/** Sets a configuration value unless it already holds it. Returns whether it changed. */
export async function setConfigIfChanged(q: Queryable, key: string, value: string): Promise<boolean> {
  if ((await getConfigValue(q, key)) === value) return false;
  await setConfigValue(q, key, value);
  return true;
}
