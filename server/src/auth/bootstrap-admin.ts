import type { AppContext } from "../context";
import { hashPassword } from "./passwords";
import { passwordPolicy, validatePassword } from "./password-policy";
import { generatePassword } from "./temporary-password";
import { countUsers, insertUser } from "./user-store";

/**
 * First start: create the admin account. ADMIN_PASSWORD is used as given (usable at once); otherwise a generated
 * password is printed once, on the console only (never to the structured log), and must be changed at first login.
 * There is no well-known default password.
 */
export async function bootstrapAdmin(ctx: AppContext): Promise<void> {
  const given = ctx.config.adminPassword;
  const policy = passwordPolicy(ctx.config);
  if (given !== undefined) {
    const problems = validatePassword(given, policy);
    if (problems.length > 0)
      throw new Error(`ADMIN_PASSWORD does not meet the password policy: ${problems.join("; ")}`);
  }
  // Every later start: no hashing (argon2 takes 19 MiB and tens of milliseconds), no native module loaded.
  if ((await ctx.db.read(countUsers)) > 0) return;
  const password = given ?? generatePassword(Math.max(20, policy.minLength));
  const passwordHash = await hashPassword(password);
  const created = await ctx.db.write(async (q) => {
    if ((await countUsers(q)) > 0) return null;
    return insertUser(q, {
      username: "admin",
      passwordHash,
      isAdmin: true,
      mustChangePassword: given === undefined,
      now: ctx.clock.now().toISOString(),
    });
  });
  if (!created) return;
  await ctx.audit.record({
    action: "user_created",
    category: "user",
    targetType: "user",
    targetId: created.id,
    details: { username: "admin", isAdmin: true, source: given === undefined ? "generated" : "ADMIN_PASSWORD" },
  });
  if (given === undefined) {
    process.stdout.write(
      [
        "",
        "==================================================================",
        " duplistatus: first start. An administrator account was created:",
        "   username: admin",
        `   password: ${password}`,
        " This password is shown only once and must be changed at first login.",
        "==================================================================",
        "",
      ].join("\n"),
    );
  } else {
    ctx.log.info("administrator account 'admin' created with the password from ADMIN_PASSWORD");
  }
}
