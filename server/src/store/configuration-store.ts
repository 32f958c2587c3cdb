import type { Queryable } from "../db/database";

/** The key/value `configurations` table (the original's keys and string values). */

export async function getConfigValue(q: Queryable, key: string): Promise<string | null> {
  const row = await q.get<{ value: string | null }>(`SELECT value FROM configurations WHERE key = ?`, [key]);
  return row?.value ?? null;
}

export async function setConfigValue(q: Queryable, key: string, value: string): Promise<void> {
  await q.run(
    `INSERT INTO configurations (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    [key, value],
  );
}
