import fs from "node:fs";
import { expect } from "chai";
import { getJson, readJson } from "../support/api";
import { login } from "../support/auth";
import { withDatabase } from "../support/sqlite";
import { startTestServer, tempDataDir, type TestServer } from "../support/server";

/**
 * The legacy session endpoints (reference §2.3): POST creates an anonymous session, GET validates the caller's own
 * cookie, DELETE ends the caller's own session. All public; the body's sessionId is a public id, never the cookie.
 */

interface Created {
  sessionId: string;
  message: string;
}
interface Validity {
  valid: boolean;
  sessionId: string | null;
  error?: string;
}

const sessionCookie = (res: Response): string | undefined =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith("sessionId="))
    ?.split(";")[0];

async function createSession(server: TestServer, cookie?: string): Promise<{ cookie: string; body: Created }> {
  const res = await server.request("/api/session", { method: "POST", headers: cookie ? { cookie } : {} });
  const r = await readJson<Created>(res.clone(), "POST /api/session");
  expect(r.status).to.equal(200);
  return { cookie: sessionCookie(res) ?? "", body: r.body };
}

const check = (server: TestServer, cookie?: string) =>
  getJson<Validity>(server, "/api/session", { headers: cookie === undefined ? {} : { cookie } });

describe("legacy /api/session", function () {
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(() => server.close());

  it("POST creates an anonymous session; its public id is not the cookie value", async () => {
    const { cookie, body } = await createSession(server);
    expect(body.message).to.equal("Session created successfully");
    expect(body.sessionId).to.match(/^[0-9a-f]{32}$/);
    expect(cookie).to.match(/^sessionId=[0-9a-f]{64}$/);
    expect(cookie).not.to.include(body.sessionId);
    expect(await check(server, cookie).then((r) => r.body)).to.deep.equal({ valid: true, sessionId: body.sessionId });
    // An anonymous session is not a login.
    const users = await getJson<{ error: string }>(server, "/api/users", { headers: { cookie } });
    expect(users.status).to.equal(401);
  });

  it("POST replaces the anonymous session the request carried", async () => {
    const first = await createSession(server);
    const second = await createSession(server, first.cookie);
    expect(second.body.sessionId).not.to.equal(first.body.sessionId);
    expect((await check(server, first.cookie)).body).to.deep.equal({ valid: false, sessionId: null });
    expect((await check(server, second.cookie)).body.valid).to.equal(true);
  });

  it("POST leaves a logged-in session alone", async () => {
    const admin = await login(server);
    await createSession(server, admin.cookie);
    expect((await admin.request("/api/auth/me")).status).to.equal(200);
  });

  it("GET answers 401 without a cookie, valid:false for an unknown one, and reads the legacy cookie name", async () => {
    const none = await check(server);
    expect(none.status).to.equal(401);
    expect(none.body).to.deep.equal({ valid: false, error: "No session cookie" });
    const empty = await check(server, "sessionId=");
    expect(empty.status).to.equal(401);
    expect(empty.body).to.deep.equal({ valid: false, error: "No session ID" });
    const unknown = await check(server, `sessionId=${"0".repeat(64)}`);
    expect(unknown.status).to.equal(200);
    expect(unknown.body).to.deep.equal({ valid: false, sessionId: null });

    const { cookie, body } = await createSession(server);
    const legacy = await check(server, cookie.replace(/^sessionId=/, "session="));
    expect(legacy.body).to.deep.equal({ valid: true, sessionId: body.sessionId });
  });

  it("DELETE ends the caller's own anonymous session and clears the cookie", async () => {
    const nothing = await readJson(await server.request("/api/session", { method: "DELETE" }));
    expect(nothing.status).to.equal(200);
    expect(nothing.body).to.deep.equal({ message: "No session to delete" });

    const mine = await createSession(server);
    const other = await createSession(server);
    const res = await server.request("/api/session", { method: "DELETE", headers: { cookie: mine.cookie } });
    const r = await readJson(res.clone());
    expect(r.body).to.deep.equal({ message: "Session deleted successfully" });
    expect(res.headers.getSetCookie().find((c) => c.startsWith("sessionId="))).to.match(/^sessionId=;/);
    expect((await check(server, mine.cookie)).body.valid).to.equal(false);
    expect((await check(server, other.cookie)).body.valid, "another caller's session").to.equal(true);

    const again = await readJson(
      await server.request("/api/session", { method: "DELETE", headers: { cookie: mine.cookie } }),
    );
    expect(again.body).to.deep.equal({ message: "No session to delete" });
  });
});

describe("legacy /api/session with a logged-in session", function () {
  it("DELETE logs the user out and audits it as a logout", async () => {
    const dataDir = tempDataDir();
    const server = await startTestServer({}, { dataDir });
    try {
      const admin = await login(server);
      const r = await readJson(
        await server.request("/api/session", { method: "DELETE", headers: { cookie: admin.cookie } }),
      );
      expect(r.body).to.deep.equal({ message: "Session deleted successfully" });
      expect((await admin.request("/api/auth/me")).status).to.equal(401);
    } finally {
      await server.close();
    }
    try {
      const rows = withDatabase(dataDir, (db) =>
        db.prepare(`SELECT username, category, status, details FROM audit_log WHERE action = 'logout'`).all(),
      );
      expect(rows).to.deep.equal([
        {
          username: "admin",
          category: "auth",
          status: "success",
          details: JSON.stringify({ via: "DELETE /api/session" }),
        },
      ]);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
