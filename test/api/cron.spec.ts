import { expect } from "chai";
import { auditRetentionJobOf } from "../../server/src/audit/module";
import { type ErrorBody, makeReport, readJson, uploadOk } from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { type TestServer, startTestServer } from "../support/server";
import { FakeDuplicati, fakeState, logEntry, runData } from "../duplicati/fake-duplicati";

/**
 * The original's cron service routes, served in process (reference §2.5): health, trigger, start, stop and
 * reload-config over the overdue check, the audit log retention and the optional periodic collect.
 */

interface Health {
  isRunning: true;
  activeTasks: string[];
  lastRunTimes: Record<string, string>;
  errors: Record<string, string>;
}

interface Trigger {
  taskName: string;
  success: boolean;
  message?: string;
  error?: string;
  statistics?: Record<string, number>;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function addViewer(server: TestServer, admin: BrowserSession): Promise<BrowserSession> {
  await admin.json("POST", "/api/users", {
    username: "viewer",
    password: "Viewer-Passw0rd",
    isAdmin: false,
    requirePasswordChange: false,
  });
  return login(server, "viewer", "Viewer-Passw0rd");
}

describe("/api/cron/*", function () {
  this.timeout(30_000);
  let server: TestServer;
  let admin: BrowserSession;
  let viewer: BrowserSession;

  before(async () => {
    server = await startTestServer({ LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
    viewer = await addViewer(server, admin);
    await uploadOk(
      server,
      makeReport({ machineId: "cron0000cron0000cron0000cron0000", begin: "2025-06-01T10:00:00Z" }),
    );
  });
  after(() => server?.close());

  const health = async (session: BrowserSession = viewer) =>
    (await readJson<Health>(await session.request("/api/cron/health"), "GET /api/cron/health")).body;
  const post = async <T>(path: string, session: BrowserSession = admin) =>
    readJson<T & ErrorBody>(await session.request(path, { method: "POST" }), `POST ${path}`);

  it("GET /api/cron/health lists the active tasks (the periodic collect is off by default)", async () => {
    expect(await health()).to.deep.equal({
      isRunning: true,
      activeTasks: ["overdue-backup-check", "audit-log-cleanup"],
      lastRunTimes: {},
      errors: {},
    });
  });

  it("POST /api/cron/trigger/overdue-backup-check runs the check and answers its statistics", async () => {
    const r = await post<Trigger>("/api/cron/trigger/overdue-backup-check");
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({
      taskName: "overdue-backup-check",
      success: true,
      message: "Task executed successfully",
      statistics: { totalBackupConfigs: 1, checkedBackups: 1, overdueBackupsFound: 1, notificationsSent: 1 },
    });
    expect((await health()).lastRunTimes["overdue-backup-check"]).to.match(ISO);
  });

  it("POST /api/cron/trigger/audit-log-cleanup runs the retention cleanup", async () => {
    const r = await post<Trigger>("/api/cron/trigger/audit-log-cleanup");
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({
      taskName: "audit-log-cleanup",
      success: true,
      message: "Cleaned up 0 audit log entries older than 90 days",
      statistics: { deletedCount: 0, retentionDays: 90 },
    });
    expect(Object.keys((await health()).lastRunTimes)).to.have.members(["overdue-backup-check", "audit-log-cleanup"]);
  });

  it("stop / start / reload-config change which tasks are scheduled", async () => {
    const stopped = await post<{ message: string }>("/api/cron/stop/overdue-backup-check");
    expect(stopped.status).to.equal(200);
    expect(stopped.body).to.deep.equal({ message: "Task overdue-backup-check stopped" });
    expect((await post<{ message: string }>("/api/cron/stop/audit-log-cleanup")).status).to.equal(200);
    expect((await health()).activeTasks).to.deep.equal([]);
    expect(auditRetentionJobOf(server.app.context)?.nextRunAt()).to.equal(null);

    const started = await post<{ message: string }>("/api/cron/start/overdue-backup-check");
    expect(started.body).to.deep.equal({ message: "Task overdue-backup-check started" });
    expect((await health()).activeTasks).to.deep.equal(["overdue-backup-check"]);

    const reloaded = await post<{ message: string }>("/api/cron/reload-config");
    expect(reloaded.body).to.deep.equal({ message: "Configuration reloaded successfully" });
    expect((await health()).activeTasks).to.deep.equal(["overdue-backup-check", "audit-log-cleanup"]);
    expect(auditRetentionJobOf(server.app.context)?.nextRunAt()).to.be.instanceOf(Date);
  });

  it("follows the cron-config: a disabled check cannot be started, reload leaves it off", async () => {
    expect((await admin.json("POST", "/api/cron-config", { interval: "disabled" })).status).to.equal(200);
    const r = await post<{ message: string }>("/api/cron/start/overdue-backup-check");
    expect(r.status, r.text).to.equal(409);
    expect(r.body.error).to.equal("Task overdue-backup-check is turned off in its configuration");
    expect((await health()).activeTasks).to.deep.equal(["audit-log-cleanup"]);
    await post("/api/cron/reload-config");
    expect((await health()).activeTasks).to.deep.equal(["audit-log-cleanup"]);
    expect((await admin.json("POST", "/api/cron-config", { interval: "5min" })).status).to.equal(200);
    expect((await health()).activeTasks).to.deep.equal(["overdue-backup-check", "audit-log-cleanup"]);
  });

  it("the periodic collect is known but off without COLLECT_INTERVAL_MINUTES", async () => {
    const r = await post<{ message: string }>("/api/cron/start/collect-backups");
    expect(r.status).to.equal(409);
    expect(r.body.message).to.include("COLLECT_INTERVAL_MINUTES");
  });

  it("answers 404 for unknown tasks", async () => {
    for (const [path, error] of [
      ["/api/cron/trigger/nope", "Task nope not found"],
      ["/api/cron/stop/nope", "Task nope not found"],
      ["/api/cron/start/nope", "Task nope not found in configuration"],
    ]) {
      const r = await post(path as string);
      expect(r.status, path).to.equal(404);
      expect(r.body.error).to.equal(error);
    }
  });

  it("records the outcome of scheduled runs (last run time, and the error until a run succeeds)", async () => {
    const overdue = server.app.services.overdue;
    overdue.onScheduledRun?.(new Error("database is locked"));
    expect((await health()).errors).to.deep.equal({ "overdue-backup-check": "database is locked" });
    overdue.onScheduledRun?.();
    expect((await health()).errors).to.deep.equal({});
    auditRetentionJobOf(server.app.context)?.onScheduledRun?.(new Error("disk full"));
    expect((await health()).errors).to.deep.equal({ "audit-log-cleanup": "disk full" });
  });

  it("GET is for users, POST for administrators", async () => {
    expect((await server.request("/api/cron/health")).status).to.equal(401);
    for (const path of ["/api/cron/trigger/overdue-backup-check", "/api/cron/reload-config"]) {
      expect((await post(path, viewer)).status, path).to.equal(403);
    }
  });

  it("audits the changes", async () => {
    const audit = await readJson<{ logs: Array<{ action: string }> }>(
      await admin.request("/api/audit-log?category=system&limit=100"),
      "GET audit-log",
    );
    const actions = new Set(audit.body.logs.map((l) => l.action));
    for (const action of ["cron_task_triggered", "cron_task_started", "cron_task_stopped", "cron_config_reloaded"]) {
      expect(actions, action).to.include(action);
    }
  });
});

describe("/api/cron/* with the periodic collect on (COLLECT_INTERVAL_MINUTES)", function () {
  this.timeout(30_000);
  let server: TestServer;
  let admin: BrowserSession;
  let nas: FakeDuplicati;

  before(async () => {
    server = await startTestServer({
      LOGIN_RATE_LIMIT: "1000",
      COLLECT_INTERVAL_MINUTES: "30",
      DUPLICATI_TIMEOUT_MS: "1000",
    });
    admin = await login(server);
    nas = await new FakeDuplicati(
      fakeState({ backups: [{ id: "1", name: "Files", log: [logEntry(1, runData("2025-06-10T01:00:00Z"))] }] }),
    ).start();
  });
  after(async () => {
    await nas?.close();
    await server?.close();
  });

  const trigger = async () =>
    readJson<Trigger>(
      await admin.request("/api/cron/trigger/collect-backups", { method: "POST" }),
      "POST trigger/collect-backups",
    );

  it("is an active task", async () => {
    const h = await readJson<Health>(await admin.request("/api/cron/health"), "GET health");
    expect(h.body.activeTasks).to.include("collect-backups");
  });

  it("trigger collects from every server with a stored address and password", async () => {
    const empty = await trigger();
    expect(empty.body).to.deep.include({ taskName: "collect-backups", success: true });
    expect(empty.body.statistics).to.include({ servers: 0 });

    const first = await admin.json("POST", "/api/backups/collect", {
      hostname: "127.0.0.1",
      port: nas.port,
      password: "duplicati-pw",
    });
    expect(first.status).to.equal(200);
    nas.state.backups[0]?.log.push(logEntry(2, runData("2025-06-11T01:00:00Z")));
    const r = await trigger();
    expect(r.body.success, r.text).to.equal(true);
    expect(r.body.statistics).to.deep.equal({ servers: 1, failedServers: 0, processed: 1, skipped: 1, errors: 0 });
  });

  it("reports a server that fails as the task's error", async () => {
    nas.state.password = "changed";
    const r = await trigger();
    expect(r.body.success).to.equal(false);
    expect(r.body.error).to.match(/^1 server\(s\) failed: .*Authentication failed: wrong Duplicati password/);
    const h = await readJson<Health>(await admin.request("/api/cron/health"), "GET health");
    expect(h.body.errors["collect-backups"]).to.equal(r.body.error);
  });

  it("can be stopped and started", async () => {
    await admin.request("/api/cron/stop/collect-backups", { method: "POST" });
    let h = await readJson<Health>(await admin.request("/api/cron/health"), "GET health");
    expect(h.body.activeTasks).to.not.include("collect-backups");
    const started = await admin.request("/api/cron/start/collect-backups", { method: "POST" });
    expect(started.status).to.equal(200);
    h = await readJson<Health>(await admin.request("/api/cron/health"), "GET health");
    expect(h.body.activeTasks).to.include("collect-backups");
  });
});
