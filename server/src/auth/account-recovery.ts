import type { AuditService } from "../audit/audit-service";
import type { Clock } from "../core/clock";
import type { Database } from "../db/database";
import { hashPassword } from "./passwords";
import { endSessionsOfUser } from "./session-revocation";
import { getUserByUsername, insertUser, setPassword } from "./user-store";

export interface RecoveryResult {
  username: string;
  created: boolean;
  isAdmin: boolean;
  sessionsEnded: number;
}

/**
 * Admin recovery from the command line (the original's `admin-recovery` script): sets a new password on an account,
 * usable at once (must-change, failed attempts and lock cleared), and ends its sessions, since whoever held them may
 * be the reason for the recovery. A missing account is created as an administrator, so a lost or deleted admin can
 * always be brought back. An existing account keeps its role. Inputs are validated by the caller.
 */
export async function recoverAccount(
  deps: { db: Database; audit: AuditService; clock: Clock },
  username: string,
  password: string,
): Promise<RecoveryResult> {
  const passwordHash = await hashPassword(password);
  return deps.db.write(async (q) => {
    const now = deps.clock.now().toISOString();
    const existing = await getUserByUsername(q, username);
    const user =
      existing ?? (await insertUser(q, { username, passwordHash, isAdmin: true, mustChangePassword: false, now }));
    if (existing) await setPassword(q, existing.id, passwordHash, false, now);
    const sessionsEnded = existing ? await endSessionsOfUser(q, existing.id) : 0;
    const isAdmin = Number(user.is_admin) === 1;
    const actor = { userId: null, username: null };
    if (!existing) {
      await deps.audit.recordIn(q, {
        ...actor,
        action: "user_created",
        category: "user",
        targetType: "user",
        targetId: user.id,
        details: { username: user.username, isAdmin: true, source: "cli" },
      });
    }
    await deps.audit.recordIn(q, {
      ...actor,
      action: "password_reset",
      category: "user",
      targetType: "user",
      targetId: user.id,
      details: { source: "cli", username: user.username, created: !existing, sessionsEnded },
    });
    return { username: user.username, created: !existing, isAdmin, sessionsEnded };
  });
}
