import type { Queryable } from "../db/database";

/**
 * Ends a user's browser sessions: after a password change (all but the one that made it), a password reset or
 * an account deletion. Deletion also cascades through the foreign key; doing it explicitly keeps the rule visible
 * and independent of the database's foreign-key setting.
 */
export async function endSessionsOfUser(q: Queryable, userId: string, keepIdHash?: string): Promise<number> {
  const res = keepIdHash
    ? await q.run(`DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?`, [userId, keepIdHash])
    : await q.run(`DELETE FROM sessions WHERE user_id = ?`, [userId]);
  return res.changes;
}
