/**
 * Admin recovery: `npm run admin:reset -- <username> <new password>`.
 *
 * Works on the database in DATA_DIR directly (no HTTP, so it also works when nobody can log in, and while the server
 * runs: SQLite in WAL mode lets this process write beside it). Sets a new argon2id hash, clears the must-change flag,
 * failed attempts and lock, ends the account's sessions; creates the account as an administrator when it does not
 * exist. Writes an audit entry (password_reset, details.source "cli"). Prints one line; never the password.
 *
 * Exit codes: 0 done, 1 failure (configuration, database), 2 usage (wrong arguments, username or password refused).
 */
import { AuditService } from "../audit/audit-service";
import { recoverAccount } from "../auth/account-recovery";
import { passwordPolicy, validatePassword } from "../auth/password-policy";
import { usernameProblem } from "../auth/user-service";
import { ConfigError, loadConfig } from "../config";
import { systemClock } from "../core/clock";
import { createLogger } from "../core/logger";
import { Database, databaseOptions } from "../db/database";
import { runCli } from "./run-cli";

const USAGE = "usage: npm run admin:reset -- <username> <new password>";

async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === "-h" || argv[0] === "--help")) {
    console.log(USAGE);
    return 0;
  }
  if (argv.length !== 2) {
    console.error(USAGE);
    return 2;
  }
  const [rawUsername, password] = argv as [string, string];

  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`admin:reset: ${err instanceof ConfigError ? err.message : String(err)}`);
    return 1;
  }
  const { username, problem } = usernameProblem(rawUsername);
  if (problem) {
    console.error(`admin:reset: ${problem}`);
    return 2;
  }
  const problems = validatePassword(password, passwordPolicy(config));
  if (problems.length > 0) {
    console.error(`admin:reset: the password does not meet the password policy: ${problems.join("; ")}`);
    return 2;
  }

  // Only warnings and errors unless LOG_LEVEL asks for more: the command's output is its one confirmation line.
  const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : "warn");
  let db: Database | undefined;
  try {
    db = await Database.open(databaseOptions(config), log);
    const audit = new AuditService({ db, clock: systemClock, log });
    const result = await recoverAccount({ db, audit, clock: systemClock }, username, password);
    const role = result.isAdmin ? "administrator" : "user";
    const where = config.databaseUrl ? "the PostgreSQL database" : config.sqliteFile;
    console.log(
      result.created
        ? `admin:reset: created administrator "${result.username}" in ${where}; it can log in now.`
        : `admin:reset: password of ${role} "${result.username}" reset in ${where}; lock and must-change cleared, ${result.sessionsEnded} session(s) ended.`,
    );
    return 0;
  } catch (err) {
    console.error(`admin:reset: failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await db?.close();
  }
}

runCli("admin:reset", main);
