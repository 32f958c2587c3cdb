import { expect } from "chai";
import { runAuditRetention } from "../../server/src/audit/retention-job";
import { auditRetentionJobOf } from "../../server/src/audit/module";
import { ManualClock } from "../../server/src/core/clock";
import { ISO_MS, getJson, makeReport, readJson, uploadOk } from "../support/api";
import { login, type BrowserSession } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";

/**
 * The audit log endpoints (reference §2.8) over HTTP: browsing with filters and paging, CSV/JSON export,
 * retention and cleanup, the daily retention job (run with a ManualClock), and what gets audited.
 */

interface AuditEntry {
  id: number;
  timestamp: string;
  userId: string | null;
  username: string | null;
  action: string;
  category: string;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown> | null;
  ipAddress: string | null;
  userAgent: string | null;
  status: string;
  errorMessage: string | null;
}

interface Page {
  logs: AuditEntry[];
  pagination: { page: number; limit: number; total: number; totalPages: number };
}

const DAY = 86_400_000;
const T0 = Date.parse("2025-01-10T12:00:00.000Z");

/** An API-token client: no session or CSRF to expire when the ManualClock jumps days ahead. */
interface TokenClient {
  get<T>(path: string): Promise<{ status: number; body: T; text: string; headers: Headers }>;
  send<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; text: string }>;
}

function tokenClient(server: TestServer, token: string): TokenClient {
  const headers = { authorization: `Bearer ${token}` };
  return {
    get: (path) => getJson(server, path, { headers }),
    send: async (method, path, body) =>
      readJson(
        await server.request(path, {
          method,
          headers: { ...headers, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        `${method} ${path}`,
      ),
  };
}

async function adminToken(admin: BrowserSession, name = "audit-admin", scope = "admin"): Promise<string> {
  const res = await admin.json("POST", "/api/tokens", { name, scope });
  expect(res.status).to.equal(201);
  return ((await res.json()) as { token: string }).token;
}

/** A failed login with the given username (each one is an audit entry of the clock's current time). */
async function failLogin(server: TestServer, username: string, userAgent = "audit-test"): Promise<void> {
  const csrf = await server.request("/api/csrf");
  const cookie =
    csrf.headers
      .getSetCookie()
      .find((c) => c.startsWith("sessionId="))
      ?.split(";")[0] ?? "";
  const { token } = (await csrf.json()) as { token: string };
  const res = await server.request("/api/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrf-token": token, cookie, "user-agent": userAgent },
    body: JSON.stringify({ username, password: "Wrong-Passw0rd" }),
  });
  expect(res.status).to.equal(401);
}

/** RFC 4180 parser, enough to read the export back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

describe("audit log: what is recorded", function () {
  let server: TestServer;
  let admin: BrowserSession;

  before(async () => {
    server = await startTestServer({ LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
  });
  after(() => server.close());

  const entries = async (query: string): Promise<AuditEntry[]> => {
    const r = await readJson<Page>(await admin.request(`/api/audit-log?${query}`));
    expect(r.status, r.text).to.equal(200);
    return r.body.logs;
  };

  it("records failed logins (unknown user and wrong password) without the password", async () => {
    await failLogin(server, "nobody-here");
    await failLogin(server, "admin");
    const failures = await entries("action=login&status=failure");
    const unknown = failures.find((e) => e.username === "nobody-here");
    expect(unknown).to.include({
      category: "auth",
      userId: null,
      errorMessage: "unknown user",
      userAgent: "audit-test",
    });
    expect(unknown?.ipAddress).to.be.a("string").and.not.equal("");
    const wrong = failures.find((e) => e.username === "admin");
    expect(wrong).to.include({ category: "auth", errorMessage: "wrong password" });
    expect(wrong?.userId).to.be.a("string");
    const text = JSON.stringify(await entries("limit=500"));
    expect(text).to.not.include("Wrong-Passw0rd");
    expect(text).to.not.include("Test-Admin-Passw0rd");
  });

  it("records the successful login of the session", async () => {
    const ok = await entries("action=login&status=success");
    expect(ok.some((e) => e.username === "admin" && e.category === "auth")).to.equal(true);
  });

  it("records an upload as a summary: ids, status and size, never the report or its log text", async () => {
    const report = makeReport({
      machineId: "audit-m1",
      backupName: "Docs",
      begin: "2025-05-01T10:00:00Z",
      uploaded: 4321,
    });
    report.LogLines = ["secret log line that must not be audited"];
    await uploadOk(server, report);
    await server.app.events.idle();
    const [entry] = await entries("action=backup_upload");
    expect(entry).to.include({ category: "backup", status: "success", targetType: "backup" });
    expect(entry?.details).to.have.all.keys("serverId", "backupName", "runId", "status", "uploadedSize");
    expect(entry?.details).to.include({
      serverId: "audit-m1",
      backupName: "Docs",
      status: "Success",
      uploadedSize: 4321,
    });
    expect(entry?.targetId).to.equal(entry?.details?.runId);
    expect(JSON.stringify(entry)).to.not.include("secret log line");
  });

  it("needs a login (401) and lets a read token browse (safe method)", async () => {
    expect((await getJson(server, "/api/audit-log")).status).to.equal(401);
    expect((await getJson(server, "/api/audit-log/filters")).status).to.equal(401);
    expect((await getJson(server, "/api/audit-log/download")).status).to.equal(401);
    const read = tokenClient(server, await adminToken(admin, "reader", "read"));
    expect((await read.get("/api/audit-log")).status).to.equal(200);
    expect((await read.get("/api/audit-log/retention")).status).to.equal(200);
    expect((await read.send("POST", "/api/audit-log/cleanup", { dryRun: true })).status).to.equal(403);
  });
});

describe("audit log: browsing, filters and export", function () {
  const clock = new ManualClock(T0);
  let server: TestServer;
  let token: string;
  let api: TokenClient;
  let adminId: string;

  before(async () => {
    server = await startTestServer({ LOGIN_RATE_LIMIT: "1000" }, { clock });
    const admin = await login(server);
    token = await adminToken(admin);
    api = tokenClient(server, token);
    const me = await readJson<{ user: { id: string } }>(await admin.request("/api/auth/me"));
    adminId = me.body.user.id;
    // Day 0 so far: user_created (bootstrap), login, token_created. Then one failed login on each of days 1..12,
    // the usernames of days 11 and 12 built to need CSV quoting and formula neutralising.
    for (let d = 1; d <= 12; d++) {
      clock.set(T0 + d * DAY);
      const name = d === 11 ? 'Eve, "the"\nintruder' : d === 12 ? '=HYPERLINK("x")' : `intruder-${d}`;
      await failLogin(server, name, d === 11 ? 'agent, "quoted"' : "audit-test");
    }
    clock.set(T0 + 13 * DAY);
  });
  after(() => server.close());

  const page = async (query: string): Promise<Page> => {
    const r = await api.get<Page>(`/api/audit-log${query}`);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };

  it("lists newest first with camelCase fields and parsed details", async () => {
    const { logs, pagination } = await page("");
    expect(pagination).to.deep.equal({ page: 1, limit: 50, total: 15, totalPages: 1 });
    const stamps = logs.map((l) => l.timestamp);
    expect(stamps).to.deep.equal([...stamps].sort().reverse());
    expect(logs[0]).to.have.all.keys(
      "id",
      "timestamp",
      "userId",
      "username",
      "action",
      "category",
      "targetType",
      "targetId",
      "details",
      "ipAddress",
      "userAgent",
      "status",
      "errorMessage",
    );
    expect(logs[0]?.timestamp).to.match(ISO_MS);
    const created = logs.find((l) => l.action === "user_created");
    expect(created?.details).to.deep.include({ username: "admin", isAdmin: true });
  });

  it("pages by page or by offset, without gaps or repeats", async () => {
    const seen: number[] = [];
    for (let p = 1; p <= 4; p++) {
      const r = await page(`?limit=4&page=${p}`);
      expect(r.pagination).to.deep.equal({ page: p, limit: 4, total: 15, totalPages: 4 });
      seen.push(...r.logs.map((l) => l.id));
    }
    expect(seen).to.have.length(15);
    expect(new Set(seen).size).to.equal(15);
    const byOffset = await page("?limit=4&offset=8");
    expect(byOffset.pagination.page).to.equal(3);
    expect(byOffset.logs.map((l) => l.id)).to.deep.equal(seen.slice(8, 12));
    expect((await page("?limit=4&page=9")).logs).to.deep.equal([]);
  });

  it("filters by action, category, status, user id, username part and inclusive day range", async () => {
    expect((await page("?action=login&status=failure")).pagination.total).to.equal(12);
    expect((await page("?category=user")).logs.map((l) => l.action)).to.deep.equal(["user_created"]);
    expect((await page("?status=success")).pagination.total).to.equal(3);
    const byUser = await page(`?userId=${adminId}`);
    expect(byUser.logs.map((l) => l.action).sort()).to.deep.equal(["login", "token_created"]);
    expect((await page("?username=INTRUDER-1")).logs.map((l) => l.username).sort()).to.deep.equal([
      "intruder-1",
      "intruder-10",
    ]);
    // LIKE wildcards in the filter are taken literally.
    expect((await page("?username=%25")).pagination.total).to.equal(0);

    // Days 3..5 (UTC) inclusive: the failed logins of those three days.
    const range = await page("?startDate=2025-01-13&endDate=2025-01-15");
    expect(range.logs.map((l) => l.username)).to.deep.equal(["intruder-5", "intruder-4", "intruder-3"]);
    const instant = await page(
      `?startDate=${new Date(T0 + 3 * DAY).toISOString()}&endDate=${new Date(T0 + 3 * DAY).toISOString()}`,
    );
    expect(instant.logs.map((l) => l.username)).to.deep.equal(["intruder-3"]);
    // Empty parameters are no filter (the UI sends them).
    expect((await page("?action=&category=&status=&username=")).pagination.total).to.equal(15);
  });

  it("answers 400 to invalid parameters", async () => {
    for (const q of [
      "limit=0",
      "limit=501",
      "limit=ten",
      "page=0",
      "offset=-1",
      "category=finance",
      "status=maybe",
      "startDate=yesterday",
      "endDate=2025-02-30",
      "startDate=2025-01-15&endDate=2025-01-14",
    ]) {
      const r = await api.get<{ error: string; invalidFields: unknown[] }>(`/api/audit-log?${q}`);
      expect(r.status, q).to.equal(400);
      expect(r.body.error, q).to.equal("Invalid query parameters");
      expect(r.body.invalidFields.length, q).to.be.greaterThan(0);
    }
    expect((await api.get("/api/audit-log?limit=500")).status).to.equal(200);
  });

  it("lists the distinct actions, categories and statuses", async () => {
    const r = await api.get<{ actions: string[]; categories: string[]; statuses: string[] }>("/api/audit-log/filters");
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({
      actions: ["login", "token_created", "user_created"],
      categories: ["auth", "user"],
      statuses: ["failure", "success"],
    });
  });

  it("exports CSV with the original header, RFC 4180 quoting and neutralised formulas", async () => {
    const res = await server.request("/api/audit-log/download?format=csv&action=login", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.match(/^text\/csv/);
    expect(res.headers.get("content-disposition")).to.equal('attachment; filename="audit-log-2025-01-23.csv"');
    const text = await res.text();
    expect(text.split("\r\n")[0]).to.equal(
      "ID,Timestamp,User ID,Username,Action,Category,Target Type,Target ID,Status,IP Address,User Agent,Details,Error Message",
    );
    const rows = parseCsv(text);
    expect(rows).to.have.length(1 + 13);
    expect(rows.every((r) => r.length === 13)).to.equal(true);
    const [, formula, quoted] = rows;
    expect(formula?.[3]).to.equal('\'=HYPERLINK("x")');
    expect(quoted?.[3]).to.equal('Eve, "the"\nintruder');
    expect(quoted?.[10]).to.equal('agent, "quoted"');
    expect(quoted?.[4]).to.equal("login");
    expect(quoted?.[8]).to.equal("failure");
    expect(quoted?.[12]).to.equal("unknown user");
    expect(text).to.include('"Eve, ""the""\nintruder"');
  });

  it("exports JSON as an array of the same entries (no paging)", async () => {
    const r = await api.get<AuditEntry[]>("/api/audit-log/download?format=json");
    expect(r.status).to.equal(200);
    expect(r.headers.get("content-disposition")).to.equal('attachment; filename="audit-log-2025-01-23.json"');
    expect(r.body).to.have.length(15);
    expect(r.body).to.deep.equal((await page("?limit=500")).logs);
  });

  it("refuses an empty CSV export (400) but returns an empty JSON array", async () => {
    const csv = await api.get<{ error: string }>("/api/audit-log/download?action=no_such_action");
    expect(csv.status).to.equal(400);
    expect(csv.body).to.deep.equal({ error: "No logs to export" });
    const json = await api.get<unknown[]>("/api/audit-log/download?format=json&action=no_such_action");
    expect(json.status).to.equal(200);
    expect(json.body).to.deep.equal([]);
    expect((await api.get("/api/audit-log/download?format=xml")).status).to.equal(400);
  });
});

describe("audit log: retention and cleanup", function () {
  const clock = new ManualClock(T0);
  let server: TestServer;
  let api: TokenClient;

  before(async () => {
    server = await startTestServer({}, { clock });
    const admin = await login(server);
    api = tokenClient(server, await adminToken(admin, "retention-admin"));
  });
  after(() => server.close());

  const actions = async (): Promise<string[]> =>
    (await api.get<Page>("/api/audit-log?limit=500")).body.logs.map((l) => l.action);

  it("reads the default retention of 90 days and stores a new one (PATCH, PUT alias)", async () => {
    expect((await api.get("/api/audit-log/retention")).body).to.deep.equal({ retentionDays: 90 });
    const patched = await api.send("PATCH", "/api/audit-log/retention", { retentionDays: 45 });
    expect(patched.status).to.equal(200);
    expect(patched.body).to.deep.equal({ success: true, retentionDays: 45 });
    expect((await api.get("/api/audit-log/retention")).body).to.deep.equal({ retentionDays: 45 });
    const put = await api.send("PUT", "/api/audit-log/retention", { retentionDays: 90 });
    expect(put.body).to.deep.equal({ success: true, retentionDays: 90 });

    const updates = (await api.get<Page>("/api/audit-log?action=audit_retention_updated")).body.logs;
    expect(updates.map((l) => l.details)).to.deep.equal([
      { oldValue: 45, newValue: 90 },
      { oldValue: 90, newValue: 45 },
    ]);
    expect(updates[0]).to.include({
      category: "config",
      username: "token:retention-admin",
      targetId: "audit_retention_days",
    });
  });

  it("refuses retention values outside 30..365 or not whole numbers", async () => {
    for (const retentionDays of [29, 366, 45.5, "60", null]) {
      const r = await api.send<{ error: string; message: string }>("PATCH", "/api/audit-log/retention", {
        retentionDays,
      });
      expect(r.status, String(retentionDays)).to.equal(400);
      expect(r.body.error).to.equal("Invalid request body");
    }
    const r = await api.send<{ message: string }>("PATCH", "/api/audit-log/retention", { retentionDays: 10 });
    expect(r.body.message).to.include("Retention days must be between 30 and 365");
    const cleanup = await api.send("POST", "/api/audit-log/cleanup", { retentionDays: 400, dryRun: true });
    expect(cleanup.status).to.equal(400);
    expect((await api.send("POST", "/api/audit-log/cleanup", { dryRun: "yes" })).status).to.equal(400);
    expect((await api.get("/api/audit-log/retention")).body).to.deep.equal({ retentionDays: 90 });
  });

  it("previews a cleanup without deleting, then deletes the old entries and audits it", async () => {
    // Entries so far are from T0. 40 days later, with a 30-day retention, all of them are old.
    clock.set(T0 + 40 * DAY);
    await failLogin(server, "recent-visitor");
    const before = await actions();

    const keepAll = await api.send("POST", "/api/audit-log/cleanup", { dryRun: true });
    expect(keepAll.body).to.deep.equal({
      dryRun: true,
      wouldDeleteCount: 0,
      oldestRemaining: new Date(T0).toISOString(),
      retentionDays: 90,
      cutoffDate: new Date(T0 + 40 * DAY - 90 * DAY).toISOString().slice(0, 10),
    });

    const preview = await api.send<{ wouldDeleteCount: number }>("POST", "/api/audit-log/cleanup", {
      retentionDays: 30,
      dryRun: true,
    });
    expect(preview.status).to.equal(200);
    const old = before.length - 1;
    expect(preview.body).to.deep.equal({
      dryRun: true,
      wouldDeleteCount: old,
      oldestRemaining: new Date(T0 + 40 * DAY).toISOString(),
      retentionDays: 30,
      cutoffDate: "2025-01-20",
    });
    expect(await actions()).to.deep.equal(before);

    const real = await api.send("POST", "/api/audit-log/cleanup", { retentionDays: 30 });
    expect(real.status).to.equal(200);
    expect(real.body).to.deep.equal({
      success: true,
      deletedCount: old,
      oldestRemaining: new Date(T0 + 40 * DAY).toISOString(),
      retentionDays: 30,
    });
    const logs = (await api.get<Page>("/api/audit-log")).body.logs;
    expect(logs.map((l) => l.action)).to.deep.equal(["audit_cleanup", "login"]);
    expect(logs[0]).to.include({ category: "system", username: "token:retention-admin", status: "success" });
    expect(logs[0]?.details).to.deep.equal({ retentionDays: 30, deletedCount: old, trigger: "manual" });
  });

  it("runs a cleanup with the configured retention when the body is empty", async () => {
    clock.set(T0 + 200 * DAY);
    const r = await api.send("POST", "/api/audit-log/cleanup");
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({
      success: true,
      deletedCount: 2,
      oldestRemaining: new Date(T0 + 200 * DAY).toISOString(),
      retentionDays: 90,
    });
  });
});

describe("audit log: the daily retention job", function () {
  const clock = new ManualClock(T0);
  let server: TestServer;
  let api: TokenClient;

  before(async () => {
    server = await startTestServer({}, { clock });
    const admin = await login(server);
    api = tokenClient(server, await adminToken(admin, "job-admin"));
  });
  after(() => server.close());

  it("is scheduled every day at 02:00 UTC while the application runs", () => {
    const next = auditRetentionJobOf(server.app.context)?.nextRunAt();
    expect(next).to.be.instanceOf(Date);
    expect([next?.getUTCHours(), next?.getUTCMinutes(), next?.getUTCSeconds()]).to.deep.equal([2, 0, 0]);
    expect((next?.getTime() ?? 0) - Date.now()).to.be.within(0, DAY);
  });

  it("deletes entries older than the configured retention, using the injected clock, as 'system'", async () => {
    expect((await api.send("PATCH", "/api/audit-log/retention", { retentionDays: 60 })).status).to.equal(200);
    clock.set(T0 + 50 * DAY);
    await failLogin(server, "day-50");
    clock.set(T0 + 70 * DAY);

    const result = await runAuditRetention(server.app.context);
    expect(result).to.deep.equal({
      success: true,
      deletedCount: 4,
      oldestRemaining: new Date(T0 + 50 * DAY).toISOString(),
      retentionDays: 60,
    });
    const logs = (await api.get<Page>("/api/audit-log")).body.logs;
    expect(logs.map((l) => [l.action, l.username])).to.deep.equal([
      ["audit_cleanup", "system"],
      ["login", "day-50"],
    ]);
    expect(logs[0]?.details).to.deep.equal({ retentionDays: 60, deletedCount: 4, trigger: "scheduled" });
    expect(logs.every((l) => Date.parse(l.timestamp) >= T0 + 10 * DAY)).to.equal(true);
  });

  it("deletes nothing when nothing is old enough", async () => {
    const result = await runAuditRetention(server.app.context);
    expect(result.deletedCount).to.equal(0);
  });

  it("stops with the application", async () => {
    const ctx = server.app.context;
    await server.close();
    expect(auditRetentionJobOf(ctx)).to.equal(undefined);
  });
});
