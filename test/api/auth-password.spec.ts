import fs from "node:fs";
import { expect } from "chai";
import { sha256Hex } from "../../server/src/auth/session-store";
import { getJson, readJson } from "../support/api";
import { TEST_ADMIN_PASSWORD, login, type BrowserSession } from "../support/auth";
import { type SqliteStatement, withDatabase } from "../support/sqlite";
import { startTestServer, tempDataDir, type TestServer } from "../support/server";

/**
 * Passwords over HTTP (reference §1.1, §2.3): the policy endpoint under PWD_MIN_LEN / PWD_ENFORCE, the login page's
 * "admin must change password" hint, and POST /api/auth/change-password with every error code. Unlike the original
 * the current password is always required and verified.
 */

interface ErrorBody {
  error: string;
  errorCode?: string;
  validationErrors?: string[];
}
interface Me {
  user: { id: string; username: string; mustChangePassword: boolean };
}

/** Leaves ADMIN_PASSWORD unset (startTestServer sets one by default): the admin then gets a generated password. */
const GENERATED_ADMIN = { ADMIN_PASSWORD: undefined } as unknown as Record<string, string>;

async function startServer(env: Record<string, string> = {}, dataDir?: string): Promise<TestServer> {
  const saved = process.env.LOGIN_RATE_LIMIT;
  process.env.LOGIN_RATE_LIMIT = "1000"; // read by the login limiter when the routes are built
  try {
    return await startTestServer({ LOGIN_RATE_LIMIT: "1000", ...env }, { dataDir });
  } finally {
    if (saved === undefined) delete process.env.LOGIN_RATE_LIMIT;
    else process.env.LOGIN_RATE_LIMIT = saved;
  }
}

/**
 * Starts a server without ADMIN_PASSWORD and reads the generated password off the first-start banner, as an operator
 * reads it off the console (the banner is kept out of the test output).
 */
async function startWithGeneratedAdmin(): Promise<{ server: TestServer; password: string }> {
  const printed: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    printed.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    return true;
  }) as typeof process.stdout.write;
  let server: TestServer;
  try {
    server = await startServer(GENERATED_ADMIN);
  } finally {
    process.stdout.write = write;
  }
  const password = /password: (\S+)/.exec(printed.join(""))?.[1];
  if (!password) throw new Error(`no generated password in the banner: ${printed.join("")}`);
  return { server, password };
}

async function changePassword(session: BrowserSession, body: unknown) {
  return readJson<ErrorBody>(
    await session.json("POST", "/api/auth/change-password", body),
    "POST /api/auth/change-password",
  );
}

function seedToken(dataDir: string, scope: "admin" | "read"): string {
  const value = `dsk_password_spec_${scope}`;
  withDatabase(dataDir, (db) => {
    const stmt = db.prepare(
      `INSERT INTO api_tokens (id, name, scope, token_hash, token_prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    ) as SqliteStatement & { run(...params: unknown[]): unknown };
    stmt.run(`tok-${scope}`, `spec-${scope}`, scope, sha256Hex(value), value.slice(0, 8), new Date().toISOString());
  });
  return value;
}

const SUCCESS = { success: true, message: "Password changed successfully", successCode: "PASSWORD_CHANGED" };

describe("password policy endpoint", function () {
  const cases: Array<[string, Record<string, string>, Record<string, unknown>]> = [
    [
      "the defaults",
      {},
      {
        minLength: 8,
        requireUppercase: true,
        requireLowercase: true,
        requireNumbers: true,
        requireSpecialChars: false,
      },
    ],
    [
      "PWD_MIN_LEN=12",
      { PWD_MIN_LEN: "12" },
      {
        minLength: 12,
        requireUppercase: true,
        requireLowercase: true,
        requireNumbers: true,
        requireSpecialChars: false,
      },
    ],
    [
      "PWD_ENFORCE=false",
      { PWD_ENFORCE: "false" },
      {
        minLength: 8,
        requireUppercase: false,
        requireLowercase: false,
        requireNumbers: false,
        requireSpecialChars: false,
      },
    ],
    [
      "PWD_ENFORCE=FALSE, PWD_MIN_LEN=10",
      { PWD_ENFORCE: "FALSE", PWD_MIN_LEN: "10" },
      {
        minLength: 10,
        requireUppercase: false,
        requireLowercase: false,
        requireNumbers: false,
        requireSpecialChars: false,
      },
    ],
    [
      "PWD_ENFORCE=true",
      { PWD_ENFORCE: "true" },
      {
        minLength: 8,
        requireUppercase: true,
        requireLowercase: true,
        requireNumbers: true,
        requireSpecialChars: false,
      },
    ],
  ];
  for (const [name, env, expected] of cases) {
    it(`publishes ${name} without a login`, async () => {
      const server = await startServer(env);
      try {
        const r = await getJson(server, "/api/auth/password-policy");
        expect(r.status).to.equal(200);
        expect(r.body).to.deep.equal(expected);
      } finally {
        await server.close();
      }
    });
  }

  it("applies the published policy to new passwords", async () => {
    const server = await startServer({ PWD_MIN_LEN: "12", PWD_ENFORCE: "false" });
    try {
      const admin = await login(server);
      const short = await readJson<ErrorBody>(
        await admin.json("POST", "/api/users", { username: "pat", password: "elevenchars" }),
      );
      expect(short.status).to.equal(400);
      expect(short.body.validationErrors).to.deep.equal(["Password must be at least 12 characters long"]);
      const plain = await admin.json("POST", "/api/users", { username: "pat", password: "all lower case" });
      expect(plain.status).to.equal(201);
      // Generated passwords grow with the policy.
      const generated = await readJson<{ temporaryPassword: string }>(
        await admin.json("POST", "/api/users", { username: "gen" }),
      );
      expect(generated.body.temporaryPassword).to.have.length(12);
    } finally {
      await server.close();
    }
  });
});

describe("admin must-change-password hint", function () {
  it("is false when the admin's password came from ADMIN_PASSWORD", async () => {
    const server = await startServer();
    try {
      const r = await getJson(server, "/api/auth/admin-must-change-password");
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ mustChangePassword: false });
    } finally {
      await server.close();
    }
  });

  it("is true for a generated admin password until the admin changes it at first login", async () => {
    const { server, password } = await startWithGeneratedAdmin();
    try {
      expect((await getJson(server, "/api/auth/admin-must-change-password")).body).to.deep.equal({
        mustChangePassword: true,
      });
      expect(password).to.have.length(20);
      const admin = await login(server, "admin", password);
      const me = await readJson<Me>(await admin.request("/api/auth/me"));
      expect(me.body.user.mustChangePassword).to.equal(true);
      const gated = await readJson<ErrorBody>(await admin.request("/api/users"));
      expect(gated.status).to.equal(403);
      expect(gated.body.error).to.equal("Password change required");

      const changed = await changePassword(admin, { currentPassword: password, newPassword: "Chosen-Admin-Passw0rd" });
      expect(changed.status, changed.text).to.equal(200);
      expect((await getJson(server, "/api/auth/admin-must-change-password")).body).to.deep.equal({
        mustChangePassword: false,
      });
      expect((await admin.request("/api/users")).status).to.equal(200);
    } finally {
      await server.close();
    }
  });
});

describe("POST /api/auth/change-password", function () {
  let server: TestServer;
  let admin: BrowserSession;

  beforeEach(async () => {
    server = await startServer();
    admin = await login(server);
    const created = await admin.json("POST", "/api/users", {
      username: "carol",
      password: "Carol-Passw0rd",
      requirePasswordChange: false,
    });
    expect(created.status).to.equal(201);
  });
  afterEach(() => server.close());

  it("checks the request in order: new password, current password, policy, current correct, different", async () => {
    const carol = await login(server, "carol", "Carol-Passw0rd");
    const cases: Array<[unknown, number, Record<string, unknown>]> = [
      [{}, 400, { error: "New password is required", errorCode: "NEW_PASSWORD_REQUIRED" }],
      [
        { currentPassword: "Carol-Passw0rd", newPassword: "" },
        400,
        { error: "New password is required", errorCode: "NEW_PASSWORD_REQUIRED" },
      ],
      [
        { newPassword: "Carol-New-Passw0rd" },
        400,
        { error: "Current password is required", errorCode: "CURRENT_PASSWORD_REQUIRED" },
      ],
      [
        { currentPassword: "", newPassword: "Carol-New-Passw0rd" },
        400,
        { error: "Current password is required", errorCode: "CURRENT_PASSWORD_REQUIRED" },
      ],
      [
        { currentPassword: "Carol-Passw0rd", newPassword: "weakpass" },
        400,
        {
          error: "Password does not meet the password policy",
          errorCode: "POLICY_NOT_MET",
          validationErrors: [
            "Password must contain at least one uppercase letter",
            "Password must contain at least one number",
          ],
        },
      ],
      [
        { currentPassword: "Wrong-Passw0rd", newPassword: "Carol-New-Passw0rd" },
        401,
        { error: "Current password is incorrect", errorCode: "CURRENT_PASSWORD_INCORRECT" },
      ],
      [
        { currentPassword: "Carol-Passw0rd", newPassword: "Carol-Passw0rd" },
        400,
        {
          error: "New password must be different from the current password",
          errorCode: "NEW_PASSWORD_SAME_AS_CURRENT",
        },
      ],
    ];
    for (const [body, status, expected] of cases) {
      const r = await changePassword(carol, body);
      expect(r.status, JSON.stringify(body)).to.equal(status);
      expect(r.body, JSON.stringify(body)).to.deep.equal(expected);
    }
    // Nothing changed: the old password still logs in.
    await login(server, "carol", "Carol-Passw0rd");
  });

  it("changes the password, keeps the calling session and ends the others", async () => {
    const current = await login(server, "carol", "Carol-Passw0rd");
    const other = await login(server, "carol", "Carol-Passw0rd");
    const r = await changePassword(current, { currentPassword: "Carol-Passw0rd", newPassword: "Carol-New-Passw0rd" });
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal(SUCCESS);
    expect((await current.request("/api/auth/me")).status).to.equal(200);
    expect((await other.request("/api/auth/me")).status).to.equal(401);
    // The admin's sessions are not carol's.
    expect((await admin.request("/api/users")).status).to.equal(200);
    await login(server, "carol", "Carol-New-Passw0rd");
    let oldRefused = false;
    await login(server, "carol", "Carol-Passw0rd").catch(() => (oldRefused = true));
    expect(oldRefused, "old password still logs in").to.equal(true);
  });

  it("requires the current password also in the must-change state, and clears the flag", async () => {
    const created = await readJson<{ temporaryPassword: string }>(
      await admin.json("POST", "/api/users", { username: "dave" }),
    );
    const temp = created.body.temporaryPassword;
    const dave = await login(server, "dave", temp);
    const without = await changePassword(dave, { newPassword: "Dave-Own-Passw0rd" });
    expect(without.status).to.equal(400);
    expect(without.body.errorCode).to.equal("CURRENT_PASSWORD_REQUIRED");
    const wrong = await changePassword(dave, { currentPassword: "Not-The-Temp1", newPassword: "Dave-Own-Passw0rd" });
    expect(wrong.status).to.equal(401);
    const ok = await changePassword(dave, { currentPassword: temp, newPassword: "Dave-Own-Passw0rd" });
    expect(ok.status).to.equal(200);
    const me = await readJson<Me>(await dave.request("/api/auth/me"));
    expect(me.body.user.mustChangePassword).to.equal(false);
  });

  it("counts wrong current passwords towards the lockout, which ends the session", async () => {
    const carol = await login(server, "carol", "Carol-Passw0rd");
    for (let i = 1; i <= 4; i++) {
      const r = await changePassword(carol, {
        currentPassword: `Guess-Passw0rd${i}`,
        newPassword: "Carol-New-Passw0rd",
      });
      expect(r.status, `guess ${i}`).to.equal(401);
    }
    const fifth = await changePassword(carol, {
      currentPassword: "Guess-Passw0rd5",
      newPassword: "Carol-New-Passw0rd",
    });
    expect(fifth.status).to.equal(401);
    expect((await carol.request("/api/auth/me")).status).to.equal(401);
    const relogin = await login(server, "carol", "Carol-Passw0rd").catch((err: Error) => err.message);
    expect(relogin)
      .to.be.a("string")
      .and.match(/ACCOUNT_LOCKED/);
  });

  it("refuses callers that are not a logged-in browser session", async () => {
    const carol = await login(server, "carol", "Carol-Passw0rd");
    const body = JSON.stringify({ currentPassword: "Carol-Passw0rd", newPassword: "Carol-New-Passw0rd" });
    const json = { "content-type": "application/json" };

    const noCsrf = await readJson(
      await server.request("/api/auth/change-password", {
        method: "POST",
        headers: { ...json, cookie: carol.cookie },
        body,
      }),
    );
    expect(noCsrf.status).to.equal(403);
    expect(noCsrf.body).to.deep.equal({ error: "Invalid CSRF token" });

    const anonymous = await readJson(
      await server.request("/api/auth/change-password", { method: "POST", headers: json, body }),
    );
    expect(anonymous.status).to.equal(401);

    const adminToken = seedToken(server.dataDir, "admin");
    const withToken = await readJson(
      await server.request("/api/auth/change-password", {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${adminToken}` },
        body,
      }),
    );
    expect(withToken.status).to.equal(400);
    expect(withToken.body).to.deep.equal({
      error: "Changing a password needs a logged-in browser session; API tokens belong to no user",
      errorCode: "SESSION_REQUIRED",
    });
    const readToken = seedToken(server.dataDir, "read");
    const withReadToken = await readJson(
      await server.request("/api/auth/change-password", {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${readToken}` },
        body,
      }),
    );
    expect(withReadToken.status).to.equal(403);
    // Nothing changed.
    await login(server, "carol", "Carol-Passw0rd");
  });
});

describe("change-password audit", function () {
  it("records successes and failures as change_password, without passwords", async () => {
    const dataDir = tempDataDir();
    const server = await startServer({}, dataDir);
    try {
      const admin = await login(server);
      await changePassword(admin, { currentPassword: "Wrong-Passw0rd-X", newPassword: "Admin-New-Passw0rd" });
      const other = await login(server);
      const ok = await changePassword(admin, {
        currentPassword: TEST_ADMIN_PASSWORD,
        newPassword: "Admin-New-Passw0rd",
      });
      expect(ok.status).to.equal(200);
      expect((await other.request("/api/auth/me")).status).to.equal(401);
    } finally {
      await server.close();
    }
    try {
      const rows = withDatabase(dataDir, (db) =>
        db
          .prepare(
            `SELECT username, category, status, details, error_message FROM audit_log WHERE action = 'change_password' ORDER BY id`,
          )
          .all(),
      );
      expect(rows).to.deep.equal([
        {
          username: "admin",
          category: "auth",
          status: "failure",
          details: null,
          error_message: "current password incorrect",
        },
        {
          username: "admin",
          category: "auth",
          status: "success",
          details: JSON.stringify({ wasMustChange: false, otherSessionsEnded: 1 }),
          error_message: null,
        },
      ]);
      const dump = JSON.stringify(withDatabase(dataDir, (db) => db.prepare(`SELECT * FROM audit_log`).all()));
      expect(dump).not.to.include("Admin-New-Passw0rd").and.not.to.include("Wrong-Passw0rd-X");
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
