import { createHash, randomBytes } from "node:crypto";
import type { Queryable } from "../db/database";
import type { SessionUser } from "./principal";

/** Session and CSRF rules of the original: 24 h sessions, 30 min CSRF tokens re-issued when < 5 min remain. */
export const SESSION_TTL_MS = 24 * 60 * 60 * 1000;
export const CSRF_TTL_MS = 30 * 60 * 1000;
export const CSRF_REUSE_MIN_MS = 5 * 60 * 1000;
export const SESSION_COOKIE = "sessionId";
/** last_accessed is refreshed at most this often, so reads do not turn into writes. */
const TOUCH_EVERY_MS = 60 * 1000;

export const sha256Hex = (value: string): string => createHash("sha256").update(value).digest("hex");
export const newOpaqueId = (): string => randomBytes(32).toString("hex");

export interface SessionRecord {
  idHash: string;
  user: SessionUser | null;
  expiresAt: string;
  lastAccessed: string;
  csrfToken: string | null;
  csrfExpiresAt: string | null;
}

interface Row {
  id_hash: string;
  expires_at: string;
  last_accessed: string;
  csrf_token: string | null;
  csrf_expires_at: string | null;
  user_id: string | null;
  username: string | null;
  is_admin: number | null;
  must_change_password: number | null;
  locked_until: string | null;
}

/** Finds a live session by its cookie value; expired sessions are deleted on sight; a locked user has none. */
export async function findSession(q: Queryable, cookieValue: string, now: Date): Promise<SessionRecord | null> {
  const idHash = sha256Hex(cookieValue);
  const row = await q.get<Row>(
    `SELECT s.id_hash, s.expires_at, s.last_accessed, s.csrf_token, s.csrf_expires_at, s.user_id,
            u.username, u.is_admin, u.must_change_password, u.locked_until
       FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`,
    [idHash],
  );
  if (!row) return null;
  const nowIso = now.toISOString();
  if (row.expires_at <= nowIso) {
    await q.run(`DELETE FROM sessions WHERE id_hash = ?`, [idHash]);
    return null;
  }
  if (row.user_id && (!row.username || (row.locked_until && row.locked_until > nowIso))) return null;
  return {
    idHash,
    user:
      row.user_id && row.username
        ? {
            id: row.user_id,
            username: row.username,
            isAdmin: Number(row.is_admin) === 1,
            mustChangePassword: Number(row.must_change_password) === 1,
          }
        : null,
    expiresAt: row.expires_at,
    lastAccessed: row.last_accessed,
    csrfToken: row.csrf_token,
    csrfExpiresAt: row.csrf_expires_at,
  };
}

export async function touchSession(q: Queryable, s: SessionRecord, now: Date): Promise<void> {
  if (now.getTime() - Date.parse(s.lastAccessed) < TOUCH_EVERY_MS) return;
  await q.run(`UPDATE sessions SET last_accessed = ? WHERE id_hash = ?`, [now.toISOString(), s.idHash]);
}

/** Creates a session and returns the cookie value (only its hash is stored). */
export async function createSession(
  q: Queryable,
  input: { userId: string | null; now: Date; ip?: string | null; userAgent?: string | null },
): Promise<{ cookieValue: string; idHash: string; expiresAt: string }> {
  const cookieValue = newOpaqueId();
  const idHash = sha256Hex(cookieValue);
  const nowIso = input.now.toISOString();
  const expiresAt = new Date(input.now.getTime() + SESSION_TTL_MS).toISOString();
  await q.run(
    `INSERT INTO sessions (id_hash, user_id, created_at, last_accessed, expires_at, ip_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    [idHash, input.userId, nowIso, nowIso, expiresAt, input.ip ?? null, input.userAgent?.slice(0, 500) ?? null],
  );
  // Opportunistic clean-up keeps the table small without a dedicated job.
  await q.run(`DELETE FROM sessions WHERE expires_at <= ?`, [nowIso]);
  return { cookieValue, idHash, expiresAt };
}

export async function deleteSession(q: Queryable, idHash: string): Promise<number> {
  return (await q.run(`DELETE FROM sessions WHERE id_hash = ?`, [idHash])).changes;
}

/** Returns the session's CSRF token, issuing a new one when there is none or it is about to expire. */
export async function issueCsrfToken(
  q: Queryable,
  s: { idHash: string; csrfToken: string | null; csrfExpiresAt: string | null },
  now: Date,
): Promise<string> {
  if (s.csrfToken && s.csrfExpiresAt && Date.parse(s.csrfExpiresAt) - now.getTime() > CSRF_REUSE_MIN_MS) {
    return s.csrfToken;
  }
  const token = newOpaqueId();
  await q.run(`UPDATE sessions SET csrf_token = ?, csrf_expires_at = ? WHERE id_hash = ?`, [
    token,
    new Date(now.getTime() + CSRF_TTL_MS).toISOString(),
    s.idHash,
  ]);
  return token;
}
