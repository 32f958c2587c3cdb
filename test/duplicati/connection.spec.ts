import { expect } from "chai";
import { type ErrorBody, makeReport, readJson, uploadOk } from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { type TestServer, startTestServer } from "../support/server";
import { FakeDuplicati, closedPort, fakeState, plainWebServer } from "./fake-duplicati";

/**
 * A server's Duplicati connection (reference §2.4): the stored password (encrypted, never answered) and the
 * connection test.
 */

const SERVER = "conn0000conn0000conn0000conn0000";

describe("GET / PATCH / PUT /api/servers/:id/password", function () {
  let server: TestServer;
  let admin: BrowserSession;
  let viewer: BrowserSession;

  before(async () => {
    server = await startTestServer({ LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
    await admin.json("POST", "/api/users", {
      username: "viewer",
      password: "Viewer-Passw0rd",
      isAdmin: false,
      requirePasswordChange: false,
    });
    viewer = await login(server, "viewer", "Viewer-Passw0rd");
    await uploadOk(server, makeReport({ machineId: SERVER, begin: "2025-06-01T10:00:00Z" }));
  });
  after(() => server?.close());

  const status = async (session: BrowserSession, id = SERVER) =>
    readJson<{ hasPassword: boolean; serverId: string } & ErrorBody>(
      await session.request(`/api/servers/${id}/password`),
      "GET password",
    );
  const set = async (method: "PATCH" | "PUT", body: unknown, id = SERVER, session = admin) =>
    readJson<{ message: string; serverId: string } & ErrorBody>(
      await session.json(method, `/api/servers/${id}/password`, body),
      `${method} password`,
    );
  const stored = () =>
    server.app.db.read(
      async (q) =>
        (await q.get<{ p: string }>(`SELECT server_password AS p FROM servers WHERE id = ?`, [SERVER]))?.p ?? null,
    );

  it("tells whether a password is stored, never the password", async () => {
    const r = await status(viewer);
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ hasPassword: false, serverId: SERVER });
  });

  it("stores the password encrypted (PATCH and PUT); an empty string clears it", async () => {
    const r = await set("PATCH", { password: "s3cret-Duplicati" });
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({ message: "Password updated successfully", serverId: SERVER });
    const value = await stored();
    expect(value?.startsWith("enc:v1:")).to.equal(true);
    expect(value).to.not.include("s3cret-Duplicati");

    const after = await status(admin);
    expect(after.body).to.deep.equal({ hasPassword: true, serverId: SERVER });
    expect(after.text).to.not.include("s3cret-Duplicati");
    const listed = await readJson<Array<{ hasPassword: boolean }>>(
      await admin.request("/api/servers?includeBackups=true"),
      "GET servers",
    );
    expect(listed.body[0]?.hasPassword).to.equal(true);

    expect((await set("PUT", { password: "" })).status).to.equal(200);
    expect(await stored()).to.equal("");
    expect((await status(admin)).body.hasPassword).to.equal(false);
  });

  it("answers 400 for a missing or non-string password, 404 for an unknown server", async () => {
    for (const body of [{}, { password: 42 }, { password: null }, { password: ["x"] }]) {
      const r = await set("PATCH", body);
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.body.error).to.equal("Password must be a string");
    }
    expect((await set("PATCH", { password: "x".repeat(2000) })).status).to.equal(400);
    const unknown = await set("PATCH", { password: "x" }, "no-such-server");
    expect(unknown.status).to.equal(404);
    expect(unknown.body.error).to.equal("Server not found");
    expect((await status(admin, "no-such-server")).status).to.equal(404);
  });

  it("is admin-only for changes", async () => {
    expect((await set("PATCH", { password: "x" }, SERVER, viewer)).status).to.equal(403);
    expect((await server.request(`/api/servers/${SERVER}/password`)).status).to.equal(401);
  });

  it("audits server_password_updated without the password", async () => {
    const audit = await readJson<{ logs: Array<{ targetId: string; details: Record<string, unknown> }> }>(
      await admin.request("/api/audit-log?action=server_password_updated"),
      "GET audit-log",
    );
    expect(audit.body.logs).to.have.length(2);
    expect(audit.body.logs.map((l) => l.details.change)).to.have.members(["set", "cleared"]);
    expect(audit.text).to.not.include("s3cret-Duplicati");
  });
});

describe("POST /api/servers/test-connection", function () {
  this.timeout(30_000);
  let server: TestServer;
  let viewer: BrowserSession;
  let nas: FakeDuplicati;
  let secure: FakeDuplicati;

  before(async () => {
    server = await startTestServer({ LOGIN_RATE_LIMIT: "1000", DUPLICATI_TIMEOUT_MS: "600" });
    const admin = await login(server);
    await admin.json("POST", "/api/users", {
      username: "viewer",
      password: "Viewer-Passw0rd",
      isAdmin: false,
      requirePasswordChange: false,
    });
    viewer = await login(server, "viewer", "Viewer-Passw0rd");
    nas = await new FakeDuplicati(fakeState()).start();
    secure = await new FakeDuplicati(fakeState(), true).start();
  });
  after(async () => {
    await nas?.close();
    await secure?.close();
    await server?.close();
  });

  const test = async (body: unknown) =>
    readJson<{ success: boolean; message: string } & ErrorBody>(
      await viewer.json("POST", "/api/servers/test-connection", body),
      "POST test-connection",
    );

  it("succeeds against Duplicati (its login refuses the probe with 401), over HTTP and self-signed HTTPS", async () => {
    for (const url of [`${nas.url}/ngax/index.html`, secure.url]) {
      const r = await test({ server_url: url });
      expect(r.status, r.text).to.equal(200);
      expect(r.body, url).to.deep.equal({ success: true, message: "Connection successful" });
    }
    const probe = nas.requests.find((q) => q.url === "/api/v1/auth/login");
    expect(JSON.parse(probe?.body ?? "{}")).to.deep.equal({ Password: "x", RememberMe: true });
  });

  it("fails (200, success false) against other servers, closed ports and servers that never answer", async () => {
    const web = await plainWebServer(404);
    try {
      const r = await test({ server_url: `http://127.0.0.1:${web.port}` });
      expect(r.body).to.deep.equal({ success: false, message: "Server responded with status 404" });
    } finally {
      await web.close();
    }
    const refused = await test({ server_url: `http://127.0.0.1:${await closedPort()}` });
    expect(refused.status).to.equal(200);
    expect(refused.body.success).to.equal(false);
    expect(refused.body.message).to.include("ECONNREFUSED").and.include("try using HTTPS instead");

    nas.state.hang.add("/api/v1/auth/login");
    try {
      const slow = await test({ server_url: nas.url });
      expect(slow.body).to.deep.equal({
        success: false,
        message: "Connection timeout - server may be unreachable or slow to respond",
      });
    } finally {
      nas.state.hang.clear();
    }
  });

  it("answers 400 for a missing or invalid URL", async () => {
    const cases: Array<[unknown, string]> = [
      [{}, "Server URL is required"],
      [{ server_url: "  " }, "Server URL is required"],
      [{ server_url: "not a url" }, "Invalid URL format"],
      [{ server_url: "ftp://nas:8200" }, "URL must use HTTP or HTTPS protocol"],
    ];
    for (const [body, error] of cases) {
      const r = await test(body);
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.body.error).to.equal(error);
    }
  });

  it("needs a login", async () => {
    const res = await server.postJson("/api/servers/test-connection", { server_url: nas.url });
    expect(res.status).to.equal(401);
  });
});
