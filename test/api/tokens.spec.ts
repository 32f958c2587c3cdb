import { createHash } from "node:crypto";
import { expect } from "chai";
import { ISO_MS, UUID_V4, getJson, makeReport, readJson, upload } from "../support/api";
import { login, type BrowserSession } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";

/**
 * API tokens (/api/tokens) and the "require keys for the external endpoints" setting (contract §6), over HTTP:
 * creation shows the value once, listing never does, scopes decide what a token reaches, revocation is immediate.
 */

interface Created {
  id: string;
  name: string;
  scope: string;
  token: string;
}

interface Listed {
  id: string;
  name: string;
  scope: string;
  prefix: string;
  createdAt: string;
  createdBy: string | null;
  lastUsedAt: string | null;
  revoked: boolean;
}

interface AuditEntry {
  action: string;
  category: string;
  username: string | null;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown> | null;
  status: string;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** A request authenticated with an API token only: no cookie, no CSRF header. */
function withToken(server: TestServer, token: string, method: string, path: string, body?: unknown) {
  return server.request(path, {
    method,
    headers: { ...bearer(token), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function createToken(admin: BrowserSession, name: string, scope: string): Promise<Created> {
  const res = await admin.json("POST", "/api/tokens", { name, scope });
  const r = await readJson<Created>(res, "POST /api/tokens");
  expect(r.status, r.text).to.equal(201);
  return r.body;
}

async function listTokens(admin: BrowserSession, query = ""): Promise<{ text: string; tokens: Listed[] }> {
  const r = await readJson<{ tokens: Listed[] }>(await admin.request(`/api/tokens${query}`), "GET /api/tokens");
  expect(r.status, r.text).to.equal(200);
  return { text: r.text, tokens: r.body.tokens };
}

async function auditEntries(admin: BrowserSession, query: string): Promise<AuditEntry[]> {
  const r = await readJson<{ logs: AuditEntry[] }>(
    await admin.request(`/api/audit-log?${query}`),
    "GET /api/audit-log",
  );
  expect(r.status, r.text).to.equal(200);
  return r.body.logs;
}

describe("API tokens", function () {
  let server: TestServer;
  let admin: BrowserSession;

  before(async () => {
    server = await startTestServer();
    admin = await login(server);
  });
  after(() => server.close());

  it("creates a token and shows its value only in the creation answer", async () => {
    const created = await createToken(admin, "  Homepage widget  ", "read");
    expect(created.id).to.match(UUID_V4);
    expect(created.name).to.equal("Homepage widget");
    expect(created.scope).to.equal("read");
    expect(created.token).to.match(/^dsk_[A-Za-z0-9_-]{43}$/);

    const { text, tokens } = await listTokens(admin);
    const listed = tokens.find((t) => t.id === created.id);
    expect(listed).to.deep.equal({
      id: created.id,
      name: "Homepage widget",
      scope: "read",
      prefix: created.token.slice(0, 8),
      createdAt: listed?.createdAt,
      createdBy: "admin",
      lastUsedAt: null,
      revoked: false,
    });
    expect(listed?.createdAt).to.match(ISO_MS);
    // Neither the value nor its stored digest ever comes back.
    expect(text).to.not.include(created.token);
    expect(text).to.not.include(createHash("sha256").update(created.token).digest("hex"));
    expect(Object.keys(listed ?? {})).to.not.include.members(["token", "hash", "tokenHash", "token_hash"]);
  });

  it("refuses bad names and scopes with a clear 400", async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: "", scope: "read" }, "name"],
      [{ name: "   ", scope: "read" }, "name"],
      [{ name: "x".repeat(101), scope: "read" }, "name"],
      [{ name: 42, scope: "read" }, "name"],
      [{ scope: "read" }, "name"],
      [{ name: "ok", scope: "superuser" }, "scope"],
      [{ name: "ok" }, "scope"],
    ];
    for (const [body, field] of cases) {
      const r = await readJson<{ error: string; invalidFields: Array<{ field: string }> }>(
        await admin.json("POST", "/api/tokens", body),
      );
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.body.error).to.equal("Invalid request body");
      expect(
        r.body.invalidFields.map((f) => f.field),
        JSON.stringify(body),
      ).to.include(field);
    }
    const longest = await createToken(admin, "y".repeat(100), "upload");
    expect(longest.name).to.have.length(100);
  });

  it("needs an administrator: anonymous 401, session without CSRF 403, read or upload token 403", async () => {
    const read = await createToken(admin, "reader", "read");
    const up = await createToken(admin, "uploader", "upload");

    expect((await getJson(server, "/api/tokens")).status).to.equal(401);
    const noCsrf = await server.request("/api/tokens", {
      method: "POST",
      headers: { cookie: admin.cookie, "content-type": "application/json" },
      body: JSON.stringify({ name: "x", scope: "read" }),
    });
    expect((await readJson(noCsrf)).status).to.equal(403);

    for (const token of [read.token, up.token]) {
      for (const [method, path, body] of [
        ["GET", "/api/tokens", undefined],
        ["POST", "/api/tokens", { name: "escalate", scope: "admin" }],
        ["DELETE", `/api/tokens/${read.id}`, undefined],
        ["PATCH", "/api/settings/api-keys", { requireApiKeys: false }],
      ] as const) {
        const r = await readJson(await withToken(server, token, method, path, body), `${method} ${path}`);
        expect(r.status, `${method} ${path}`).to.equal(403);
      }
    }
    // Nothing was created by the refused attempts.
    const { tokens } = await listTokens(admin);
    expect(tokens.map((t) => t.name)).to.not.include("escalate");
  });

  it("lets an admin token manage tokens without a session or CSRF, over every transport", async () => {
    const adm = await createToken(admin, "automation", "admin");
    const viaBearer = await readJson<Created>(
      await withToken(server, adm.token, "POST", "/api/tokens", { name: "by-bearer", scope: "read" }),
    );
    expect(viaBearer.status, viaBearer.text).to.equal(201);

    const viaHeader = await readJson<Created>(
      await server.request("/api/tokens", {
        method: "POST",
        headers: { "x-api-key": adm.token, "content-type": "application/json" },
        body: JSON.stringify({ name: "by-header", scope: "upload" }),
      }),
    );
    expect(viaHeader.status, viaHeader.text).to.equal(201);

    const viaQuery = await readJson<{ tokens: Listed[] }>(
      await server.request(`/api/tokens?api_key=${encodeURIComponent(adm.token)}`),
    );
    expect(viaQuery.status).to.equal(200);
    const byBearer = viaQuery.body.tokens.find((t) => t.id === viaBearer.body.id);
    expect(byBearer?.createdBy).to.equal("token:automation");

    const del = await readJson(await withToken(server, adm.token, "DELETE", `/api/tokens/${viaHeader.body.id}`));
    expect(del.status).to.equal(200);
    expect(del.body).to.deep.equal({ success: true });
  });

  it("a read token reads (external and management GETs) but may not upload or change anything", async () => {
    const read = await createToken(admin, "grafana", "read");
    expect((await getJson(server, "/api/summary", { headers: bearer(read.token) })).status).to.equal(200);
    expect((await getJson(server, "/api/audit-log", { headers: bearer(read.token) })).status).to.equal(200);
    expect((await getJson(server, "/api/settings/api-keys", { headers: bearer(read.token) })).status).to.equal(200);
    const up = await upload(
      server,
      makeReport({ machineId: "m-read", begin: "2025-05-01T10:00:00Z" }),
      bearer(read.token),
    );
    expect(up.status).to.equal(403);
    const patch = await readJson(
      await withToken(server, read.token, "PATCH", "/api/audit-log/retention", { retentionDays: 60 }),
    );
    expect(patch.status).to.equal(403);
  });

  it("an upload token only uploads", async () => {
    const up = await createToken(admin, "duplicati", "upload");
    const r = await upload(
      server,
      makeReport({ machineId: "m-up", begin: "2025-05-01T10:00:00Z" }),
      {},
      `?token=${up.token}`,
    );
    expect(r.status, r.text).to.equal(200);
    const viaHeader = await upload(
      server,
      makeReport({ machineId: "m-up", begin: "2025-05-02T10:00:00Z" }),
      bearer(up.token),
    );
    expect(viaHeader.status, viaHeader.text).to.equal(200);
    for (const path of [
      "/api/summary",
      "/api/lastbackup/m-up",
      "/api/lastbackups/m-up",
      "/api/audit-log",
      "/api/tokens",
    ]) {
      const res = await getJson(server, path, { headers: bearer(up.token) });
      expect(res.status, path).to.equal(403);
    }
  });

  it("records when a token was last used", async () => {
    const read = await createToken(admin, "last-used", "read");
    let listed = (await listTokens(admin)).tokens.find((t) => t.id === read.id);
    expect(listed?.lastUsedAt).to.equal(null);
    expect((await getJson(server, "/api/summary", { headers: bearer(read.token) })).status).to.equal(200);
    listed = (await listTokens(admin)).tokens.find((t) => t.id === read.id);
    expect(listed?.lastUsedAt).to.match(ISO_MS);
  });

  it("revokes a token: refused with 401 at once, gone from the list, 404 the second time", async () => {
    const read = await createToken(admin, "to-revoke", "read");
    expect((await getJson(server, "/api/summary", { headers: bearer(read.token) })).status).to.equal(200);

    const del = await readJson(await admin.request(`/api/tokens/${read.id}`, { method: "DELETE" }));
    expect(del.status).to.equal(200);
    expect(del.body).to.deep.equal({ success: true });

    for (const headers of [bearer(read.token), { "x-api-key": read.token }]) {
      const r = await getJson<{ error: string }>(server, "/api/auth/me", { headers });
      expect(r.status).to.equal(401);
      expect(r.body.error).to.equal("Invalid API token");
    }
    expect((await getJson(server, `/api/auth/me?api_key=${read.token}`)).status).to.equal(401);
    // While keys are optional, an open endpoint treats an unknown key as no key (old Duplicati/Homepage URLs may
    // carry a stale one); it grants nothing beyond what anonymous callers get.
    expect((await getJson(server, "/api/summary", { headers: bearer(read.token) })).status).to.equal(200);

    expect((await listTokens(admin)).tokens.map((t) => t.id)).to.not.include(read.id);
    const all = (await listTokens(admin, "?includeRevoked=true")).tokens.find((t) => t.id === read.id);
    expect(all?.revoked).to.equal(true);

    const again = await readJson<{ error: string }>(
      await admin.request(`/api/tokens/${read.id}`, { method: "DELETE" }),
    );
    expect(again.status).to.equal(404);
    expect(again.body.error).to.equal("API token not found");
    const unknown = await readJson(await admin.request("/api/tokens/no-such-token", { method: "DELETE" }));
    expect(unknown.status).to.equal(404);
    expect((await readJson(await admin.request("/api/tokens?includeRevoked=maybe"))).status).to.equal(400);
  });

  it("audits token creation and revocation without the token value", async () => {
    const t = await createToken(admin, "audited", "admin");
    expect((await admin.request(`/api/tokens/${t.id}`, { method: "DELETE" })).status).to.equal(200);

    const created = (await auditEntries(admin, "action=token_created")).find((e) => e.targetId === t.id);
    expect(created).to.include({ category: "auth", username: "admin", targetType: "api_token", status: "success" });
    expect(created?.details).to.deep.equal({ name: "audited", scope: "admin" });
    const revoked = (await auditEntries(admin, "action=token_revoked")).find((e) => e.targetId === t.id);
    expect(revoked).to.include({ category: "auth", username: "admin", targetType: "api_token" });
    expect(revoked?.details).to.deep.equal({ name: "audited", scope: "admin" });

    const dump = await admin.request("/api/audit-log/download?format=json");
    expect(dump.status).to.equal(200);
    expect(await dump.text()).to.not.include(t.token);
  });
});

describe("require API keys for the external endpoints", function () {
  let server: TestServer;
  let admin: BrowserSession;
  let read: Created;
  let up: Created;

  const setting = async (value: boolean, method = "PATCH") => {
    const r = await readJson(await admin.json(method, "/api/settings/api-keys", { requireApiKeys: value }));
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({ success: true, requireApiKeys: value });
  };

  before(async () => {
    server = await startTestServer();
    admin = await login(server);
    read = await createToken(admin, "reader", "read");
    up = await createToken(admin, "uploader", "upload");
    // A server to read back, uploaded while keys are still optional.
    const r = await upload(server, makeReport({ machineId: "keys-machine", begin: "2025-05-01T10:00:00Z" }));
    expect(r.status).to.equal(200);
  });
  after(() => server.close());

  it("is off by default and readable by any logged-in caller", async () => {
    const r = await readJson(await admin.request("/api/settings/api-keys"));
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ requireApiKeys: false });
    expect((await getJson(server, "/api/settings/api-keys")).status).to.equal(401);
    // Off: the external endpoints are open.
    expect((await getJson(server, "/api/summary")).status).to.equal(200);
  });

  it("refuses a value that is not a boolean", async () => {
    for (const body of [{ requireApiKeys: "true" }, { requireApiKeys: 1 }, {}]) {
      const r = await readJson<{ error: string }>(await admin.json("PATCH", "/api/settings/api-keys", body));
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.body.error).to.equal("Invalid request body");
    }
  });

  it("when on: reads need a read key (401 without, 403 with an upload key) and uploads an upload key", async () => {
    await setting(true);
    expect((await readJson(await admin.request("/api/settings/api-keys"))).body).to.deep.equal({
      requireApiKeys: true,
    });

    for (const path of ["/api/summary", "/api/lastbackup/keys-machine", "/api/lastbackups/keys-machine"]) {
      expect((await getJson(server, path)).status, `${path} anonymous`).to.equal(401);
      expect((await getJson(server, path, { headers: bearer(up.token) })).status, `${path} upload key`).to.equal(403);
      expect((await getJson(server, path, { headers: bearer(read.token) })).status, `${path} read key`).to.equal(200);
      expect((await getJson(server, `${path}?api_key=${read.token}`)).status, `${path} ?api_key`).to.equal(200);
    }

    const report = makeReport({ machineId: "keys-machine", begin: "2025-05-02T10:00:00Z" });
    expect((await upload(server, report)).status, "upload anonymous").to.equal(401);
    expect((await upload(server, report, bearer(read.token))).status, "upload read key").to.equal(403);
    expect((await upload(server, report, {}, `?api_key=${up.token}`)).status, "upload key").to.equal(200);
  });

  it("when off again (PUT alias): the external endpoints are open again", async () => {
    await setting(false, "PUT");
    expect((await getJson(server, "/api/summary")).status).to.equal(200);
    expect((await getJson(server, "/api/lastbackup/keys-machine")).status).to.equal(200);
    const r = await upload(server, makeReport({ machineId: "keys-machine", begin: "2025-05-03T10:00:00Z" }));
    expect(r.status).to.equal(200);
  });

  it("audits each change", async () => {
    const logs = await auditEntries(admin, "action=require_api_keys_updated");
    expect(logs.map((l) => l.details)).to.deep.equal([
      { oldValue: true, newValue: false },
      { oldValue: false, newValue: true },
    ]);
    expect(logs[0]).to.include({ category: "config", username: "admin", targetId: "require_api_keys" });
  });
});
