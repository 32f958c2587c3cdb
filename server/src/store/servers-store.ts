import type { Queryable } from "../db/database";
import type { ServerRow } from "../db/entities";

/** SQL for the `servers` table. */

const PUBLIC_COLUMNS = "id, name, server_url, alias, note, created_at, updated_at";
export type ServerPublicRow = Omit<ServerRow, "server_password">;

export function getServerById(q: Queryable, id: string): Promise<ServerPublicRow | undefined> {
  return q.get<ServerPublicRow>(`SELECT ${PUBLIC_COLUMNS} FROM servers WHERE id = ?`, [id]);
}

export function findServersByName(q: Queryable, name: string): Promise<ServerPublicRow[]> {
  return q.all<ServerPublicRow>(`SELECT ${PUBLIC_COLUMNS} FROM servers WHERE name = ? ORDER BY created_at DESC`, [
    name,
  ]);
}

export interface ServerUpsertResult {
  server: ServerPublicRow;
  created: boolean;
  previousName?: string;
}

/**
 * Creates the server on its first report; afterwards its name follows the newest run (a renamed machine shows its
 * new name while its id, Duplicati's machine-id, stays). A late report of an older run, e.g. a Duplicati retry or a
 * re-sent history, does not rename the server back.
 */
export async function upsertServerFromReport(
  q: Queryable,
  input: { id: string; name: string; now: string; runDate: string },
  /**
   * The dialect's row lock (Dialect.forUpdate). On PostgreSQL the server row is locked for the rest of the upload:
   * uploads of one server take turns (its jobs, roll-up neighbours and name stay consistent across instances) while
   * other servers' uploads run beside them.
   */
  forUpdate = "",
): Promise<ServerUpsertResult> {
  let existing = await q.get<ServerPublicRow>(`SELECT ${PUBLIC_COLUMNS} FROM servers WHERE id = ?${forUpdate}`, [
    input.id,
  ]);
  if (!existing) {
    // Another instance may insert the same new server at the same moment: the loser waits for its commit, inserts
    // nothing, and goes on with the winner's row (locked).
    const { changes } = await q.run(
      `INSERT INTO servers (id, name, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      [input.id, input.name, input.now, input.now],
    );
    if (changes === 0) {
      existing = await q.get<ServerPublicRow>(`SELECT ${PUBLIC_COLUMNS} FROM servers WHERE id = ?${forUpdate}`, [
        input.id,
      ]);
    }
  }
  if (!existing) {
    const server: ServerPublicRow = {
      id: input.id,
      name: input.name,
      server_url: "",
      alias: "",
      note: "",
      created_at: input.now,
      updated_at: input.now,
    };
    return { server, created: true };
  }
  if (existing.name !== input.name && !(await hasNewerRun(q, input.id, input.runDate))) {
    await q.run(`UPDATE servers SET name = ?, updated_at = ? WHERE id = ?`, [input.name, input.now, input.id]);
    return {
      server: { ...existing, name: input.name, updated_at: input.now },
      created: false,
      previousName: existing.name,
    };
  }
  return { server: existing, created: false };
}

async function hasNewerRun(q: Queryable, serverId: string, runDate: string): Promise<boolean> {
  const row = await q.get<{ d: string | null }>(`SELECT MAX(latest_date) AS d FROM jobs WHERE server_id = ?`, [
    serverId,
  ]);
  return row?.d != null && row.d > runDate;
}

export async function countServers(q: Queryable): Promise<number> {
  const row = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM servers`);
  return Number(row?.n ?? 0);
}
