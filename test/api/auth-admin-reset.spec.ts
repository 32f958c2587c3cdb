import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { getJson } from "../support/api";
import { TEST_ADMIN_PASSWORD, login } from "../support/auth";
import { databaseEnv } from "../support/postgres";
import { databaseFile, withDatabase } from "../support/sqlite";
import { startTestServer, tempDataDir, type TestServer } from "../support/server";

/**
 * The admin recovery command, `npm run admin:reset -- <username> <new password>`, run as a real child process against
 * a temporary DATA_DIR; its effect is then checked by logging in over HTTP.
 */

const ROOT = path.resolve(__dirname, "..", "..");

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(file: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  // PostgreSQL mode: the folder's database, as the server on the same folder uses.
  const database = env.DATA_DIR ? await databaseEnv(env.DATA_DIR) : {};
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env: { ...process.env, ...database, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The command itself (what the npm script runs). */
const adminReset = (dataDir: string, args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ["--import", "tsx", "server/src/cli/admin-reset.ts", ...args], { DATA_DIR: dataDir, ...env });

async function loginStatus(server: TestServer, username: string, password: string): Promise<number> {
  return login(server, username, password).then(
    () => 200,
    (err: Error) => Number(/login failed: (\d+)/.exec(err.message)?.[1] ?? 0),
  );
}

/** Keeps the data folder when the server closes (startTestServer deletes folders it made itself). */
async function startServer(dataDir: string, env: Record<string, string> = {}): Promise<TestServer> {
  const saved = process.env.LOGIN_RATE_LIMIT;
  process.env.LOGIN_RATE_LIMIT = "1000"; // read by the login limiter when the routes are built
  try {
    return await startTestServer({ LOGIN_RATE_LIMIT: "1000", ...env }, { dataDir });
  } finally {
    if (saved === undefined) delete process.env.LOGIN_RATE_LIMIT;
    else process.env.LOGIN_RATE_LIMIT = saved;
  }
}

describe("npm run admin:reset", function () {
  let dataDir: string;
  beforeEach(() => {
    dataDir = tempDataDir();
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("resets a locked admin's password while the server runs: lock cleared, sessions ended, new password works", async () => {
    const server = await startServer(dataDir);
    try {
      const session = await login(server);
      for (let i = 0; i < 5; i++) expect(await loginStatus(server, "admin", "Wrong-Passw0rd")).to.equal(401);
      expect(await loginStatus(server, "admin", TEST_ADMIN_PASSWORD)).to.equal(403);

      const r = await run("npm", ["run", "-s", "admin:reset", "--", "Admin", "Recovered-Passw0rd"], {
        DATA_DIR: dataDir,
      });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.trim().split("\n")).to.have.length(1);
      expect(r.stdout).to.include('password of administrator "admin" reset').and.include("1 session(s) ended");
      expect(r.stdout + r.stderr).not.to.include("Recovered-Passw0rd");

      expect((await session.request("/api/auth/me")).status).to.equal(401);
      expect(await loginStatus(server, "admin", TEST_ADMIN_PASSWORD)).to.equal(401);
      const admin = await login(server, "admin", "Recovered-Passw0rd");
      const me = (await (await admin.request("/api/auth/me")).json()) as { user: { mustChangePassword: boolean } };
      expect(me.user.mustChangePassword).to.equal(false);
    } finally {
      await server.close();
    }
    const rows = withDatabase(dataDir, (db) =>
      db
        .prepare(
          `SELECT user_id, username, category, status, target_type, details FROM audit_log WHERE action = 'password_reset'`,
        )
        .all(),
    ) as Array<Record<string, string | null>>;
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({
      user_id: null,
      username: null,
      category: "user",
      status: "success",
      target_type: "user",
    });
    expect(JSON.parse(rows[0]?.details ?? "{}")).to.deep.equal({
      source: "cli",
      username: "admin",
      created: false,
      sessionsEnded: 1,
    });
  });

  it("clears the must-change flag of a generated admin password", async () => {
    // First start without ADMIN_PASSWORD: the admin gets a generated password it must change (banner not read here).
    const printed = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    let server: TestServer;
    try {
      server = await startServer(dataDir, { ADMIN_PASSWORD: undefined } as unknown as Record<string, string>);
    } finally {
      process.stdout.write = printed;
    }
    try {
      expect((await getJson(server, "/api/auth/admin-must-change-password")).body).to.deep.equal({
        mustChangePassword: true,
      });
      const r = await adminReset(dataDir, ["admin", "Operator-Passw0rd"]);
      expect(r.code, r.stderr).to.equal(0);
      expect((await getJson(server, "/api/auth/admin-must-change-password")).body).to.deep.equal({
        mustChangePassword: false,
      });
      const admin = await login(server, "admin", "Operator-Passw0rd");
      expect((await admin.request("/api/users")).status).to.equal(200);
    } finally {
      await server.close();
    }
  });

  it("creates a missing account as an administrator, on a data folder with no database yet", async () => {
    const r = await adminReset(dataDir, ["  Rescue ", "Rescue-Passw0rd"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('created administrator "rescue"');
    const server = await startServer(dataDir);
    try {
      const rescue = await login(server, "rescue", "Rescue-Passw0rd");
      const list = (await (await rescue.request("/api/users")).json()) as {
        users: Array<{ username: string; isAdmin: boolean }>;
      };
      // No bootstrap admin either: the database already had a user when the server started.
      expect(list.users.map((u) => [u.username, u.isAdmin])).to.deep.equal([["rescue", true]]);
    } finally {
      await server.close();
    }
    const actions = withDatabase(dataDir, (db) =>
      db.prepare(`SELECT action FROM audit_log ORDER BY id`).all(),
    ) as Array<{ action: string }>;
    expect(actions.map((a) => a.action).slice(0, 2)).to.deep.equal(["user_created", "password_reset"]);
  });

  it("keeps an existing non-admin account's role", async () => {
    const server = await startServer(dataDir);
    try {
      const admin = await login(server);
      expect(
        (await admin.json("POST", "/api/users", { username: "plain", password: "Plain-Passw0rd" })).status,
      ).to.equal(201);
      const r = await adminReset(dataDir, ["plain", "Plain-New-Passw0rd"]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include('password of user "plain" reset');
      const plain = await login(server, "plain", "Plain-New-Passw0rd");
      expect((await plain.request("/api/users")).status).to.equal(403);
    } finally {
      await server.close();
    }
  });

  it("exits 2 on wrong usage, a bad username or a password that fails the policy, touching nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /usage: npm run admin:reset -- <username> <new password>/],
      [["admin"], /usage:/],
      [["admin", "Pass-w0rd-1", "extra"], /usage:/],
      [["ab", "Good-Passw0rd"], /Username must be between 3 and 50 characters/],
      [["admin", "weak"], /does not meet the password policy: Password must be at least 8 characters long/],
      [["admin", "Duplistatus09"], /publicly known/],
    ];
    for (const [args, message] of cases) {
      const r = await adminReset(dataDir, args);
      expect(r.code, args.join(" ")).to.equal(2);
      expect(r.stderr, args.join(" ")).to.match(message);
      expect(r.stdout).to.equal("");
    }
    expect(fs.existsSync(databaseFile(dataDir)), "database created by a refused command").to.equal(false);
    const help = await adminReset(dataDir, ["--help"]);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/usage:/);
  });

  it("honours PWD_MIN_LEN and exits 1 on a bad configuration", async () => {
    const short = await adminReset(dataDir, ["admin", "Short-Pass1"], { PWD_MIN_LEN: "16" });
    expect(short.code).to.equal(2);
    const badConfig = await adminReset(dataDir, ["admin", "Good-Passw0rd"], { PORT: "not-a-port" });
    expect(badConfig.code).to.equal(1);
    expect(badConfig.stderr).to.match(/Invalid environment: PORT/);
  });
});
