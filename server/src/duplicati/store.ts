import type { Queryable } from "../db/database";

/** SQL of the Duplicati connection: a server's stored address and (encrypted) password. */

export interface ConnectionRow {
  id: string;
  name: string;
  alias: string;
  server_url: string;
  server_password: string;
}

export function getConnection(q: Queryable, id: string): Promise<ConnectionRow | undefined> {
  return q.get<ConnectionRow>(`SELECT id, name, alias, server_url, server_password FROM servers WHERE id = ?`, [id]);
}

/** Servers that can be collected from without being told how: a stored address and password. */
export function listCollectable(q: Queryable): Promise<ConnectionRow[]> {
  return q.all<ConnectionRow>(
    `SELECT id, name, alias, server_url, server_password FROM servers
      WHERE server_url <> '' AND server_password <> '' ORDER BY name, id`,
  );
}

export async function setServerPassword(q: Queryable, id: string, stored: string, now: string): Promise<void> {
  await q.run(`UPDATE servers SET server_password = ?, updated_at = ? WHERE id = ?`, [stored, now, id]);
}

/**
 * Records a server found on a Duplicati: created with its name, address and password, or updated (name, address,
 * and the password when one is given) keeping alias and note. Returns whether it was created and the old name when
 * it changed.
 */
export async function upsertCollectedServer(
  q: Queryable,
  input: { id: string; name: string; url: string; password: string | null; now: string },
): Promise<{ created: boolean; previousName?: string; alias: string }> {
  const existing = await getConnection(q, input.id);
  if (!existing) {
    await q.run(
      `INSERT INTO servers (id, name, server_url, server_password, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
      [input.id, input.name, input.url, input.password ?? "", input.now, input.now],
    );
    return { created: true, alias: "" };
  }
  await q.run(
    `UPDATE servers SET name = ?, server_url = ?, server_password = COALESCE(?, server_password), updated_at = ?
      WHERE id = ?`,
    [input.name, input.url, input.password, input.now, input.id],
  );
  return {
    created: false,
    alias: existing.alias,
    ...(existing.name !== input.name ? { previousName: existing.name } : {}),
  };
}
