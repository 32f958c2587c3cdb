import type { Queryable } from "../db/database";
import type { TokenScope } from "../auth/principal";

/**
 * SQL for managing API tokens. Looking a token up by its value (on every request) stays in auth/token-store.ts,
 * next to the access policy that uses it; this module is the admin side: create, list, revoke.
 */

export interface ApiTokenRow {
  id: string;
  name: string;
  scope: TokenScope;
  token_prefix: string;
  created_by: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface NewApiToken {
  id: string;
  name: string;
  scope: TokenScope;
  tokenHash: string;
  tokenPrefix: string;
  createdBy: string | null;
  createdAt: string;
}

export async function insertApiToken(q: Queryable, t: NewApiToken): Promise<void> {
  await q.run(
    `INSERT INTO api_tokens (id, name, scope, token_hash, token_prefix, created_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
    [t.id, t.name, t.scope, t.tokenHash, t.tokenPrefix, t.createdBy, t.createdAt],
  );
}

/** Never selects token_hash: nothing that lists tokens can leak it. */
export function listApiTokens(q: Queryable, includeRevoked: boolean): Promise<ApiTokenRow[]> {
  return q.all<ApiTokenRow>(
    `SELECT id, name, scope, token_prefix, created_by, created_at, last_used_at, revoked_at
     FROM api_tokens ${includeRevoked ? "" : "WHERE revoked_at IS NULL"}
     ORDER BY created_at DESC, id`,
  );
}

export function getActiveApiToken(q: Queryable, id: string): Promise<ApiTokenRow | undefined> {
  return q.get<ApiTokenRow>(
    `SELECT id, name, scope, token_prefix, created_by, created_at, last_used_at, revoked_at
     FROM api_tokens WHERE id = ? AND revoked_at IS NULL`,
    [id],
  );
}

/** Returns whether an active token was revoked (false: unknown or already revoked). */
export async function revokeApiToken(q: Queryable, id: string, now: string): Promise<boolean> {
  const { changes } = await q.run(`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, [
    now,
    id,
  ]);
  return changes > 0;
}
