import { expect } from "chai";
import { ManualClock } from "../../server/src/core/clock";
import type { DomainEvents } from "../../server/src/core/events";
import { login } from "../support/auth";
import { loadFixture, startTestServer, type TestServer } from "../support/server";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

function report(serverId: string, job: string, begin: string, extra: Record<string, unknown> = {}) {
  const r = loadFixture<{ Data: Record<string, unknown>; Extra: Record<string, unknown> }>(
    "01-upstream-sample-success.json",
  );
  r.Data.BeginTime = begin;
  r.Data.EndTime = new Date(Date.parse(begin) + 60_000).toISOString();
  r.Data.Duration = "00:01:00";
  r.Extra["machine-id"] = serverId;
  r.Extra["machine-name"] = `Name ${serverId}`;
  r.Extra["backup-name"] = job;
  Object.assign(r.Extra, extra);
  return r;
}

describe("monitoring: settings, overdue check and its API", function () {
  let server: TestServer;
  /** An admin API token: the fake clock jumps days ahead, past any browser session's lifetime. */
  let admin: {
    request(path: string, init?: RequestInit): Promise<Response>;
    json(method: string, path: string, body?: unknown): Promise<Response>;
  };
  const clock = new ManualClock(Date.parse("2026-05-04T12:00:00.000Z")); // a Monday
  const overdue: Array<DomainEvents["backupOverdue"]> = [];
  const cleared: Array<DomainEvents["overdueCleared"]> = [];

  before(async () => {
    server = await startTestServer({}, { clock });
    const session = await login(server);
    const created = await session.json("POST", "/api/tokens", { name: "monitoring-test", scope: "admin" });
    const { token } = (await created.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };
    admin = {
      request: (path, init = {}) =>
        server.request(path, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } }),
      json: (method, path, body) =>
        server.request(path, {
          method,
          headers: { ...auth, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
    };
    server.app.events.on("backupOverdue", (e) => void overdue.push(e));
    server.app.events.on("overdueCleared", (e) => void cleared.push(e));
  });
  after(() => server.close());
  beforeEach(() => {
    overdue.length = 0;
    cleared.length = 0;
  });

  async function check() {
    const res = await admin.json("POST", "/api/notifications/check-overdue");
    expect(res.status).to.equal(200);
    await server.app.events.idle();
    return ((await res.json()) as { statistics: Record<string, number> }).statistics;
  }

  async function settingsOf(key: string) {
    const res = await admin.request("/api/configuration/backup-settings");
    return ((await res.json()) as { backupSettings: Record<string, Record<string, unknown>> }).backupSettings[key];
  }

  it("gives a new job the defaults (1D, all days, warnings) and a next run one day later at the same time", async () => {
    expect((await server.postJson("/api/upload", report("m1", "daily", "2026-05-04T02:00:00.000Z"))).status).to.equal(
      200,
    );
    const s = await settingsOf("m1:daily");
    expect(s).to.include({
      expectedInterval: "1D",
      overdueBackupCheckEnabled: true,
      notificationEvent: "warnings",
      ntfyEnabled: true,
      emailEnabled: true,
      time: "2026-05-05T02:00:00.000Z",
      lastBackupDate: "2026-05-04T02:00:00.000Z",
    });
    expect(s?.allowedWeekDays).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
  });

  it("learns the next run from Duplicati's Extra next-scheduled-run", async () => {
    const r = report("m1", "learned", "2026-05-04T03:00:00.000Z", { "next-scheduled-run": "20260506T031500Z" });
    expect((await server.postJson("/api/upload", r)).status).to.equal(200);
    expect((await settingsOf("m1:learned"))?.time).to.equal("2026-05-06T03:15:00.000Z");
  });

  it("keeps the time of day when a run is late", async () => {
    // expected 2026-05-05T02:00; the run comes at 09:30 → next is 2026-05-06T02:00, not 09:30
    expect((await server.postJson("/api/upload", report("m1", "daily", "2026-05-05T09:30:00.000Z"))).status).to.equal(
      200,
    );
    expect((await settingsOf("m1:daily"))?.time).to.equal("2026-05-06T02:00:00.000Z");
  });

  it("recomputes the next run when the interval or weekdays change, and validates the interval", async () => {
    const bad = await admin.json("POST", "/api/configuration/backup-settings", {
      backupSettings: { "m1:daily": { expectedInterval: "1X" } },
    });
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { error: string }).error).to.equal("Invalid expected interval");
    const badKey = await admin.json("POST", "/api/configuration/backup-settings", { backupSettings: { nocolon: {} } });
    expect(badKey.status).to.equal(400);

    const ok = await admin.json("POST", "/api/configuration/backup-settings", {
      backupSettings: {
        "m1:daily": { expectedInterval: "1W", allowedWeekDays: [1] },
        "ghost:job": { expectedInterval: "1D" },
      },
    });
    expect(ok.status).to.equal(200);
    expect(await ok.json()).to.deep.equal({
      message: "Backup settings updated successfully",
      updated: 1,
      ignoredKeys: ["ghost:job"],
    });
    const s = await settingsOf("m1:daily");
    expect(s).to.include({ expectedInterval: "1W" });
    expect(s?.allowedWeekDays).to.deep.equal([1]);
    // Last run Tue 2026-05-05 09:30, previous next run Wed 02:00. As the original (a port of Duplicati's scheduler):
    // rebase to 02:00 on the run's day, add one week (Tue 05-12), then step to the next allowed day → Mon 05-18.
    expect(s?.time).to.equal("2026-05-18T02:00:00.000Z");
  });

  it("accepts the legacy interval format", async () => {
    const ok = await admin.json("POST", "/api/configuration/backup-settings", {
      backupSettings: { "m1:learned": { expectedInterval: 12, intervalUnit: "hour" } },
    });
    expect(ok.status).to.equal(200);
    expect((await settingsOf("m1:learned"))?.expectedInterval).to.equal("12h");
  });

  it("opens an episode once after deadline + tolerance, re-notifies per the frequency, and clears on the next run", async () => {
    await admin.json("POST", "/api/configuration/notifications", { value: "every_week" });
    expect((await server.postJson("/api/upload", report("m2", "job", "2026-05-04T10:00:00.000Z"))).status).to.equal(
      200,
    );
    // next expected 2026-05-05T10:00, tolerance 2h → overdue after 12:00
    clock.set(Date.parse("2026-05-05T11:59:00.000Z"));
    await check();
    expect(overdue.filter((e) => e.server.id === "m2")).to.have.length(0);
    clock.set(Date.parse("2026-05-05T12:01:00.000Z"));
    const stats = await check();
    expect(stats.overdueBackupsFound).to.be.at.least(1);
    const first = overdue.filter((e) => e.server.id === "m2");
    expect(first).to.have.length(1);
    expect(first[0]).to.deep.include({ expectedAt: "2026-05-05T10:00:00.000Z", toleranceMinutes: 120, notice: 1 });
    expect(first[0]?.lastRunDate).to.equal("2026-05-04T10:00:00.000Z");

    // every_week: nothing for 6 days, then the second notice
    overdue.length = 0;
    clock.set(Date.parse("2026-05-11T12:00:00.000Z"));
    await check();
    expect(overdue.filter((e) => e.server.id === "m2")).to.have.length(0);
    clock.set(Date.parse("2026-05-12T12:02:00.000Z"));
    await check();
    expect(overdue.filter((e) => e.server.id === "m2").map((e) => e.notice)).to.deep.equal([2]);

    // The summary counts it.
    const summary = (await (await server.request("/api/summary")).json()) as { overdueBackupsCount: number };
    expect(summary.overdueBackupsCount).to.be.at.least(1);

    // The late run arrives: cleared at once (no need to wait for the next check).
    expect((await server.postJson("/api/upload", report("m2", "job", "2026-05-12T12:30:00.000Z"))).status).to.equal(
      200,
    );
    await server.app.events.idle();
    const c = cleared.filter((e) => e.server.id === "m2");
    expect(c).to.have.length(1);
    expect(c[0]?.overdueSince).to.equal("2026-05-05T12:01:00.000Z");
    expect(c[0]?.run?.date).to.equal("2026-05-12T12:30:00.000Z");
    await check();
    expect(cleared.filter((e) => e.server.id === "m2")).to.have.length(1);
  });

  it("onetime: one notice per episode only; reset notifications makes the next check notify again (same episode)", async () => {
    await admin.json("POST", "/api/configuration/notifications", { value: "onetime" });
    expect((await server.postJson("/api/upload", report("m3", "job", "2026-05-12T00:00:00.000Z"))).status).to.equal(
      200,
    );
    clock.set(Date.parse("2026-05-14T00:00:00.000Z"));
    await check();
    clock.set(Date.parse("2026-05-20T00:00:00.000Z"));
    await check();
    expect(overdue.filter((e) => e.server.id === "m3").map((e) => e.notice)).to.deep.equal([1]);
    const reset = await admin.json("POST", "/api/notifications/clear-overdue-timestamps");
    expect(reset.status).to.equal(200);
    await check();
    expect(overdue.filter((e) => e.server.id === "m3").map((e) => e.notice)).to.deep.equal([1, 2]);
  });

  it("switching monitoring off ends the episode (cleared) and it is not counted", async () => {
    cleared.length = 0;
    const res = await admin.json("POST", "/api/configuration/backup-settings", {
      backupSettings: { "m3:job": { overdueBackupCheckEnabled: false } },
    });
    expect(res.status).to.equal(200);
    await check();
    expect(cleared.filter((e) => e.server.id === "m3")).to.have.length(1);
  });

  it("a job known only from its settings (no runs yet) is never overdue", async () => {
    const res = await admin.json("POST", "/api/configuration/backup-settings", {
      backupSettings: { "m1:never-ran": { expectedInterval: "1h" } },
    });
    expect(res.status).to.equal(200);
    clock.advance(30 * DAY);
    await check();
    expect(overdue.filter((e) => e.job.backupName === "never-ran")).to.have.length(0);
    expect((await settingsOf("m1:never-ran"))?.expectedInterval).to.equal("1h");
  });

  it("tolerance: validates, stores, and moves the deadline", async () => {
    expect(
      (await admin.json("POST", "/api/configuration/overdue-tolerance", { overdue_tolerance: "3days" })).status,
    ).to.equal(400);
    expect(
      (await admin.json("POST", "/api/configuration/overdue-tolerance", { overdue_tolerance: "1d" })).status,
    ).to.equal(200);
    const got = await (await admin.request("/api/configuration/overdue-tolerance")).json();
    expect(got).to.deep.equal({ overdue_tolerance: "1d" });
    await admin.json("POST", "/api/configuration/overdue-tolerance", { overdue_tolerance: "2h" });
  });

  it("cron-config: reads the default, validates and reschedules", async () => {
    expect(await (await admin.request("/api/cron-config")).json()).to.deep.equal({
      cronExpression: "*/5 * * * *",
      enabled: true,
    });
    expect((await admin.json("POST", "/api/cron-config", { interval: "7min" })).status).to.equal(400);
    expect((await admin.json("POST", "/api/cron-config", {})).status).to.equal(400);
    const ok = await admin.json("POST", "/api/cron-config", { interval: "15min" });
    expect(await ok.json()).to.deep.equal({ success: true, cronExpression: "*/15 * * * *", enabled: true });
    const off = await admin.json("POST", "/api/cron-config", { interval: "disabled" });
    expect(((await off.json()) as { enabled: boolean }).enabled).to.equal(false);
    expect(((await (await admin.request("/api/cron-config")).json()) as { enabled: boolean }).enabled).to.equal(false);
    await admin.json("POST", "/api/cron-config", { interval: "5min" });
  });

  it("frequency: GET and invalid values", async () => {
    expect((await admin.json("POST", "/api/configuration/notifications", { value: "hourly" })).status).to.equal(400);
    await admin.json("POST", "/api/configuration/notifications", { value: "every_day" });
    expect(await (await admin.request("/api/configuration/notifications")).json()).to.deep.equal({
      value: "every_day",
    });
  });

  it("exports the monitoring state as CSV with the original's columns", async () => {
    const res = await admin.request("/api/backups/monitoring.csv");
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.match(/^text\/csv/);
    expect(res.headers.get("content-disposition")).to.match(
      /attachment; filename="backup-monitoring-\d{4}-\d{2}-\d{2}\.csv"/,
    );
    const lines = (await res.text()).trim().split("\r\n");
    expect(lines[0]).to.equal(
      "CSV Generated At,Server Name,Server ID,Backup Name,Last Backup (cfg),Last Backup (cfg) Weekday,Last Backup (DB),Next Run,Next Run Weekday,Needs Attention,Monitoring Enabled,Expected Interval,Allowed Weekdays",
    );
    const row = lines.find((l) => l.includes(",m1,daily,"));
    expect(row).to.match(/,1W,Monday$/);
    expect(lines.length).to.be.at.least(4);
  });
});
