import { expect } from "chai";
import { ManualClock } from "../../server/src/core/clock";
import { fixture, makeReport, upload, uploadOk } from "../support/api";
import { login, type BrowserSession } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";
import { type NtfyReceiver, auditRows, closedPort, expectStatus, startNtfyReceiver } from "./notifications-support";

/**
 * The ntfy plugin end to end: real uploads into the real server, a local HTTP receiver standing in for ntfy.
 * Sends run on the event bus after the upload has answered; `events.idle()` waits for them.
 */

const NOW = Date.parse("2026-01-10T12:00:00.000Z");
const TOKEN = "tk_ntfy-Secret-4711";

async function saveNtfy(admin: BrowserSession, ntfy: Record<string, unknown>): Promise<void> {
  await expectStatus(await admin.json("PUT", "/api/configuration/ntfy", { ntfy }), 200);
}

async function backupSettings(admin: BrowserSession, settings: Record<string, unknown>): Promise<void> {
  await expectStatus(await admin.json("POST", "/api/configuration/backup-settings", { backupSettings: settings }), 200);
}

describe("notifications: ntfy plugin", function () {
  let clock: ManualClock;
  let server: TestServer;
  let admin: BrowserSession;
  let receiver: NtfyReceiver;

  const settle = async () => {
    // The settings route starts an overdue check in the background; this one shares it, then events settle.
    await expectStatus(await admin.request("/api/notifications/check-overdue", { method: "POST" }), 200);
    await server.app.events.idle();
  };

  before(async () => {
    clock = new ManualClock(NOW);
    server = await startTestServer({}, { clock });
    admin = await login(server);
    receiver = await startNtfyReceiver();
    await saveNtfy(admin, { url: receiver.url, topic: "dup-main", accessToken: TOKEN });
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
  });
  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.status = 200;
  });
  afterEach(async () => {
    await server.app.events.idle();
  });

  it("sends nothing for a Success under the default filter (warnings), and everything once the job says all", async () => {
    await uploadOk(server, makeReport({ machineId: "m-all", begin: "2026-01-10T10:00:00Z" }));
    await server.app.events.idle();
    expect(receiver.requests, "default filter skips Success").to.have.length(0);

    await backupSettings(admin, { "m-all:Files": { notificationEvent: "all" } });
    await settle();
    await uploadOk(
      server,
      makeReport({
        machineId: "m-all",
        begin: "2026-01-10T11:30:00Z",
        durationSeconds: 2311,
        uploaded: 1536,
        known: 5 * 1024 ** 3,
        versions: 7,
        files: 15399,
      }),
    );
    await server.app.events.idle();

    expect(receiver.requests).to.have.length(1);
    const r = receiver.requests[0]!;
    expect(r.method).to.equal("POST");
    expect(r.path).to.equal("/dup-main");
    expect(r.query.get("title")).to.equal("✅ Success - Files @ name-of-m-all");
    expect(r.query.get("priority")).to.equal("default");
    expect(r.query.get("tags")).to.equal("duplicati,duplistatus,success");
    expect(r.headers.authorization).to.equal(`Bearer ${TOKEN}`);
    expect(r.headers["content-type"]).to.equal("text/plain; charset=utf-8");
    expect(r.body).to.equal(
      "The backup Files on name-of-m-all finished with status Success on 10/01/2026, 11:30, after 38m 31s.\n\n" +
        "🔍 Note: \n" +
        "☁️ Uploaded: 1.5 KB\n" +
        "💾 Storage used: 5 GB\n" +
        "🔃 Versions available: 7\n",
    );

    const sent = await auditRows(admin, "notification_sent");
    const row = sent.find((a) => a.targetId === "m-all:Files");
    expect(row, "audited").to.not.equal(undefined);
    expect(row!.category).to.equal("system");
    expect(row!.status).to.equal("success");
    expect(row!.details).to.include({
      channel: "ntfy",
      destination: "standard",
      template: "success",
      event: "backupReceived",
    });
  });

  it("uses the warning template for a Warning run, with its warnings as log_text", async () => {
    const report = fixture("03-warning-generator-style.json");
    report.Data.BeginTime = "2026-01-10T11:00:00.000Z";
    report.Extra["machine-id"] = "m-warn";
    report.Extra["machine-name"] = "DB-PROD-01";
    await uploadOk(server, report);
    await server.app.events.idle();

    expect(receiver.requests).to.have.length(1);
    const r = receiver.requests[0]!;
    expect(r.path).to.equal("/dup-main");
    expect(r.query.get("title")).to.equal("⚠️ Warning - Databases @ DB-PROD-01");
    expect(r.query.get("priority")).to.equal("high");
    expect(r.query.get("tags")).to.equal("duplicati,duplistatus,warning,error");
    expect(r.body).to.equal(
      "The backup Databases on DB-PROD-01 finished with status Warning on 10/01/2026, 11:00.\n\n" +
        "🔍 Note: \n" +
        "⏰ Duration: 7m 12s\n" +
        "☁️ Uploaded: 478.01 MB\n\n" +
        "🚨 Warnings: 2\n" +
        "🛑 Errors: 0\n\n" +
        "📄 Log messages:\nWarning 001\nWarning 002\n\n" +
        "⚠️ Please check the Duplicati server: \n",
    );
  });

  it("uses the warning template for a Fatal run, its exception as log_text", async () => {
    const report = fixture("04-fatal-exception-newer-shape.json");
    report.Data.BeginTime = "2026-01-10T11:05:00.000Z";
    report.Data.EndTime = "2026-01-10T11:05:41.000Z";
    report.Extra["machine-id"] = "m-fatal";
    delete report.Extra["next-scheduled-run"];
    await uploadOk(server, report);
    await server.app.events.idle();

    expect(receiver.requests).to.have.length(1);
    const r = receiver.requests[0]!;
    expect(r.query.get("title")).to.equal("⚠️ Fatal - Laptop to B2 @ WIN-LAPTOP-07");
    expect(r.body).to.include("🛑 Errors: 1\n");
    expect(r.body).to.include("📄 Log messages:\nSystem.Net.Http.HttpRequestException: No such host is known.");
  });

  it("sends nothing when the job's filter is off, and nothing for a late re-sent older run", async () => {
    await uploadOk(server, makeReport({ machineId: "m-off", begin: "2026-01-10T10:00:00Z" }));
    await backupSettings(admin, { "m-off:Files": { notificationEvent: "off" } });
    await settle();
    await uploadOk(server, makeReport({ machineId: "m-off", begin: "2026-01-10T11:00:00Z", status: "Error" }));
    await server.app.events.idle();
    expect(receiver.requests, "off").to.have.length(0);

    await backupSettings(admin, { "m-off:Files": { notificationEvent: "all" } });
    await settle();
    await uploadOk(server, makeReport({ machineId: "m-off", begin: "2026-01-09T09:00:00Z", status: "Error" }));
    await server.app.events.idle();
    expect(receiver.requests, "an older run is not the latest").to.have.length(0);
  });

  it("sends to the additional topic by its own filter, on the same server with the same token", async () => {
    await uploadOk(server, makeReport({ machineId: "m-extra", begin: "2026-01-10T10:00:00Z" }));
    await backupSettings(admin, {
      "m-extra:Files": {
        notificationEvent: "off",
        additionalNotificationEvent: "all",
        additionalNtfyTopic: "dup-extra",
      },
    });
    await settle();
    await uploadOk(server, makeReport({ machineId: "m-extra", begin: "2026-01-10T11:00:00Z" }));
    await server.app.events.idle();

    expect(receiver.requests.map((r) => r.path)).to.deep.equal(["/dup-extra"]);
    const r = receiver.requests[0]!;
    expect(r.query.get("title")).to.equal("✅ Success - Files @ name-of-m-extra");
    expect(r.headers.authorization).to.equal(`Bearer ${TOKEN}`);
    const row = (await auditRows(admin, "notification_sent")).find((a) => a.targetId === "m-extra:Files");
    expect(row?.details).to.include({ destination: "additional" });

    // Both destinations when both filters pass; ntfyEnabled false silences only the standard one.
    receiver.requests.length = 0;
    await backupSettings(admin, { "m-extra:Files": { notificationEvent: "all" } });
    await settle();
    await uploadOk(server, makeReport({ machineId: "m-extra", begin: "2026-01-10T11:10:00Z" }));
    await server.app.events.idle();
    expect(receiver.requests.map((r) => r.path).sort()).to.deep.equal(["/dup-extra", "/dup-main"]);

    receiver.requests.length = 0;
    await backupSettings(admin, { "m-extra:Files": { ntfyEnabled: false } });
    await settle();
    await uploadOk(server, makeReport({ machineId: "m-extra", begin: "2026-01-10T11:20:00Z" }));
    await server.app.events.idle();
    expect(receiver.requests.map((r) => r.path)).to.deep.equal(["/dup-extra"]);
  });

  it("does not retry an ntfy that answers with an error, and audits the failure", async () => {
    receiver.status = 403;
    await uploadOk(server, makeReport({ machineId: "m-403", begin: "2026-01-10T11:00:00Z", status: "Warning" }));
    await server.app.events.idle();
    expect(receiver.requests, "one try only").to.have.length(1);
    const row = (await auditRows(admin, "notification_failed")).find((a) => a.targetId === "m-403:Files");
    expect(row, "audited").to.not.equal(undefined);
    expect(row!.status).to.equal("failure");
    expect(row!.category).to.equal("system");
    expect(row!.errorMessage).to.equal("ntfy answered 403: forbidden");
    expect(row!.details).to.include({ channel: "ntfy", attempts: 1, template: "warning" });
  });
});

describe("notifications: overdue and back on schedule through ntfy", function () {
  let clock: ManualClock;
  let server: TestServer;
  let admin: BrowserSession;
  let receiver: NtfyReceiver;

  before(async () => {
    clock = new ManualClock(NOW);
    server = await startTestServer({}, { clock });
    admin = await login(server);
    receiver = await startNtfyReceiver();
    await saveNtfy(admin, { url: receiver.url, topic: "dup-overdue" });
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
  });

  const check = async () => {
    const body = await expectStatus(await admin.request("/api/notifications/check-overdue", { method: "POST" }), 200);
    await server.app.events.idle();
    return body.statistics as { overdueBackupsFound: number; notificationsSent: number };
  };

  it("sends one overdue notice (whatever notificationEvent says), then one back-on-schedule notice", async () => {
    await uploadOk(server, makeReport({ machineId: "m-late", begin: "2026-01-10T11:00:00Z" }));
    // Overdue notices ignore notificationEvent (as the original); "off" proves it.
    await backupSettings(admin, { "m-late:Files": { expectedInterval: "1h", notificationEvent: "off" } });
    expect((await check()).overdueBackupsFound).to.equal(0);
    await server.app.events.idle();
    expect(receiver.requests).to.have.length(0);

    // Next expected 12:00, tolerance 2 h: overdue after 14:00.
    clock.set(Date.parse("2026-01-10T15:00:00.000Z"));
    admin = await login(server); // CSRF tokens live 30 min of (manual) clock time
    const stats = await check();
    expect(stats).to.include({ overdueBackupsFound: 1, notificationsSent: 1 });
    expect(receiver.requests).to.have.length(1);
    const r = receiver.requests[0]!;
    expect(r.path).to.equal("/dup-overdue");
    expect(r.headers.authorization, "no token configured").to.equal(undefined);
    expect(r.query.get("title")).to.equal("🕑 Overdue - Files @ name-of-m-late");
    expect(r.query.get("priority")).to.equal("default");
    expect(r.query.get("tags")).to.equal("duplicati,duplistatus,overdue");
    expect(r.body).to.equal(
      "The backup Files on name-of-m-late is overdue.\n\n" +
        "🔍 Note: \n" +
        "🚨 Last backup received: 10/01/2026, 11:00 (4 hours ago)\n" +
        "⏰ Next backup was expected: 10/01/2026, 12:00 (3 hours ago)\n\n" +
        "Expected interval: 1h / Tolerance: 2 hours\n\n" +
        "⚠️ Please check the Duplicati server: \n",
    );

    // Still overdue a little later: no second notice (the frequency is every_day).
    clock.set(Date.parse("2026-01-10T15:10:00.000Z"));
    await check();
    expect(receiver.requests).to.have.length(1);

    await uploadOk(server, makeReport({ machineId: "m-late", begin: "2026-01-10T15:05:00Z" }));
    await server.app.events.idle();
    expect(receiver.requests, "one back-on-schedule notice, no run notice (filter off)").to.have.length(2);
    const c = receiver.requests[1]!;
    expect(c.query.get("title")).to.equal("✅ Back on schedule - Files @ name-of-m-late");
    expect(c.query.get("tags")).to.equal("duplicati,duplistatus,overdue,resolved");
    expect(c.body).to.equal(
      "The backup Files on name-of-m-late is back on schedule.\n\n" +
        "🔍 Note: \n" +
        "🕑 Overdue since: 10/01/2026, 15:00\n" +
        "✅ Latest backup: 10/01/2026, 15:05 (Success)\n",
    );
    const templates = (await auditRows(admin, "notification_sent")).map((a) => a.details?.template);
    expect(templates).to.have.members(["overdueBackup", "overdueCleared"]);
  });

  it("answers a notice with the preferences saved after the upload, not those the upload read as it committed", async () => {
    // The upload's transaction reads the job's preferences (ntfy on) for its own notices; saving new ones right
    // after (ntfy off) must reach the overdue notice that follows at once, within the moment those are kept for.
    clock.set(Date.parse("2026-01-10T15:00:00.000Z"));
    admin = await login(server);
    await uploadOk(server, makeReport({ machineId: "m-prefs", begin: "2026-01-10T14:30:00Z" }));
    await backupSettings(admin, { "m-prefs:Files": { expectedInterval: "1h", ntfyEnabled: false } });
    await server.app.events.idle();
    receiver.requests.length = 0;
    clock.set(Date.parse("2026-01-10T19:00:00.000Z"));
    admin = await login(server);
    expect((await check()).overdueBackupsFound).to.equal(2);
    const titles = receiver.requests.map((r) => r.query.get("title"));
    expect(titles, "the other overdue job is notified").to.include("🕑 Overdue - Files @ name-of-m-late");
    expect(titles, "ntfy is off for m-prefs").to.not.include("🕑 Overdue - Files @ name-of-m-prefs");
  });
});

describe("notifications: a dead ntfy server", function () {
  let server: TestServer;
  let admin: BrowserSession;

  before(async () => {
    server = await startTestServer();
    admin = await login(server);
    await saveNtfy(admin, { url: `http://127.0.0.1:${await closedPort()}/`, topic: "dup-dead", accessToken: TOKEN });
  });
  after(() => server?.close());

  it("never delays or fails the upload; the failure is retried on the network error, then audited", async () => {
    const started = Date.now();
    const r = await upload(server, makeReport({ machineId: "m-dead", begin: "2026-01-10T11:00:00Z", status: "Error" }));
    const ms = Date.now() - started;
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ success: true });
    expect(ms, "upload answered promptly").to.be.below(1000);

    await server.app.events.idle();
    const rows = await auditRows(admin, "notification_failed");
    expect(rows).to.have.length(1);
    const row = rows[0]!;
    expect(row.status).to.equal("failure");
    expect(row.targetId).to.equal("m-dead:Files");
    expect(row.errorMessage).to.match(
      /^Cannot connect to the ntfy server at http:\/\/127\.0\.0\.1:\d+ \(connection refused\) \(after 5 tries\)$/,
    );
    expect(row.details).to.include({ channel: "ntfy", attempts: 5 });
    expect(JSON.stringify(rows)).not.to.include(TOKEN);
  });
});
