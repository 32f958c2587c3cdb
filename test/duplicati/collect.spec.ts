import { expect } from "chai";
import { SecretBox } from "../../server/src/core/secrets";
import { type ErrorBody, type LastBackupsBody, getJson, readJson, upload } from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { type TestServer, startTestServer } from "../support/server";
import { FakeDuplicati, closedPort, fakeState, logEntry, plainWebServer, runData } from "./fake-duplicati";

/**
 * POST /api/backups/collect and /api/backups/sync-schedule against a fake Duplicati server (a real HTTP server
 * answering the Duplicati REST API with recorded-style bodies): runs are stored once (a run Duplicati already pushed
 * is skipped), schedules become the jobs' monitoring settings, the password is stored encrypted, and every way the
 * exchange can fail has a clear error.
 */

const MACHINE = "f00dfeedf00dfeedf00dfeedf00dfeed";
const PASSWORD = "duplicati-pw";

interface CollectBody {
  success: boolean;
  serverId: string;
  serverName: string;
  serverAlias: string;
  message?: string;
  stats: { processed: number; skipped: number; errors: number };
  backupSettings: { message: string };
  errors?: string[];
  jsonData?: string;
}

interface BulkBody {
  success: boolean;
  message?: string;
  results: Array<{
    hostname: string;
    port: number;
    success: boolean;
    serverId?: string;
    serverName?: string;
    error?: string;
    stats?: { processed: number; skipped?: number; errors: number };
  }>;
  stats: { processed: number; skipped: number; errors: number };
}

interface SettingsBody {
  backupSettings: Record<
    string,
    { expectedInterval: string; allowedWeekDays: number[]; time: string; lastBackupDate?: string }
  >;
}

/** Documents: three runs Mon–Fri at 02:30, a restore, a daily schedule on weekdays; Photos: weekly on Saturday. */
function nasBackups() {
  return [
    {
      id: "1",
      name: "Documents",
      schedule: {
        ID: 1,
        Tags: ["ID=1"],
        Time: "2025-06-16T02:30:00Z",
        Repeat: "1D",
        LastRun: "2025-06-13T02:30:00Z",
        Rule: "AllowedWeekDays=Monday,Tuesday,Wednesday,Thursday,Friday",
        AllowedDays: ["mon", "tue", "wed", "thu", "fri"],
      },
      log: [
        logEntry(3, runData("2025-06-13T02:30:00Z", { status: "Warning" })),
        logEntry(2, runData("2025-06-12T02:30:00Z")),
        logEntry(4, runData("2025-06-12T09:00:00Z", { operation: "Restore" })),
        logEntry(1, runData("2025-06-11T02:30:00Z")),
      ],
    },
    {
      id: "2",
      name: "Photos",
      schedule: { ID: 2, Time: "2025-06-21T04:00:00Z", Repeat: "1W", Rule: "", AllowedDays: ["sat"] },
      log: [logEntry(5, runData("2025-06-14T04:00:00Z", { durationSeconds: 3600 }))],
    },
    { id: "3", name: "Scratch", schedule: null, log: [] },
  ];
}

/** The report Duplicati would have pushed for the run of 2025-06-12 (same begin time as its log entry). */
function pushedReport() {
  return {
    Data: runData("2025-06-12T02:30:00Z"),
    Extra: {
      OperationName: "Backup",
      "machine-id": MACHINE,
      "machine-name": "NAS-01",
      "backup-name": "Documents",
      "backup-id": "1",
    },
  };
}

async function post<T>(session: BrowserSession, path: string, body: unknown) {
  return readJson<T & ErrorBody>(await session.json("POST", path, body), `POST ${path}`);
}

describe("collect from a Duplicati server", function () {
  this.timeout(60_000);
  let server: TestServer;
  let admin: BrowserSession;
  let nas: FakeDuplicati;

  before(async () => {
    server = await startTestServer({ DUPLICATI_TIMEOUT_MS: "1500", LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
    nas = await new FakeDuplicati(fakeState({ machineId: MACHINE, backups: nasBackups() })).start();
  });
  after(async () => {
    await nas?.close();
    await server?.close();
  });

  it("stores the runs not yet stored (a pushed one is skipped) and applies the schedules", async () => {
    expect((await upload(server, pushedReport())).status).to.equal(200);

    const r = await post<CollectBody>(admin, "/api/backups/collect", {
      hostname: "127.0.0.1",
      port: nas.port,
      password: PASSWORD,
    });
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({
      success: true,
      serverId: MACHINE,
      serverName: "NAS-01",
      serverAlias: "",
      stats: { processed: 3, skipped: 1, errors: 0 },
      backupSettings: { message: "Backup settings completion handled automatically" },
    });

    const last = await getJson<LastBackupsBody>(server, `/api/lastbackups/${MACHINE}`);
    expect(last.status).to.equal(200);
    expect(last.body.backup_names).to.have.members(["Documents", "Photos"]);
    const docs = last.body.latest_backups.find((b) => b.name === "Documents");
    expect(docs?.date).to.equal("2025-06-13T02:30:00.123Z");
    expect(docs?.status).to.equal("Warning");
    const photos = last.body.latest_backups.find((b) => b.name === "Photos");
    expect(photos?.duration).to.equal("01:00:00");

    const settings = await readJson<SettingsBody>(
      await admin.request("/api/configuration/backup-settings"),
      "GET backup-settings",
    );
    const s = settings.body.backupSettings;
    expect(s[`${MACHINE}:Documents`]).to.include({ expectedInterval: "1D", time: "2025-06-16T02:30:00.000Z" });
    expect(s[`${MACHINE}:Documents`]?.allowedWeekDays).to.deep.equal([1, 2, 3, 4, 5]);
    expect(s[`${MACHINE}:Photos`]).to.include({ expectedInterval: "1W", time: "2025-06-21T04:00:00.000Z" });
    expect(s[`${MACHINE}:Photos`]?.allowedWeekDays).to.deep.equal([6]);
    expect(s).to.not.have.property(`${MACHINE}:Scratch`);

    // Duplicati REST calls as documented: the login body, a bearer token, the log page size.
    const loginCall = nas.requests.find((q) => q.url === "/api/v1/auth/login");
    expect(JSON.parse(loginCall?.body ?? "{}")).to.deep.equal({ Password: PASSWORD, RememberMe: true });
    const logCalls = nas.requests.filter((q) => q.url.includes("/log?"));
    expect(logCalls.map((q) => q.url)).to.have.members([
      "/api/v1/backup/1/log?pagesize=999",
      "/api/v1/backup/2/log?pagesize=999",
      "/api/v1/backup/3/log?pagesize=999",
    ]);
    expect(logCalls.every((q) => q.authorization === "Bearer fake-access-token")).to.equal(true);
  });

  it("records the server with its address and the password encrypted, never answering it", async () => {
    const info = await readJson<{ server_url: string; hasPassword: boolean; name: string }>(
      await admin.request(`/api/servers/${MACHINE}`),
      "GET server",
    );
    expect(info.body).to.include({ server_url: `http://127.0.0.1:${nas.port}`, hasPassword: true, name: "NAS-01" });

    const row = await server.app.db.read((q) =>
      q.get<{ server_password: string }>(`SELECT server_password FROM servers WHERE id = ?`, [MACHINE]),
    );
    expect(row?.server_password.startsWith("enc:v1:")).to.equal(true);
    expect(row?.server_password).to.not.include(PASSWORD);
    expect(SecretBox.openOrCreate(server.dataDir).decrypt(row?.server_password ?? "", "server-password")).to.equal(
      PASSWORD,
    );

    for (const path of [
      `/api/servers/${MACHINE}`,
      `/api/servers/${MACHINE}/password`,
      "/api/servers?includeBackups=true",
      "/api/dashboard",
      "/api/configuration/unified",
    ]) {
      const res = await admin.request(path);
      expect(res.status, path).to.equal(200);
      expect(await res.text(), path).to.not.include(PASSWORD);
    }
  });

  it("skips everything on a second collect", async () => {
    const r = await post<CollectBody>(admin, "/api/backups/collect", {
      hostname: "127.0.0.1",
      port: String(nas.port),
      password: PASSWORD,
    });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.stats).to.deep.equal({ processed: 0, skipped: 4, errors: 0 });
  });

  it("collects by serverId alone with the stored address and password", async () => {
    nas.state.backups[1]?.log.push(logEntry(6, runData("2025-06-21T04:00:00Z")));
    const r = await post<CollectBody>(admin, "/api/backups/collect", { serverId: MACHINE });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.stats).to.deep.equal({ processed: 1, skipped: 4, errors: 0 });
  });

  it("audits backup_collected", async () => {
    const collected = await readJson<{ logs: Array<{ details: Record<string, unknown>; username: string }> }>(
      await admin.request("/api/audit-log?action=backup_collected"),
      "GET audit-log",
    );
    expect(collected.body.logs.length).to.be.greaterThanOrEqual(3);
    expect(collected.body.logs.some((l) => l.details.processed === 3 && l.details.skipped === 1)).to.equal(true);
    expect(collected.body.logs.every((l) => l.username === "admin")).to.equal(true);
  });

  it("answers jsonData with credentials redacted when downloadJson is set", async () => {
    const r = await post<CollectBody>(admin, "/api/backups/collect", {
      hostname: "127.0.0.1",
      port: nas.port,
      password: PASSWORD,
      downloadJson: true,
    });
    expect(r.status, r.text).to.equal(200);
    const data = JSON.parse(r.body.jsonData ?? "{}") as {
      system_info: Record<string, unknown> & { Options: Array<{ Name: string }> };
      backups: Array<{ Backup: { TargetURL: string; Settings: Array<{ Name: string; Value: string }> } }>;
      backup_logs: Array<{
        backupId: string;
        backupName: string;
        messages: Array<{ Message: { MainOperation: string } }>;
      }>;
    };
    expect(data.system_info.MachineName).to.equal("NAS-01");
    expect(data.system_info.Options.map((o) => o.Name)).to.deep.equal(["machine-id"]);
    expect(Object.keys(data.system_info).some((k) => k.endsWith("Modules"))).to.equal(false);
    expect(data.backups[0]?.Backup.TargetURL).to.equal("ssh:***--REDACTED--***");
    expect(data.backups[0]?.Backup.Settings.find((x) => x.Name === "passphrase")?.Value).to.equal("***--REDACTED--***");
    expect(r.body.jsonData).to.not.include("very-secret");
    expect(r.body.jsonData).to.not.include("auth-password");
    const docs = data.backup_logs.find((l) => l.backupName === "Documents");
    expect(docs?.messages).to.have.length(3);
    expect(docs?.messages.every((m) => m.Message.MainOperation === "Backup")).to.equal(true);
  });

  it("counts invalid log entries and a failing log as errors, and stores the rest", async () => {
    const other = await new FakeDuplicati(
      fakeState({
        machineId: "aaaa0000aaaa0000aaaa0000aaaa0000",
        machineName: "SRV-02",
        backups: [
          {
            id: "7",
            name: "Mail",
            log: [
              logEntry(1, "{not json"),
              logEntry(2, { ...runData("2025-06-10T01:00:00Z"), BeginTime: "not a date" }),
              logEntry(3, runData("2025-06-11T01:00:00Z")),
            ],
          },
          { id: "8", name: "Db", log: [logEntry(1, runData("2025-06-11T03:00:00Z"))] },
        ],
        failures: new Map([["/api/v1/backup/8/log", 500]]),
      }),
    ).start();
    try {
      const r = await post<CollectBody>(admin, "/api/backups/collect", {
        hostname: "127.0.0.1",
        port: other.port,
        password: PASSWORD,
      });
      expect(r.status, r.text).to.equal(200);
      expect(r.body.stats).to.deep.equal({ processed: 1, skipped: 0, errors: 3 });
      expect(r.body.errors).to.have.length(3);
      expect(r.body.errors?.join("\n")).to.include("HTTP 500");
    } finally {
      await other.close();
    }
  });

  it("reads the machine-id from the server settings when systeminfo leaves it empty (Duplicati 2.4+)", async () => {
    const newer = await new FakeDuplicati(
      fakeState({
        machineId: "bbbb1111bbbb1111bbbb1111bbbb1111",
        machineName: "SRV-24",
        machineIdOnlyInSettings: true,
        backups: [{ id: "1", name: "Home", log: [logEntry(1, runData("2025-06-11T05:00:00Z"))] }],
      }),
    ).start();
    try {
      const r = await post<CollectBody>(admin, "/api/backups/collect", {
        hostname: "127.0.0.1",
        port: newer.port,
        password: PASSWORD,
      });
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.include({ serverId: "bbbb1111bbbb1111bbbb1111bbbb1111", serverName: "SRV-24" });
      // A server first seen through a collect is audited as added.
      const added = await readJson<{ logs: Array<{ targetId: string; details: Record<string, unknown> }> }>(
        await admin.request("/api/audit-log?action=server_added"),
        "GET audit-log",
      );
      const entry = added.body.logs.find((l) => l.targetId === "bbbb1111bbbb1111bbbb1111bbbb1111");
      expect(entry?.details).to.include({ serverName: "SRV-24", server_url: `http://127.0.0.1:${newer.port}` });
    } finally {
      await newer.close();
    }
  });
});

describe("collect errors", function () {
  this.timeout(60_000);
  let server: TestServer;
  let admin: BrowserSession;
  let nas: FakeDuplicati;

  before(async () => {
    server = await startTestServer({ DUPLICATI_TIMEOUT_MS: "700", LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
    nas = await new FakeDuplicati(fakeState({ machineId: MACHINE, backups: nasBackups() })).start();
  });
  afterEach(() => {
    nas.state.failures.clear();
    nas.state.hang.clear();
  });
  after(async () => {
    await nas?.close();
    await server?.close();
  });

  const collect = (body: unknown) => post<CollectBody>(admin, "/api/backups/collect", body);
  const serverCount = () =>
    server.app.db.read(async (q) => Number((await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM servers`))?.n ?? 0));

  it("a wrong password is a 400 naming it, and nothing is stored", async () => {
    const r = await collect({ hostname: "127.0.0.1", port: nas.port, password: "wrong" });
    expect(r.status, r.text).to.equal(400);
    expect(r.body.error).to.equal("Authentication failed: wrong Duplicati password");
    expect(await serverCount()).to.equal(0);
  });

  it("an unreachable host is a 502", async () => {
    const r = await collect({ hostname: "127.0.0.1", port: await closedPort(), password: PASSWORD });
    expect(r.status, r.text).to.equal(502);
    expect(r.body.error).to.match(/^Cannot connect to a Duplicati server at 127\.0\.0\.1:\d+$/);
    expect(r.body.message).to.include("ECONNREFUSED");
  });

  it("a web server that is not Duplicati is a 502 that says so", async () => {
    for (const status of [404, 200]) {
      const web = await plainWebServer(status);
      try {
        const r = await collect({ hostname: "127.0.0.1", port: web.port, password: PASSWORD });
        expect(r.status, r.text).to.equal(502);
        expect(r.body.error).to.equal(`127.0.0.1:${web.port} does not look like a Duplicati server`);
      } finally {
        await web.close();
      }
    }
  });

  it("a Duplicati API failure (HTTP 500) is a 502 naming the call", async () => {
    nas.state.failures.set("/api/v1/systeminfo", 500);
    const r = await collect({ hostname: "127.0.0.1", port: nas.port, password: PASSWORD });
    expect(r.status, r.text).to.equal(502);
    expect(r.body.error).to.equal("Duplicati API error: GET /api/v1/systeminfo answered HTTP 500");
  });

  it("a server that never answers is a 504 after the configured timeout", async () => {
    for (const path of ["/api/v1/auth/login", "/api/v1/backups"]) {
      nas.state.hang.add(path);
      const started = Date.now();
      const r = await collect({ hostname: "127.0.0.1", port: nas.port, password: PASSWORD });
      expect(r.status, `${path}: ${r.text}`).to.equal(504);
      expect(r.body.error).to.match(/did not answer in time|no answer within 700 ms/);
      expect(Date.now() - started).to.be.lessThan(5_000);
      nas.state.hang.clear();
    }
  });

  it("validates the request", async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ hostname: "127.0.0.1" }, 400, "Password is required when serverId is not provided"],
      [{ password: PASSWORD }, 400, "Hostname is required when serverId is not provided"],
      [{ hostname: "bad host/name", password: PASSWORD }, 400, "Invalid hostname"],
      [{ hostname: "127.0.0.1", port: 70000, password: PASSWORD }, 400, "Invalid port"],
      [{ hostname: "127.0.0.1", port: "x", password: PASSWORD }, 400, "Invalid port"],
      [{ serverId: "no-such-server" }, 404, "Server not found"],
      [{ hostname: 5, password: PASSWORD }, 400, "Invalid request body"],
    ];
    for (const [body, status, error] of cases) {
      const r = await collect(body);
      expect(r.status, JSON.stringify(body)).to.equal(status);
      expect(r.body.error, JSON.stringify(body)).to.equal(error);
    }
  });

  it("a known server without a stored password is a 404 with the server's info", async () => {
    const pushed = pushedReport();
    pushed.Extra["machine-id"] = "pushonly0000pushonly0000pushonly";
    expect((await upload(server, pushed)).status).to.equal(200);
    const r = await collect({ serverId: "pushonly0000pushonly0000pushonly" });
    expect(r.status, r.text).to.equal(404);
    expect(r.body.error).to.match(/^No password stored for this server/);
    expect((r.body as unknown as { serverInfo: { id: string } }).serverInfo.id).to.equal(
      "pushonly0000pushonly0000pushonly",
    );
  });

  it("a stored password this installation cannot decrypt is a 400 with masterKeyInvalid", async () => {
    await server.app.db.write((q) =>
      q.run(`UPDATE servers SET server_password = ?, server_url = ? WHERE id = ?`, [
        "0a1b:2c3d:4e5f:6a7b",
        `http://127.0.0.1:${nas.port}`,
        MACHINE,
      ]),
    );
    const r = await collect({ serverId: MACHINE });
    expect(r.status, r.text).to.equal(400);
    expect((r.body as unknown as { masterKeyInvalid: boolean }).masterKeyInvalid).to.equal(true);
  });

  it("failures are audited with status error", async () => {
    const audit = await readJson<{ logs: Array<{ status: string; errorMessage: string | null }> }>(
      await admin.request("/api/audit-log?action=backup_collected"),
      "GET audit-log",
    );
    expect(audit.body.logs.length).to.be.greaterThan(0);
    expect(audit.body.logs.every((l) => l.status === "error")).to.equal(true);
    expect(audit.body.logs.some((l) => l.errorMessage === "Authentication failed: wrong Duplicati password")).to.equal(
      true,
    );
  });

  it("is for administrators only", async () => {
    await admin.json("POST", "/api/users", {
      username: "viewer",
      password: "Viewer-Passw0rd",
      isAdmin: false,
      requirePasswordChange: false,
    });
    const viewer = await login(server, "viewer", "Viewer-Passw0rd");
    for (const path of ["/api/backups/collect", "/api/backups/sync-schedule"]) {
      const res = await viewer.json("POST", path, { hostname: "127.0.0.1", port: nas.port, password: PASSWORD });
      expect(res.status, path).to.equal(403);
    }
    expect(nas.requests).to.satisfy((reqs: unknown[]) => Array.isArray(reqs));
  });
});

describe("collect over HTTPS, in bulk and from every stored server", function () {
  this.timeout(60_000);
  let server: TestServer;
  let admin: BrowserSession;
  const fakes: FakeDuplicati[] = [];

  before(async () => {
    server = await startTestServer({ DUPLICATI_TIMEOUT_MS: "3000", LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
  });
  after(async () => {
    for (const f of fakes) await f.close();
    await server?.close();
  });

  it("detects HTTPS with a self-signed certificate and stores the https:// address", async () => {
    const secure = await new FakeDuplicati(
      fakeState({
        machineId: "cccc2222cccc2222cccc2222cccc2222",
        machineName: "TLS-01",
        backups: [{ id: "1", name: "Etc", log: [logEntry(1, runData("2025-06-11T06:00:00Z"))] }],
      }),
      true,
    ).start();
    fakes.push(secure);
    const r = await post<CollectBody>(admin, "/api/backups/collect", {
      hostname: "127.0.0.1",
      port: secure.port,
      password: PASSWORD,
    });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.stats.processed).to.equal(1);
    const info = await readJson<{ server_url: string }>(
      await admin.request("/api/servers/cccc2222cccc2222cccc2222cccc2222"),
      "GET",
    );
    expect(info.body.server_url).to.equal(`https://127.0.0.1:${secure.port}`);
  });

  it("collects from a comma-separated list of hosts (same port and password), one result each", async function () {
    const a = await new FakeDuplicati(
      fakeState({
        machineId: "dddd3333dddd3333dddd3333dddd3333",
        machineName: "BULK-A",
        backups: [{ id: "1", name: "A", log: [logEntry(1, runData("2025-06-11T07:00:00Z"))] }],
      }),
    ).start("127.0.0.1");
    fakes.push(a);
    let b: FakeDuplicati;
    try {
      // Same port on another loopback address (Linux routes all of 127/8 to lo).
      b = await new FakeDuplicati(
        fakeState({
          machineId: "eeee4444eeee4444eeee4444eeee4444",
          machineName: "BULK-B",
          password: PASSWORD,
          backups: [{ id: "1", name: "B", log: [logEntry(1, runData("2025-06-11T08:00:00Z"))] }],
        }),
      ).start("127.0.0.2", a.port);
    } catch {
      this.skip(); // no second loopback address on this machine
      return;
    }
    fakes.push(b);
    const dead = "127.0.0.3";
    const r = await post<BulkBody>(admin, "/api/backups/collect", {
      hostname: `127.0.0.1, 127.0.0.2,${dead}`,
      port: a.port,
      password: PASSWORD,
    });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.success).to.equal(false);
    expect(r.body.results.map((x) => [x.hostname, x.success, x.serverName ?? null])).to.deep.equal([
      ["127.0.0.1", true, "BULK-A"],
      ["127.0.0.2", true, "BULK-B"],
      [dead, false, null],
    ]);
    expect(r.body.results[2]?.error).to.match(/^Cannot connect/);
    expect(r.body.stats).to.deep.equal({ processed: 2, skipped: 0, errors: 0 });
  });

  it("with no hostname and no serverId, collects from every server with a stored address and password", async () => {
    for (const f of fakes) f.state.backups[0]?.log.push(logEntry(9, runData("2025-06-12T10:00:00Z")));
    const r = await post<BulkBody>(admin, "/api/backups/collect", {});
    expect(r.status, r.text).to.equal(200);
    expect(r.body.success).to.equal(true);
    expect(r.body.results.length).to.equal(fakes.length);
    expect(r.body.stats.processed).to.equal(fakes.length);
    expect(r.body.stats.skipped).to.equal(fakes.length);
  });
});

describe("sync-schedule", function () {
  this.timeout(60_000);
  let server: TestServer;
  let admin: BrowserSession;
  let nas: FakeDuplicati;

  before(async () => {
    server = await startTestServer({ DUPLICATI_TIMEOUT_MS: "1500", LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
    nas = await new FakeDuplicati(fakeState({ machineId: MACHINE, backups: nasBackups() })).start();
  });
  after(async () => {
    await nas?.close();
    await server?.close();
  });

  it("applies only the schedules: interval, weekdays and next run, without storing runs", async () => {
    const r = await post<{ success: boolean; serverName: string; stats: { processed: number; errors: number } }>(
      admin,
      "/api/backups/sync-schedule",
      { hostname: "127.0.0.1", port: nas.port, password: PASSWORD },
    );
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({
      success: true,
      serverId: MACHINE,
      serverName: "NAS-01",
      stats: { processed: 2, errors: 0 },
    });
    expect(nas.requests.some((q) => q.url.includes("/log?"))).to.equal(false);
    const settings = await readJson<SettingsBody>(
      await admin.request("/api/configuration/backup-settings"),
      "GET backup-settings",
    );
    const docs = settings.body.backupSettings[`${MACHINE}:Documents`];
    expect(docs).to.include({ expectedInterval: "1D", time: "2025-06-16T02:30:00.000Z" });
    expect(docs?.allowedWeekDays).to.deep.equal([1, 2, 3, 4, 5]);
    expect(settings.body.backupSettings[`${MACHINE}:Photos`]?.allowedWeekDays).to.deep.equal([6]);
    const last = await getJson<LastBackupsBody>(server, `/api/lastbackups/${MACHINE}`);
    expect(last.body.latest_backups).to.have.length(0);
  });

  it("a later collect keeps Duplicati's next run, which lies after the collected runs", async () => {
    nas.state.backups[0]!.schedule = {
      ...nas.state.backups[0]!.schedule,
      Repeat: "12h",
      Rule: "AllowedWeekDays=Monday",
    };
    const r = await post<{ stats: { processed: number } }>(admin, "/api/backups/sync-schedule", { serverId: MACHINE });
    expect(r.status, r.text).to.equal(200);
    const c = await post<CollectBody>(admin, "/api/backups/collect", { serverId: MACHINE });
    expect(c.status, c.text).to.equal(200);
    expect(c.body.stats.processed).to.equal(4);
    const settings = await readJson<SettingsBody>(
      await admin.request("/api/configuration/backup-settings"),
      "GET backup-settings",
    );
    expect(settings.body.backupSettings[`${MACHINE}:Documents`]).to.include({
      expectedInterval: "12h",
      time: "2025-06-16T02:30:00.000Z",
      lastBackupDate: "2025-06-13T02:30:00.123Z",
    });
    expect(settings.body.backupSettings[`${MACHINE}:Documents`]?.allowedWeekDays).to.deep.equal([1]);
  });

  it("audits backup_schedule_synced", async () => {
    const audit = await readJson<{ logs: Array<{ details: Record<string, unknown>; status: string }> }>(
      await admin.request("/api/audit-log?action=backup_schedule_synced"),
      "GET audit-log",
    );
    expect(audit.body.logs).to.have.length(2);
    expect(audit.body.logs.every((l) => l.status === "success" && l.details.processed === 2)).to.equal(true);
  });

  it("answers the same errors as collect", async () => {
    const r = await post<CollectBody>(admin, "/api/backups/sync-schedule", {
      hostname: "127.0.0.1",
      port: nas.port,
      password: "nope",
    });
    expect(r.status).to.equal(400);
    expect(r.body.error).to.equal("Authentication failed: wrong Duplicati password");
  });
});
