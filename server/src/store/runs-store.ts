import type { Queryable } from "../db/database";
import { RUN_COLUMNS, type RunRecord } from "../core/domain";

/** SQL for the `backups` table (one row per run). */

const INSERT_RUN_SQL =
  `INSERT INTO backups (${RUN_COLUMNS.join(", ")}) VALUES (${RUN_COLUMNS.map(() => "?").join(", ")}) ` +
  `ON CONFLICT (server_id, backup_name, date) DO NOTHING`;

/**
 * Inserts a run unless one with the same (server, job, begin time) exists. The unique index decides, so two
 * concurrent uploads of the same report cannot both get in. Returns false for a duplicate.
 */
export async function insertRun(q: Queryable, run: RunRecord): Promise<boolean> {
  const { changes } = await q.run(
    INSERT_RUN_SQL,
    RUN_COLUMNS.map((c) => run[c]),
  );
  return changes === 1;
}

export const RUN_SELECT = `SELECT ${RUN_COLUMNS.map((c) => `b.${c}`).join(", ")} FROM backups b`;

export async function maxRunDate(q: Queryable): Promise<string | null> {
  const row = await q.get<{ d: string | null }>(`SELECT MAX(date) AS d FROM backups`);
  return row?.d ?? null;
}
