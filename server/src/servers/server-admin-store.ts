import type { Queryable } from "../db/database";
import type { ServerRow } from "../db/entities";
import { getConfigValue, setConfigValue } from "../store/configuration-store";

/**
 * SQL of server management: edits, deletion with everything keyed by the server, duplicate groups and merging.
 * Callers run these inside one `db.write`.
 */

/** First and last run date of the given servers: the span the chart roll-ups must be rebuilt over. */
export async function runDateSpan(
  q: Queryable,
  serverIds: readonly string[],
): Promise<{ from: string; to: string } | null> {
  if (serverIds.length === 0) return null;
  const row = await q.get<{ first: string | null; last: string | null }>(
    `SELECT MIN(date) AS first, MAX(date) AS last FROM backups WHERE server_id IN (${serverIds.map(() => "?").join(", ")})`,
    serverIds,
  );
  return row?.first && row.last ? { from: row.first, to: row.last } : null;
}

export function getServerRow(q: Queryable, id: string): Promise<ServerRow | undefined> {
  return q.get<ServerRow>(
    `SELECT id, name, server_url, alias, note, server_password, created_at, updated_at FROM servers WHERE id = ?`,
    [id],
  );
}

export type EditableServerField = "server_url" | "alias" | "note";

/** Sets only the given fields (and updated_at). */
export async function updateServerFields(
  q: Queryable,
  id: string,
  fields: Partial<Record<EditableServerField, string>>,
  now: string,
): Promise<void> {
  const entries = Object.entries(fields).filter(([, v]) => v !== undefined) as Array<[EditableServerField, string]>;
  await q.run(`UPDATE servers SET ${[...entries.map(([k]) => `${k} = ?`), "updated_at = ?"].join(", ")} WHERE id = ?`, [
    ...entries.map(([, v]) => v),
    now,
    id,
  ]);
}

export interface DeletedCounts {
  runs: number;
  jobs: number;
  notificationSettings: number;
  servers: number;
}

/**
 * Deletes a server and everything keyed by it: runs, job state (with monitoring settings), notification
 * preferences (incl. its "__default__" row) and its keys in the legacy per-job settings maps. Explicit deletes
 * rather than relying on ON DELETE CASCADE, so the counts are known and a database without foreign keys enforced
 * is cleaned up too.
 */
export async function deleteServerCascade(q: Queryable, id: string): Promise<DeletedCounts> {
  const runs = (await q.run(`DELETE FROM backups WHERE server_id = ?`, [id])).changes;
  const jobs = (await q.run(`DELETE FROM jobs WHERE server_id = ?`, [id])).changes;
  const notificationSettings = (await q.run(`DELETE FROM job_notification_settings WHERE server_id = ?`, [id])).changes;
  const servers = (await q.run(`DELETE FROM servers WHERE id = ?`, [id])).changes;
  await rekeyLegacySettingMaps(q, id, null);
  return { runs, jobs, notificationSettings, servers };
}

/**
 * The original kept per-job settings in JSON maps under configuration keys ("sid:job" → …). This core keeps them
 * in tables, but a database imported from the original may still carry the maps; their keys of `fromId` are
 * dropped (`toId` null) or moved to `toId` (an entry the target already has wins).
 */
export const LEGACY_SETTING_MAPS = ["backup_settings", "overdue_notifications"] as const;

export async function rekeyLegacySettingMaps(q: Queryable, fromId: string, toId: string | null): Promise<void> {
  const prefix = `${fromId}:`;
  for (const key of LEGACY_SETTING_MAPS) {
    const raw = await getConfigValue(q, key);
    if (!raw) continue;
    let map: unknown;
    try {
      map = JSON.parse(raw);
    } catch {
      continue;
    }
    if (!map || typeof map !== "object" || Array.isArray(map)) continue;
    const entries = Object.entries(map as Record<string, unknown>);
    if (!entries.some(([k]) => k.startsWith(prefix))) continue;
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) if (!k.startsWith(prefix)) out[k] = v;
    if (toId !== null) {
      for (const [k, v] of entries) {
        if (!k.startsWith(prefix)) continue;
        const moved = `${toId}:${k.slice(prefix.length)}`;
        if (!(moved in out)) out[moved] = v;
      }
    }
    await setConfigValue(q, key, JSON.stringify(out));
  }
}

export interface DuplicateServerRow {
  id: string;
  name: string;
  created_at: string;
  alias: string;
  note: string;
  server_url: string;
  run_count: number;
  last_backup_date: string | null;
}

/**
 * Servers whose name at least one other server shares, newest first within a name. Ids that are empty or look
 * like URLs (rows of very old versions of the original) are left out, as the original does.
 */
export function listDuplicateServers(q: Queryable): Promise<DuplicateServerRow[]> {
  const valid = `id <> '' AND id NOT LIKE 'http://%' AND id NOT LIKE 'https://%'`;
  return q.all<DuplicateServerRow>(
    `SELECT s.id, s.name, s.created_at, s.alias, s.note, s.server_url,
            COALESCE((SELECT SUM(j.run_count) FROM jobs j WHERE j.server_id = s.id), 0) AS run_count,
            (SELECT MAX(j.latest_date) FROM jobs j WHERE j.server_id = s.id) AS last_backup_date
       FROM servers s
      WHERE ${valid.replace(/id/g, "s.id")}
        AND s.name IN (SELECT name FROM servers WHERE ${valid} GROUP BY name HAVING COUNT(*) > 1)
      ORDER BY s.name, s.created_at DESC, s.id`,
  );
}

export interface MergeStep {
  /** Runs of the old server moved to the target. */
  moved: number;
  /** Runs of the old server dropped because the target has a run of the same job at the same time. */
  dropped: number;
  /** Job names the old server had (runs or a jobs row). */
  jobs: string[];
}

/**
 * Moves one old server's runs, job rows and notification preferences to the target. A run the target already has
 * (same job and begin time: the unique index) is dropped rather than moved, so the index holds; a job row or
 * preference row the target already has wins over the old one. The old server row is not deleted here.
 */
export async function moveServerData(q: Queryable, fromId: string, toId: string): Promise<MergeStep> {
  const names = await q.all<{ backup_name: string }>(
    `SELECT DISTINCT backup_name FROM backups WHERE server_id = ?
     UNION SELECT backup_name FROM jobs WHERE server_id = ?`,
    [fromId, fromId],
  );
  const dropped = (
    await q.run(
      `DELETE FROM backups WHERE server_id = ? AND EXISTS (
         SELECT 1 FROM backups t WHERE t.server_id = ? AND t.backup_name = backups.backup_name AND t.date = backups.date)`,
      [fromId, toId],
    )
  ).changes;
  const moved = (await q.run(`UPDATE backups SET server_id = ? WHERE server_id = ?`, [toId, fromId])).changes;
  for (const table of ["jobs", "job_notification_settings"]) {
    await q.run(
      `UPDATE ${table} SET server_id = ? WHERE server_id = ?
          AND backup_name NOT IN (SELECT backup_name FROM ${table} WHERE server_id = ?)`,
      [toId, fromId, toId],
    );
    await q.run(`DELETE FROM ${table} WHERE server_id = ?`, [fromId]);
  }
  await rekeyLegacySettingMaps(q, fromId, toId);
  return { moved, dropped, jobs: names.map((n) => n.backup_name) };
}

export interface MergeJobRow {
  latest_date: string | null;
  backup_id: string;
  next_expected_at: string | null;
  expected_interval: string;
  allowed_weekdays: string;
}

export function getMergeJob(q: Queryable, serverId: string, backupName: string): Promise<MergeJobRow | undefined> {
  return q.get<MergeJobRow>(
    `SELECT latest_date, backup_id, next_expected_at, expected_interval, allowed_weekdays
       FROM jobs WHERE server_id = ? AND backup_name = ?`,
    [serverId, backupName],
  );
}

export async function countJobRuns(q: Queryable, serverId: string, backupName: string): Promise<number> {
  const row = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM backups WHERE server_id = ? AND backup_name = ?`, [
    serverId,
    backupName,
  ]);
  return Number(row?.n ?? 0);
}

/** Gives every run of a job the backup_id of its newest run (the original's normalisation after a merge). */
export async function alignBackupIds(
  q: Queryable,
  serverId: string,
  backupName: string,
  backupId: string,
): Promise<number> {
  return (
    await q.run(`UPDATE backups SET backup_id = ? WHERE server_id = ? AND backup_name = ? AND backup_id <> ?`, [
      backupId,
      serverId,
      backupName,
      backupId,
    ])
  ).changes;
}

export async function setMergedFields(
  q: Queryable,
  id: string,
  fields: Pick<ServerRow, "server_url" | "alias" | "note" | "server_password">,
  now: string,
): Promise<void> {
  await q.run(
    `UPDATE servers SET server_url = ?, alias = ?, note = ?, server_password = ?, updated_at = ? WHERE id = ?`,
    [fields.server_url, fields.alias, fields.note, fields.server_password, now, id],
  );
}
