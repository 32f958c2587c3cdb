import fs from "node:fs";
import { expect } from "chai";
import { sha256Hex } from "../../server/src/auth/session-store";
import { UUID_V4, getJson, readJson } from "../support/api";
import { login, type BrowserSession } from "../support/auth";
import { type SqliteStatement, withDatabase } from "../support/sqlite";
import { startTestServer, tempDataDir, type TestServer } from "../support/server";

/**
 * User management over HTTP (reference §2.8, contract §4): list/search/paging, create, update (PATCH and its PUT
 * alias), password reset, delete, the last-admin and self-delete protections, the must-change gate, and the audit
 * rows these write (read from the SQLite file once the server has stopped).
 */

interface PublicUser {
  id: string;
  username: string;
  isAdmin: boolean;
  mustChangePassword: boolean;
}
interface UserItem extends PublicUser {
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
  lastLoginIp: string | null;
  failedLoginAttempts: number;
  lockedUntil: string | null;
  isLocked: boolean;
}
interface UserList {
  users: UserItem[];
  pagination: { page: number; limit: number; total: number; totalPages: number };
}
interface Created {
  user: PublicUser;
  temporaryPassword?: string;
}

const LIST_ITEM_KEYS = [
  "id",
  "username",
  "isAdmin",
  "mustChangePassword",
  "createdAt",
  "updatedAt",
  "lastLoginAt",
  "lastLoginIp",
  "failedLoginAttempts",
  "lockedUntil",
  "isLocked",
];

/** The login limiter reads LOGIN_RATE_LIMIT from the process environment when the routes are built. */
async function startServer(dataDir?: string): Promise<TestServer> {
  const saved = process.env.LOGIN_RATE_LIMIT;
  process.env.LOGIN_RATE_LIMIT = "1000";
  try {
    return await startTestServer({ LOGIN_RATE_LIMIT: "1000" }, { dataDir });
  } finally {
    if (saved === undefined) delete process.env.LOGIN_RATE_LIMIT;
    else process.env.LOGIN_RATE_LIMIT = saved;
  }
}

async function call<T>(session: BrowserSession, method: string, pathname: string, body?: unknown) {
  return readJson<T>(await session.json(method, pathname, body), `${method} ${pathname}`);
}

async function createUser(admin: BrowserSession, body: Record<string, unknown>): Promise<Created> {
  const r = await call<Created>(admin, "POST", "/api/users", body);
  expect(r.status, r.text).to.equal(201);
  return r.body;
}

/** Seeds an API token straight into the database (the token endpoints belong to another room). */
function seedToken(dataDir: string, scope: "admin" | "read", name: string): string {
  const value = `dsk_test_${scope}_${name}`;
  withDatabase(dataDir, (db) => {
    const stmt = db.prepare(
      `INSERT INTO api_tokens (id, name, scope, token_hash, token_prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    ) as SqliteStatement & { run(...params: unknown[]): unknown };
    stmt.run(`tok-${name}`, name, scope, sha256Hex(value), value.slice(0, 8), new Date().toISOString());
  });
  return value;
}

/** The status of a login attempt made the way a browser does (anonymous session + CSRF header). */
async function loginStatus(server: TestServer, username: string, password: string): Promise<number> {
  const csrf = await server.request("/api/csrf");
  const cookie = csrf.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  const { token } = (await csrf.json()) as { token: string };
  const res = await server.request("/api/auth/login", {
    method: "POST",
    headers: { cookie, "x-csrf-token": token, "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  await res.body?.cancel();
  return res.status;
}

async function adminId(admin: BrowserSession): Promise<string> {
  const me = await call<{ user: PublicUser }>(admin, "GET", "/api/auth/me");
  return me.body.user.id;
}

describe("users API", function () {
  let server: TestServer;
  let admin: BrowserSession;

  beforeEach(async () => {
    server = await startServer();
    admin = await login(server);
  });
  afterEach(() => server.close());

  describe("GET /api/users", () => {
    it("lists users with the reference's fields and never a password hash", async () => {
      const r = await call<UserList>(admin, "GET", "/api/users");
      expect(r.status).to.equal(200);
      expect(r.body.pagination).to.deep.equal({ page: 1, limit: 50, total: 1, totalPages: 1 });
      const [user] = r.body.users;
      expect(Object.keys(user ?? {}).sort()).to.deep.equal([...LIST_ITEM_KEYS].sort());
      expect(user).to.include({
        username: "admin",
        isAdmin: true,
        mustChangePassword: false,
        failedLoginAttempts: 0,
        lockedUntil: null,
        isLocked: false,
        lastLoginIp: "127.0.0.1",
      });
      expect(user?.id).to.match(UUID_V4);
      expect(user?.lastLoginAt).to.be.a("string");
      expect(r.text).not.to.match(/argon2|password_hash|passwordHash/i);
      expect(r.headers.get("cache-control")).to.match(/no-store/);
    });

    it("pages in username order and searches case-insensitively, wildcards taken literally", async () => {
      for (let i = 1; i <= 11; i++) {
        await createUser(admin, { username: `user-${String(i).padStart(2, "0")}`, password: "Some-Passw0rd" });
      }
      await createUser(admin, { username: "alpha_beta", password: "Some-Passw0rd" });
      await createUser(admin, { username: "alphaxbeta", password: "Some-Passw0rd" });

      const page2 = await call<UserList>(admin, "GET", "/api/users?page=2&limit=5");
      expect(page2.body.pagination).to.deep.equal({ page: 2, limit: 5, total: 14, totalPages: 3 });
      expect(page2.body.users.map((u) => u.username)).to.deep.equal([
        "user-03",
        "user-04",
        "user-05",
        "user-06",
        "user-07",
      ]);

      const search = await call<UserList>(admin, "GET", "/api/users?search=USER-1");
      expect(search.body.users.map((u) => u.username)).to.deep.equal(["user-10", "user-11"]);
      expect(search.body.pagination).to.deep.equal({ page: 1, limit: 50, total: 2, totalPages: 1 });

      const underscore = await call<UserList>(admin, "GET", "/api/users?search=a_b");
      expect(underscore.body.users.map((u) => u.username)).to.deep.equal(["alpha_beta"]);
      const percent = await call<UserList>(admin, "GET", "/api/users?search=%25");
      expect(percent.body.users).to.deep.equal([]);

      const beyond = await call<UserList>(admin, "GET", "/api/users?page=9&limit=5");
      expect(beyond.body.users).to.deep.equal([]);
      expect(beyond.body.pagination).to.deep.equal({ page: 9, limit: 5, total: 14, totalPages: 3 });
    });

    it("refuses bad paging parameters with 400", async () => {
      for (const query of ["page=0", "page=abc", "limit=0", "limit=501", "page=1.5"]) {
        const r = await call<{ error: string }>(admin, "GET", `/api/users?${query}`);
        expect(r.status, query).to.equal(400);
        expect(r.body.error).to.equal("Invalid query parameters");
      }
    });

    it("is for administrators only", async () => {
      await createUser(admin, { username: "viewer", password: "Viewer-Passw0rd", requirePasswordChange: false });
      const viewer = await login(server, "viewer", "Viewer-Passw0rd");
      const asViewer = await call<{ error: string }>(viewer, "GET", "/api/users");
      expect(asViewer.status).to.equal(403);
      expect(asViewer.body).to.deep.equal({ error: "Administrator access required" });

      const anonymous = await getJson<{ error: string }>(server, "/api/users");
      expect(anonymous.status).to.equal(401);

      // An anonymous session (GET /api/csrf) is not a login.
      const csrf = await server.request("/api/csrf");
      const cookie = csrf.headers.getSetCookie()[0]?.split(";")[0] ?? "";
      const anonSession = await getJson<{ error: string }>(server, "/api/users", { headers: { cookie } });
      expect(anonSession.status).to.equal(401);
      expect(anonSession.body.error).to.equal("Authentication required");
    });
  });

  describe("POST /api/users", () => {
    it("creates a user with the given password; the name is trimmed and lower-cased", async () => {
      const r = await call<Created>(admin, "POST", "/api/users", {
        username: "  Alice.Smith  ",
        password: "Alice-Passw0rd",
        isAdmin: false,
        requirePasswordChange: false,
      });
      expect(r.status).to.equal(201);
      expect(Object.keys(r.body)).to.deep.equal(["user"]);
      expect(r.body.user).to.deep.include({ username: "alice.smith", isAdmin: false, mustChangePassword: false });
      expect(r.body.user.id).to.match(UUID_V4);
      const alice = await login(server, "Alice.Smith", "Alice-Passw0rd");
      const me = await call<{ user: PublicUser }>(alice, "GET", "/api/auth/me");
      expect(me.body.user).to.deep.equal(r.body.user);
    });

    it("generates a temporary password when none is given, which must be changed", async () => {
      const created = await createUser(admin, { username: "temp-user", requirePasswordChange: false });
      expect(created.temporaryPassword).to.be.a("string").with.length(12);
      expect(created.temporaryPassword).to.match(/[A-Z]/).and.match(/[a-z]/).and.match(/[0-9]/);
      expect(created.user.mustChangePassword).to.equal(true);
      const user = await login(server, "temp-user", created.temporaryPassword);
      const me = await call<{ user: PublicUser }>(user, "GET", "/api/auth/me");
      expect(me.body.user.mustChangePassword).to.equal(true);
    });

    it("defaults to a non-admin who must change the given password", async () => {
      const created = await createUser(admin, { username: "defaults", password: "Default-Passw0rd" });
      expect(created).to.deep.equal({
        user: { id: created.user.id, username: "defaults", isAdmin: false, mustChangePassword: true },
      });
    });

    it("refuses missing, short and long usernames with 400", async () => {
      const cases: Array<[unknown, string]> = [
        [undefined, "Username is required"],
        ["", "Username is required"],
        ["   ", "Username is required"],
        ["ab", "Username must be between 3 and 50 characters"],
        ["  ab  ", "Username must be between 3 and 50 characters"],
        ["x".repeat(51), "Username must be between 3 and 50 characters"],
      ];
      for (const [username, error] of cases) {
        const r = await call(admin, "POST", "/api/users", { username, password: "Some-Passw0rd" });
        expect(r.status, String(username)).to.equal(400);
        expect(r.body, String(username)).to.deep.equal({ error });
      }
      const fifty = await call(admin, "POST", "/api/users", { username: "y".repeat(50), password: "Some-Passw0rd" });
      expect(fifty.status).to.equal(201);
    });

    it("refuses a duplicate username (whatever its case) with 409", async () => {
      await createUser(admin, { username: "viewer", password: "Viewer-Passw0rd" });
      const r = await call(admin, "POST", "/api/users", { username: " VIEWER ", password: "Other-Passw0rd" });
      expect(r.status).to.equal(409);
      expect(r.body).to.deep.equal({ error: "Username already exists" });
      const admin2 = await call(admin, "POST", "/api/users", { username: "Admin", password: "Other-Passw0rd" });
      expect(admin2.status).to.equal(409);
    });

    it("refuses a password that fails the policy, listing every unmet rule", async () => {
      const r = await call(admin, "POST", "/api/users", { username: "weak", password: "short" });
      expect(r.status).to.equal(400);
      expect(r.body).to.deep.equal({
        error: "Password does not meet the password policy",
        errorCode: "POLICY_NOT_MET",
        validationErrors: [
          "Password must be at least 8 characters long",
          "Password must contain at least one uppercase letter",
          "Password must contain at least one number",
        ],
      });
      const known = await call<{ validationErrors: string[] }>(admin, "POST", "/api/users", {
        username: "weak",
        password: "Duplistatus09",
      });
      expect(known.status).to.equal(400);
      expect(known.body.validationErrors).to.deep.equal(["This password is publicly known and cannot be used"]);
      const list = await call<UserList>(admin, "GET", "/api/users");
      expect(list.body.pagination.total).to.equal(1);
    });

    it("refuses wrongly typed fields with a clear 400", async () => {
      const r = await call<{ error: string; invalidFields: Array<{ field: string }> }>(admin, "POST", "/api/users", {
        username: "typed",
        isAdmin: "yes",
      });
      expect(r.status).to.equal(400);
      expect(r.body.error).to.equal("Invalid request body");
      expect(r.body.invalidFields.map((f) => f.field)).to.deep.equal(["isAdmin"]);
    });

    it("needs the CSRF header from a browser session", async () => {
      const r = await readJson(
        await server.request("/api/users", {
          method: "POST",
          headers: { cookie: admin.cookie, "content-type": "application/json" },
          body: JSON.stringify({ username: "nocsrf", password: "Some-Passw0rd" }),
        }),
      );
      expect(r.status).to.equal(403);
      expect(r.body).to.deep.equal({ error: "Invalid CSRF token" });
    });
  });

  describe("PATCH / PUT /api/users/:id", () => {
    it("renames a user (lower-cased), and the new name logs in", async () => {
      const { user } = await createUser(admin, {
        username: "before",
        password: "Before-Passw0rd",
        requirePasswordChange: false,
      });
      const r = await call<Created>(admin, "PATCH", `/api/users/${user.id}`, { username: "  After  " });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ user: { ...user, username: "after" } });
      await login(server, "after", "Before-Passw0rd");
      expect(await loginStatus(server, "before", "Before-Passw0rd")).to.equal(401);
    });

    it("accepts PUT as an alias of PATCH", async () => {
      const { user } = await createUser(admin, { username: "put-user", password: "Put-Passw0rd1" });
      const r = await call<Created>(admin, "PUT", `/api/users/${user.id}`, { username: "put-renamed", isAdmin: true });
      expect(r.status).to.equal(200);
      expect(r.body.user).to.deep.include({ username: "put-renamed", isAdmin: true });
      const reset = await call<Created>(admin, "PUT", `/api/users/${user.id}`, { resetPassword: true });
      expect(reset.body.temporaryPassword).to.be.a("string");
    });

    it("answers an empty change with the unchanged user", async () => {
      const { user } = await createUser(admin, { username: "same", password: "Same-Passw0rd1" });
      const r = await call<Created>(admin, "PATCH", `/api/users/${user.id}`, {});
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ user });
    });

    it("refuses a taken name (409), a bad name (400) and an unknown id (404)", async () => {
      const { user } = await createUser(admin, { username: "first", password: "First-Passw0rd" });
      await createUser(admin, { username: "second", password: "Second-Passw0rd" });
      const taken = await call(admin, "PATCH", `/api/users/${user.id}`, { username: "SECOND" });
      expect(taken.status).to.equal(409);
      expect(taken.body).to.deep.equal({ error: "Username already exists" });
      const bad = await call(admin, "PATCH", `/api/users/${user.id}`, { username: "no" });
      expect(bad.status).to.equal(400);
      expect(bad.body).to.deep.equal({ error: "Username must be between 3 and 50 characters" });
      const missing = await call(admin, "PATCH", "/api/users/00000000-0000-4000-8000-000000000000", { isAdmin: true });
      expect(missing.status).to.equal(404);
      expect(missing.body).to.deep.equal({ error: "User not found" });
      // Keeping one's own name is not a conflict.
      const own = await call(admin, "PATCH", `/api/users/${user.id}`, { username: "First" });
      expect(own.status).to.equal(200);
    });

    it("grants and removes admin rights, but never from the last administrator", async () => {
      const id = await adminId(admin);
      const last = await call(admin, "PATCH", `/api/users/${id}`, { isAdmin: false });
      expect(last.status).to.equal(400);
      expect(last.body).to.deep.equal({ error: "Cannot remove administrator rights from the last admin account" });

      const { user } = await createUser(admin, {
        username: "deputy",
        password: "Deputy-Passw0rd",
        requirePasswordChange: false,
      });
      const deputy = await login(server, "deputy", "Deputy-Passw0rd");
      expect((await call(deputy, "GET", "/api/users")).status).to.equal(403);
      const promoted = await call<Created>(admin, "PATCH", `/api/users/${user.id}`, { isAdmin: true });
      expect(promoted.body.user.isAdmin).to.equal(true);
      // Rights apply to live sessions at once.
      expect((await call(deputy, "GET", "/api/users")).status).to.equal(200);
      const demoteAdmin = await call<Created>(deputy, "PATCH", `/api/users/${id}`, { isAdmin: false });
      expect(demoteAdmin.status).to.equal(200);
      expect(demoteAdmin.body.user.isAdmin).to.equal(false);
      const demoteLast = await call(deputy, "PATCH", `/api/users/${user.id}`, { isAdmin: false });
      expect(demoteLast.status).to.equal(400);
    });

    it("sets the must-change flag, which gates the user's live session", async () => {
      const { user } = await createUser(admin, {
        username: "flagged",
        password: "Flagged-Passw0rd",
        isAdmin: true,
        requirePasswordChange: false,
      });
      const flagged = await login(server, "flagged", "Flagged-Passw0rd");
      expect((await call(flagged, "GET", "/api/users")).status).to.equal(200);
      const r = await call<Created>(admin, "PATCH", `/api/users/${user.id}`, { requirePasswordChange: true });
      expect(r.body.user.mustChangePassword).to.equal(true);
      const gated = await call(flagged, "GET", "/api/users");
      expect(gated.status).to.equal(403);
      expect(gated.body).to.deep.include({ error: "Password change required" });
    });

    it("resets a password: temporary password once, must-change set, lock cleared, the user's sessions ended", async () => {
      const { user } = await createUser(admin, {
        username: "forgetful",
        password: "Forgetful-Passw0rd",
        requirePasswordChange: false,
      });
      const before = await login(server, "forgetful", "Forgetful-Passw0rd");
      for (let i = 0; i < 5; i++) expect(await loginStatus(server, "forgetful", "Wrong-Passw0rd")).to.equal(401);
      expect(await loginStatus(server, "forgetful", "Forgetful-Passw0rd"), "locked").to.equal(403);
      const r = await call<Created>(admin, "PATCH", `/api/users/${user.id}`, { resetPassword: true });
      expect(r.status).to.equal(200);
      expect(r.body.user).to.deep.equal({ ...user, mustChangePassword: true });
      const temp = r.body.temporaryPassword ?? "";
      expect(temp).to.have.length(12);

      expect((await call(before, "GET", "/api/auth/me")).status).to.equal(401);
      expect(await loginStatus(server, "forgetful", "Forgetful-Passw0rd")).to.equal(401);
      const after = await login(server, "forgetful", temp);
      const me = await call<{ user: PublicUser }>(after, "GET", "/api/auth/me");
      expect(me.body.user.mustChangePassword).to.equal(true);
      // The admin's own session is untouched.
      expect((await call(admin, "GET", "/api/users")).status).to.equal(200);
    });

    it("keeps the caller's own session when admins reset their own password", async () => {
      const id = await adminId(admin);
      const other = await login(server);
      const r = await call<Created>(admin, "PATCH", `/api/users/${id}`, { resetPassword: true });
      expect(r.status).to.equal(200);
      expect(r.body.user.mustChangePassword).to.equal(true);
      expect((await call(other, "GET", "/api/auth/me")).status).to.equal(401);
      const me = await call<{ user: PublicUser }>(admin, "GET", "/api/auth/me");
      expect(me.status).to.equal(200);
      expect(me.body.user.mustChangePassword).to.equal(true);
    });
  });

  describe("DELETE /api/users/:id", () => {
    it("deletes a user and ends its sessions", async () => {
      const { user } = await createUser(admin, {
        username: "leaver",
        password: "Leaver-Passw0rd",
        requirePasswordChange: false,
      });
      const leaver = await login(server, "leaver", "Leaver-Passw0rd");
      const r = await call(admin, "DELETE", `/api/users/${user.id}`);
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ success: true, message: "User deleted successfully" });
      expect((await call(leaver, "GET", "/api/auth/me")).status).to.equal(401);
      expect(await loginStatus(server, "leaver", "Leaver-Passw0rd")).to.equal(401);
      const list = await call<UserList>(admin, "GET", "/api/users");
      expect(list.body.users.map((u) => u.username)).to.deep.equal(["admin"]);
      const again = await call(admin, "DELETE", `/api/users/${user.id}`);
      expect(again.status).to.equal(404);
      expect(again.body).to.deep.equal({ error: "User not found" });
    });

    it("refuses to delete the caller's own account", async () => {
      const r = await call(admin, "DELETE", `/api/users/${await adminId(admin)}`);
      expect(r.status).to.equal(400);
      expect(r.body).to.deep.equal({ error: "Cannot delete your own account" });
    });

    it("refuses to delete the last administrator (reachable with an admin API token)", async () => {
      const id = await adminId(admin);
      const token = seedToken(server.dataDir, "admin", "ops");
      const r = await readJson(
        await server.request(`/api/users/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } }),
      );
      expect(r.status).to.equal(400);
      expect(r.body).to.deep.equal({ error: "Cannot delete the last admin account" });

      // With a second administrator the first one can go.
      await createUser(admin, { username: "successor", password: "Successor-Passw0rd", isAdmin: true });
      const ok = await readJson(
        await server.request(`/api/users/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } }),
      );
      expect(ok.status).to.equal(200);
      expect((await call(admin, "GET", "/api/auth/me")).status).to.equal(401);
    });
  });

  describe("the must-change gate", () => {
    it("holds a user with a temporary password to the auth routes until the password is changed", async () => {
      const created = await createUser(admin, { username: "newcomer", isAdmin: true });
      expect(created.user.mustChangePassword).to.equal(true);
      const temp = created.temporaryPassword ?? "";
      const newcomer = await login(server, "newcomer", temp);

      const gated = await call(newcomer, "GET", "/api/users");
      expect(gated.status).to.equal(403);
      expect(gated.body).to.deep.equal({
        error: "Password change required",
        message: "Change your password with POST /api/auth/change-password first",
      });
      const create = await call(newcomer, "POST", "/api/users", { username: "sneaky", password: "Sneaky-Passw0rd" });
      expect(create.status).to.equal(403);
      // The auth routes stay open to it.
      const me = await call<{ user: PublicUser }>(newcomer, "GET", "/api/auth/me");
      expect(me.status).to.equal(200);
      expect(me.body.user.mustChangePassword).to.equal(true);

      const changed = await call(newcomer, "POST", "/api/auth/change-password", {
        currentPassword: temp,
        newPassword: "Newcomer-Passw0rd",
      });
      expect(changed.status, changed.text).to.equal(200);
      expect((await call(newcomer, "GET", "/api/users")).status).to.equal(200);
      const meAfter = await call<{ user: PublicUser }>(newcomer, "GET", "/api/auth/me");
      expect(meAfter.body.user.mustChangePassword).to.equal(false);
    });
  });

  describe("API tokens", () => {
    it("lets an admin token manage users without CSRF; a read token may not", async () => {
      const adminToken = seedToken(server.dataDir, "admin", "automation");
      const readToken = seedToken(server.dataDir, "read", "dashboards");
      const post = (token: string) =>
        server.request("/api/users", {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ username: "robot-made", password: "Robot-Passw0rd" }),
        });
      const created = await readJson<Created>(await post(adminToken));
      expect(created.status).to.equal(201);
      const refused = await readJson(await post(readToken));
      expect(refused.status).to.equal(403);
      const list = await getJson<UserList>(server, "/api/users", { headers: { authorization: `Bearer ${readToken}` } });
      expect(list.status).to.equal(403);
    });
  });
});

describe("users API audit trail", function () {
  it("records user_created, user_updated, password_reset and user_deleted, without any password", async () => {
    const dataDir = tempDataDir();
    const server = await startServer(dataDir);
    const temporary: string[] = [];
    let targetId = "";
    try {
      const admin = await login(server);
      const created = await createUser(admin, { username: "audited" });
      targetId = created.user.id;
      const updated = await call<Created>(admin, "PATCH", `/api/users/${targetId}`, {
        username: "audited2",
        isAdmin: true,
      });
      expect(updated.status).to.equal(200);
      const reset = await call<Created>(admin, "PATCH", `/api/users/${targetId}`, { resetPassword: true });
      temporary.push(created.temporaryPassword ?? "", reset.body.temporaryPassword ?? "");
      expect((await call(admin, "DELETE", `/api/users/${targetId}`)).status).to.equal(200);
    } finally {
      await server.close();
    }
    try {
      const rows = withDatabase(
        dataDir,
        (db) =>
          db.prepare(`SELECT * FROM audit_log WHERE target_id = ? ORDER BY id`).all(targetId) as Array<
            Record<string, string | null>
          >,
      );
      expect(rows.map((r) => r.action)).to.deep.equal([
        "user_created",
        "user_updated",
        "password_reset",
        "user_deleted",
      ]);
      for (const row of rows) {
        expect(row).to.include({ username: "admin", category: "user", status: "success", target_type: "user" });
        expect(row.user_id).to.match(UUID_V4);
        expect(row.ip_address).to.equal("127.0.0.1");
      }
      const details = rows.map((r) => JSON.parse(r.details ?? "null") as Record<string, unknown>);
      expect(details[0]).to.deep.equal({
        username: "audited",
        isAdmin: false,
        mustChange: true,
        generatedCredential: true,
      });
      expect(details[1]).to.deep.equal({ username: "audited", newUsername: "audited2", isAdmin: true });
      expect(details[2]).to.deep.equal({ username: "audited2", source: "admin", sessionsEnded: 0 });
      expect(details[3]).to.deep.equal({ username: "audited2", isAdmin: true, sessionsEnded: 0 });
      const dump = JSON.stringify(withDatabase(dataDir, (db) => db.prepare(`SELECT * FROM audit_log`).all()));
      for (const secret of temporary) expect(dump).not.to.include(secret);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
