import { randomBytes } from "node:crypto";
import type { Queryable } from "../db/database";
import type { TokenScope } from "./principal";
import { sha256Hex } from "./session-store";

/** API tokens: `dsk_` + 256 random bits; only the SHA-256 digest and a short prefix (for display) are stored. */
export const TOKEN_PREFIX = "dsk_";
const LAST_USED_EVERY_MS = 60 * 1000;

export const newTokenValue = (): string => `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;

export interface TokenRecord {
  id: string;
  name: string;
  scope: TokenScope;
  lastUsedAt: string | null;
}

export async function findActiveToken(q: Queryable, value: string): Promise<TokenRecord | null> {
  const row = await q.get<{ id: string; name: string; scope: TokenScope; last_used_at: string | null }>(
    `SELECT id, name, scope, last_used_at FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL`,
    [sha256Hex(value)],
  );
  return row ? { id: row.id, name: row.name, scope: row.scope, lastUsedAt: row.last_used_at } : null;
}

/** Whether last_used_at is stale enough to be worth a write. */
export const shouldRecordUse = (t: TokenRecord, now: Date): boolean =>
  !t.lastUsedAt || now.getTime() - Date.parse(t.lastUsedAt) >= LAST_USED_EVERY_MS;

export async function recordTokenUse(q: Queryable, id: string, now: Date): Promise<void> {
  await q.run(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, [now.toISOString(), id]);
}
