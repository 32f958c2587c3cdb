import type { AuditEntry, AuditService } from "../audit/audit-service";
import type { Clock } from "../core/clock";
import { HttpError, badRequest, conflict, notFound } from "../core/errors";
import type { Database } from "../db/database";
import { hashPassword, verifyPassword } from "./passwords";
import { type PasswordPolicy, validatePassword } from "./password-policy";
import { endSessionsOfUser } from "./session-revocation";
import { temporaryPassword } from "./temporary-password";
import {
  countAdmins,
  deleteUserRow,
  getUserById,
  getUserByUsername,
  insertUser,
  listUsers,
  normaliseUsername,
  publicUser,
  recordLoginFailure,
  replacePassword,
  setPassword,
  updateUserFields,
  userListItem,
  usernameTaken,
  type UserRow,
} from "./user-store";

export const USERNAME_MIN_LENGTH = 3;
export const USERNAME_MAX_LENGTH = 50;

/** Who asked: the audit actor, the request's origin, and the session it came through (null for API tokens). */
export interface Caller {
  userId: string | null;
  username: string | null;
  sessionHash: string | null;
  ipAddress: string | null;
  userAgent: string | null;
}

export type PublicUserView = ReturnType<typeof publicUser>;

/** Trims and lower-cases a username; returns the rule it breaks, or null. Shared with the admin:reset command. */
export function usernameProblem(raw: string | undefined): { username: string; problem: string | null } {
  const username = normaliseUsername(raw ?? "");
  if (username === "") return { username, problem: "Username is required" };
  if (username.length < USERNAME_MIN_LENGTH || username.length > USERNAME_MAX_LENGTH) {
    return {
      username,
      problem: `Username must be between ${USERNAME_MIN_LENGTH} and ${USERNAME_MAX_LENGTH} characters`,
    };
  }
  return { username, problem: null };
}

function checkedUsername(raw: string | undefined): string {
  const { username, problem } = usernameProblem(raw);
  if (problem) throw badRequest(problem);
  return username;
}

const isAdminRow = (u: UserRow): boolean => Number(u.is_admin) === 1;
const mustChangeRow = (u: UserRow): boolean => Number(u.must_change_password) === 1;

/**
 * Accounts and passwords (reference §2.3 change-password, §2.8 users). Throws HttpError for every refusal; each
 * change is one transaction that also holds its audit entry, so a change is never committed without its record.
 * Passwords are hashed before the transaction starts: argon2id takes tens of milliseconds and must not hold the
 * database's write lock.
 *
 * Audit `details` never use keys containing "password" (the audit writer redacts those): `mustChange`,
 * `generatedCredential` instead.
 */
export class UserService {
  constructor(private readonly deps: { db: Database; clock: Clock; audit: AuditService; policy: PasswordPolicy }) {}

  get policy(): PasswordPolicy {
    return this.deps.policy;
  }

  private policyError(password: string): HttpError | null {
    const validationErrors = validatePassword(password, this.deps.policy);
    if (validationErrors.length === 0) return null;
    return new HttpError(400, {
      error: "Password does not meet the password policy",
      errorCode: "POLICY_NOT_MET",
      validationErrors,
    });
  }

  private entry(caller: Caller, entry: AuditEntry): AuditEntry {
    return {
      userId: caller.userId,
      username: caller.username,
      ipAddress: caller.ipAddress,
      userAgent: caller.userAgent,
      ...entry,
    };
  }

  async list(input: { page: number; limit: number; search?: string }) {
    const search = input.search?.trim() || undefined;
    const now = this.deps.clock.now();
    const { rows, total } = await this.deps.db.read((q) =>
      listUsers(q, { search, limit: input.limit, offset: (input.page - 1) * input.limit }),
    );
    return {
      users: rows.map((r) => userListItem(r, now)),
      pagination: { page: input.page, limit: input.limit, total, totalPages: Math.ceil(total / input.limit) },
    };
  }

  /**
   * Without a password a temporary one is generated and returned once; a temporary password always has to be
   * changed at first login, whatever requirePasswordChange says (the admin has seen it).
   */
  async create(
    input: { username?: string; password?: string; isAdmin?: boolean; requirePasswordChange?: boolean },
    caller: Caller,
  ): Promise<{ user: PublicUserView; temporaryPassword?: string }> {
    const username = checkedUsername(input.username);
    const generated = input.password ? undefined : temporaryPassword(this.deps.policy);
    const password = input.password || (generated as string);
    if (!generated) {
      const err = this.policyError(password);
      if (err) throw err;
    }
    // A cheap early answer for the common mistake, before paying for the hash; re-checked inside the transaction.
    if (await this.deps.db.read((q) => usernameTaken(q, username))) throw conflict("Username already exists");
    const passwordHash = await hashPassword(password);
    const mustChange = generated !== undefined || (input.requirePasswordChange ?? true);
    const isAdmin = input.isAdmin ?? false;
    const user = await this.deps.db.write(async (q) => {
      if (await usernameTaken(q, username)) throw conflict("Username already exists");
      const row = await insertUser(q, {
        username,
        passwordHash,
        isAdmin,
        mustChangePassword: mustChange,
        now: this.deps.clock.now().toISOString(),
      });
      await this.deps.audit.recordIn(
        q,
        this.entry(caller, {
          action: "user_created",
          category: "user",
          targetType: "user",
          targetId: row.id,
          details: { username, isAdmin, mustChange, generatedCredential: generated !== undefined },
        }),
      );
      return row;
    });
    return generated ? { user: publicUser(user), temporaryPassword: generated } : { user: publicUser(user) };
  }

  /**
   * PATCH/PUT /api/users/:id. resetPassword hands out a temporary password (must be changed at next login) and
   * ends the user's sessions, except the caller's own when admins reset themselves.
   */
  async update(
    id: string,
    patch: { username?: string; isAdmin?: boolean; requirePasswordChange?: boolean; resetPassword?: boolean },
    caller: Caller,
  ): Promise<{ user: PublicUserView; temporaryPassword?: string }> {
    const username = patch.username === undefined ? undefined : checkedUsername(patch.username);
    const generated = patch.resetPassword ? temporaryPassword(this.deps.policy) : undefined;
    const passwordHash = generated ? await hashPassword(generated) : undefined;
    const now = this.deps.clock.now().toISOString();

    const user = await this.deps.db.write(async (q) => {
      const before = await getUserById(q, id);
      if (!before) throw notFound("User not found");
      const changes: { username?: string; isAdmin?: boolean; mustChangePassword?: boolean } = {};
      if (username !== undefined && username !== before.username) {
        if (await usernameTaken(q, username, id)) throw conflict("Username already exists");
        changes.username = username;
      }
      if (patch.isAdmin !== undefined && patch.isAdmin !== isAdminRow(before)) {
        // Checked inside the transaction: two concurrent demotions cannot both see "another admin remains".
        if (!patch.isAdmin && (await countAdmins(q)) <= 1) {
          throw badRequest("Cannot remove administrator rights from the last admin account");
        }
        changes.isAdmin = patch.isAdmin;
      }
      // A reset always sets must-change (below); an explicit flag only applies without one.
      if (
        !passwordHash &&
        patch.requirePasswordChange !== undefined &&
        patch.requirePasswordChange !== mustChangeRow(before)
      ) {
        changes.mustChangePassword = patch.requirePasswordChange;
      }
      await updateUserFields(q, id, changes, now);
      if (Object.keys(changes).length > 0) {
        await this.deps.audit.recordIn(
          q,
          this.entry(caller, {
            action: "user_updated",
            category: "user",
            targetType: "user",
            targetId: id,
            details: {
              username: before.username,
              ...(changes.username !== undefined ? { newUsername: changes.username } : {}),
              ...(changes.isAdmin !== undefined ? { isAdmin: changes.isAdmin } : {}),
              ...(changes.mustChangePassword !== undefined ? { mustChange: changes.mustChangePassword } : {}),
            },
          }),
        );
      }
      if (passwordHash) {
        await setPassword(q, id, passwordHash, true, now);
        const keep = caller.userId === id ? (caller.sessionHash ?? undefined) : undefined;
        const sessionsEnded = await endSessionsOfUser(q, id, keep);
        await this.deps.audit.recordIn(
          q,
          this.entry(caller, {
            action: "password_reset",
            category: "user",
            targetType: "user",
            targetId: id,
            details: { username: changes.username ?? before.username, source: "admin", sessionsEnded },
          }),
        );
      }
      const after = await getUserById(q, id);
      if (!after) throw notFound("User not found");
      return after;
    });
    return generated ? { user: publicUser(user), temporaryPassword: generated } : { user: publicUser(user) };
  }

  /** Deletes an account and its sessions; never the caller's own account, never the last administrator. */
  async remove(id: string, caller: Caller): Promise<void> {
    if (caller.userId === id) throw badRequest("Cannot delete your own account");
    await this.deps.db.write(async (q) => {
      const user = await getUserById(q, id);
      if (!user) throw notFound("User not found");
      if (isAdminRow(user) && (await countAdmins(q)) <= 1) throw badRequest("Cannot delete the last admin account");
      const sessionsEnded = await endSessionsOfUser(q, id);
      await deleteUserRow(q, id);
      await this.deps.audit.recordIn(
        q,
        this.entry(caller, {
          action: "user_deleted",
          category: "user",
          targetType: "user",
          targetId: id,
          details: { username: user.username, isAdmin: isAdminRow(user), sessionsEnded },
        }),
      );
    });
  }

  /**
   * A user changes their own password. Unlike the original, the current password is always required and verified,
   * also in the must-change state, and a wrong one counts towards the login lockout: otherwise a stolen session
   * could guess the password here without limit.
   */
  async changeOwnPassword(
    input: { userId: string; sessionHash: string; currentPassword?: string; newPassword?: string },
    caller: Caller,
  ): Promise<{ sessionsEnded: number }> {
    const { currentPassword, newPassword } = input;
    if (!newPassword) throw badRequest("New password is required", { errorCode: "NEW_PASSWORD_REQUIRED" });
    if (!currentPassword) throw badRequest("Current password is required", { errorCode: "CURRENT_PASSWORD_REQUIRED" });
    const policyErr = this.policyError(newPassword);
    if (policyErr) throw policyErr;

    const user = await this.deps.db.read((q) => getUserById(q, input.userId));
    if (!user) throw notFound("User not found", { errorCode: "USER_NOT_FOUND" });
    const incorrect = () =>
      new HttpError(401, { error: "Current password is incorrect", errorCode: "CURRENT_PASSWORD_INCORRECT" });

    if (!(await verifyPassword(user.password_hash, currentPassword))) {
      await this.deps.db.write(async (q) => {
        const { lockedUntil } = await recordLoginFailure(q, user, this.deps.clock.now());
        await this.deps.audit.recordIn(
          q,
          this.entry(caller, {
            action: "change_password",
            category: "auth",
            status: "failure",
            targetType: "user",
            targetId: user.id,
            errorMessage: lockedUntil ? "current password incorrect; account locked" : "current password incorrect",
          }),
        );
      });
      throw incorrect();
    }
    if (newPassword === currentPassword) {
      throw badRequest("New password must be different from the current password", {
        errorCode: "NEW_PASSWORD_SAME_AS_CURRENT",
      });
    }

    const passwordHash = await hashPassword(newPassword);
    const sessionsEnded = await this.deps.db.write(async (q) => {
      const now = this.deps.clock.now().toISOString();
      if (!(await replacePassword(q, user.id, user.password_hash, passwordHash, now))) return null;
      const ended = await endSessionsOfUser(q, user.id, input.sessionHash);
      await this.deps.audit.recordIn(
        q,
        this.entry(caller, {
          action: "change_password",
          category: "auth",
          targetType: "user",
          targetId: user.id,
          details: { wasMustChange: mustChangeRow(user), otherSessionsEnded: ended },
        }),
      );
      return ended;
    });
    // The password changed between our read and our write: the one verified is no longer current.
    if (sessionsEnded === null) throw incorrect();
    return { sessionsEnded };
  }

  /** The login page's hint: is the `admin` account still waiting for its first password change? False on any error. */
  async adminMustChangePassword(): Promise<boolean> {
    try {
      const admin = await this.deps.db.read((q) => getUserByUsername(q, "admin"));
      return admin !== undefined && mustChangeRow(admin);
    } catch {
      return false;
    }
  }
}
