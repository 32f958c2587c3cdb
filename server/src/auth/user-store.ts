import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/database";

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  is_admin: number;
  must_change_password: number;
  created_at: string;
  updated_at: string;
  last_login_at: string | null;
  last_login_ip: string | null;
  failed_login_attempts: number;
  locked_until: string | null;
}

/** Lockout rule of the original: 5 consecutive failures lock the account for 15 minutes. */
export const MAX_FAILED_LOGINS = 5;
export const LOCKOUT_MS = 15 * 60 * 1000;

export const normaliseUsername = (name: string): string => name.trim().toLowerCase();

export function getUserByUsername(q: Queryable, username: string): Promise<UserRow | undefined> {
  return q.get<UserRow>(`SELECT * FROM users WHERE username = ?`, [normaliseUsername(username)]);
}

export function getUserById(q: Queryable, id: string): Promise<UserRow | undefined> {
  return q.get<UserRow>(`SELECT * FROM users WHERE id = ?`, [id]);
}

export async function countUsers(q: Queryable): Promise<number> {
  return Number((await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM users`))?.n ?? 0);
}

export async function countAdmins(q: Queryable): Promise<number> {
  return Number((await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM users WHERE is_admin = 1`))?.n ?? 0);
}

export async function insertUser(
  q: Queryable,
  input: { username: string; passwordHash: string; isAdmin: boolean; mustChangePassword: boolean; now: string },
): Promise<UserRow> {
  const row: UserRow = {
    id: randomUUID(),
    username: normaliseUsername(input.username),
    password_hash: input.passwordHash,
    is_admin: input.isAdmin ? 1 : 0,
    must_change_password: input.mustChangePassword ? 1 : 0,
    created_at: input.now,
    updated_at: input.now,
    last_login_at: null,
    last_login_ip: null,
    failed_login_attempts: 0,
    locked_until: null,
  };
  await q.run(
    `INSERT INTO users (id, username, password_hash, is_admin, must_change_password, created_at, updated_at, failed_login_attempts)
     VALUES (?, ?, ?, ?, ?, ?, ?, 0)`,
    [row.id, row.username, row.password_hash, row.is_admin, row.must_change_password, row.created_at, row.updated_at],
  );
  return row;
}

export async function recordLoginFailure(
  q: Queryable,
  user: UserRow,
  now: Date,
): Promise<{ lockedUntil: string | null }> {
  const attempts = Number(user.failed_login_attempts) + 1;
  const lockedUntil = attempts >= MAX_FAILED_LOGINS ? new Date(now.getTime() + LOCKOUT_MS).toISOString() : null;
  await q.run(`UPDATE users SET failed_login_attempts = ?, locked_until = ? WHERE id = ?`, [
    lockedUntil ? 0 : attempts,
    lockedUntil ?? user.locked_until,
    user.id,
  ]);
  return { lockedUntil };
}

export async function recordLoginSuccess(q: Queryable, userId: string, now: Date, ip: string | null): Promise<void> {
  await q.run(
    `UPDATE users SET failed_login_attempts = 0, locked_until = NULL, last_login_at = ?, last_login_ip = ? WHERE id = ?`,
    [now.toISOString(), ip, userId],
  );
}

export async function setPassword(
  q: Queryable,
  userId: string,
  passwordHash: string,
  mustChange: boolean,
  now: string,
): Promise<void> {
  await q.run(
    `UPDATE users SET password_hash = ?, must_change_password = ?, failed_login_attempts = 0, locked_until = NULL, updated_at = ? WHERE id = ?`,
    [passwordHash, mustChange ? 1 : 0, now, userId],
  );
}

export const publicUser = (u: UserRow) => ({
  id: u.id,
  username: u.username,
  isAdmin: Number(u.is_admin) === 1,
  mustChangePassword: Number(u.must_change_password) === 1,
});

/** The user-management view of an account (reference §2.8): everything but the password hash. */
export const userListItem = (u: UserRow, now: Date) => ({
  ...publicUser(u),
  createdAt: u.created_at,
  updatedAt: u.updated_at,
  lastLoginAt: u.last_login_at,
  lastLoginIp: u.last_login_ip,
  failedLoginAttempts: Number(u.failed_login_attempts),
  lockedUntil: u.locked_until,
  isLocked: u.locked_until !== null && u.locked_until > now.toISOString(),
});

/**
 * LIKE pattern for a case-insensitive substring search. Usernames are stored lower-case, so lower-casing the term
 * is enough on every database (PostgreSQL's LIKE is case-sensitive); the LIKE wildcards in the term are escaped.
 */
function containsPattern(term: string): string {
  return `%${term.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** One page of users ordered by username, and the total matching the search. */
export async function listUsers(
  q: Queryable,
  opts: { search?: string; limit: number; offset: number },
): Promise<{ rows: UserRow[]; total: number }> {
  const where = opts.search ? `WHERE username LIKE ? ESCAPE '\\'` : "";
  const params = opts.search ? [containsPattern(opts.search)] : [];
  const total = Number((await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM users ${where}`, params))?.n ?? 0);
  const rows = await q.all<UserRow>(`SELECT * FROM users ${where} ORDER BY username LIMIT ? OFFSET ?`, [
    ...params,
    opts.limit,
    opts.offset,
  ]);
  return { rows, total };
}

/** Whether another account already has this (normalised) username. */
export async function usernameTaken(q: Queryable, username: string, exceptId?: string): Promise<boolean> {
  const row = await q.get<{ id: string }>(`SELECT id FROM users WHERE username = ?`, [normaliseUsername(username)]);
  return row !== undefined && row.id !== exceptId;
}

/** Applies the given field changes (absent fields stay as they are). */
export async function updateUserFields(
  q: Queryable,
  id: string,
  changes: { username?: string; isAdmin?: boolean; mustChangePassword?: boolean },
  now: string,
): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [];
  if (changes.username !== undefined) {
    sets.push("username = ?");
    params.push(normaliseUsername(changes.username));
  }
  if (changes.isAdmin !== undefined) {
    sets.push("is_admin = ?");
    params.push(changes.isAdmin ? 1 : 0);
  }
  if (changes.mustChangePassword !== undefined) {
    sets.push("must_change_password = ?");
    params.push(changes.mustChangePassword ? 1 : 0);
  }
  if (sets.length === 0) return;
  await q.run(`UPDATE users SET ${sets.join(", ")}, updated_at = ? WHERE id = ?`, [...params, now, id]);
}

/**
 * Replaces the password only if it is still the one the caller verified (`expectedHash`), so two concurrent changes
 * cannot both succeed on the strength of the same old password. Returns false when it had changed meanwhile.
 */
export async function replacePassword(
  q: Queryable,
  userId: string,
  expectedHash: string,
  passwordHash: string,
  now: string,
): Promise<boolean> {
  const res = await q.run(
    `UPDATE users SET password_hash = ?, must_change_password = 0, failed_login_attempts = 0, locked_until = NULL, updated_at = ?
      WHERE id = ? AND password_hash = ?`,
    [passwordHash, now, userId, expectedHash],
  );
  return res.changes > 0;
}

export async function deleteUserRow(q: Queryable, id: string): Promise<boolean> {
  return (await q.run(`DELETE FROM users WHERE id = ?`, [id])).changes > 0;
}
