import { expect } from "chai";
import { hashPassword } from "../../server/src/auth/passwords";
import { rebuildChartRollups } from "../../server/src/charts/rollups";
import { insertUser } from "../../server/src/auth/user-store";
import { ManualClock } from "../../server/src/core/clock";
import type { Queryable } from "../../server/src/db/database";
import { setConfigValue } from "../../server/src/store/configuration-store";
import {
  type ErrorBody,
  type RunSpec,
  getJson,
  lastBackups,
  makeReport,
  readJson,
  summary,
  uploadOk,
} from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";
import { assertConsistentDatabase, count, withDatabase } from "../support/sqlite";

/**
 * POST /api/backups/cleanup and DELETE /api/backups/delete-job (reference §2.7): runs are deleted and the maintained
 * job state (counts, totals, latest run) is recomputed from what remains, in the same transaction.
 */

const NOW = new Date("2025-08-31T12:00:00.000Z");
const DURATION = 60;

interface Run extends RunSpec {
  backupName: string;
  uploaded: number;
}

const endOf = (r: Run): string => new Date(Date.parse(r.begin) + DURATION * 1000).toISOString();

/** Monthly runs on the 15th from `from` (YYYY-MM) for `months` months. */
function monthly(machineId: string, backupName: string, from: string, months: number, base: number): Run[] {
  const [y, m] = from.split("-").map(Number) as [number, number];
  return Array.from({ length: months }, (_, k) => ({
    machineId,
    backupName,
    begin: new Date(Date.UTC(y, m - 1 + k, 15, 10, 0, 0)).toISOString(),
    durationSeconds: DURATION,
    uploaded: base + k,
    status: k % 7 === 3 ? ("Error" as const) : k % 5 === 4 ? ("Warning" as const) : ("Success" as const),
  }));
}

/** Ends exactly at / one second before the "6 months" cutoff (31 August − 6 months = 28 February, clamped). */
const boundary: Run[] = [
  {
    machineId: "srv-b",
    backupName: "Docs",
    begin: "2025-02-28T11:59:00.000Z",
    durationSeconds: DURATION,
    uploaded: 7001,
  },
  {
    machineId: "srv-b",
    backupName: "Docs",
    begin: "2025-02-28T11:58:59.000Z",
    durationSeconds: DURATION,
    uploaded: 7002,
  },
];

const RUNS: Run[] = [
  ...monthly("srv-a", "Files", "2023-01", 32, 100),
  ...monthly("srv-a", "Old", "2023-03", 16, 3000),
  ...monthly("srv-b", "Docs", "2024-12", 9, 5000),
  ...boundary,
];

/** `now` minus calendar months, clamped to the month's end (what the cleanup must use). */
const CUTOFFS: Record<string, string> = {
  "2 years": "2023-08-31T12:00:00.000Z",
  "1 year": "2024-08-31T12:00:00.000Z",
  "6 months": "2025-02-28T12:00:00.000Z",
};

async function expectTotals(s: TestServer, remaining: Run[]): Promise<void> {
  const jobs = new Set(remaining.map((r) => `${r.machineId}:${r.backupName}`));
  const sum = await summary(s);
  expect(sum.totalBackupsRuns, "totalBackupsRuns").to.equal(remaining.length);
  expect(sum.totalUploadedSize, "totalUploadedSize").to.equal(remaining.reduce((a, r) => a + r.uploaded, 0));
  expect(sum.totalBackups, "totalBackups (jobs)").to.equal(jobs.size);
  expect(sum.totalBackupJobs).to.equal(jobs.size);
  expect(sum.totalServers, "servers are kept").to.equal(2);
  for (const server of ["srv-a", "srv-b"]) {
    const mine = remaining.filter((r) => r.machineId === server);
    const latestPerJob = new Map<string, string>();
    for (const r of mine) {
      const iso = new Date(r.begin).toISOString();
      if ((latestPerJob.get(r.backupName) ?? "") < iso) latestPerJob.set(r.backupName, iso);
    }
    const lb = await lastBackups(s, server);
    expect(lb.status).to.equal(200);
    const got = Object.fromEntries(lb.body.latest_backups.map((b) => [b.name, b.date]));
    expect(got, `latest runs of ${server}`).to.deep.equal(Object.fromEntries(latestPerJob));
  }
}

/** Every job row agrees with its runs, including the fields a plain upload check does not look at. */
function expectJobsRecomputed(dataDir: string): void {
  assertConsistentDatabase(dataDir);
  withDatabase(dataDir, (db) => {
    const wrong = db
      .prepare(
        `SELECT j.server_id, j.backup_name FROM jobs j
          WHERE j.first_run_date IS DISTINCT FROM (SELECT MIN(date) FROM backups b WHERE b.server_id = j.server_id AND b.backup_name = j.backup_name)
             OR j.last_success_date IS DISTINCT FROM (SELECT MAX(date) FROM backups b WHERE b.server_id = j.server_id
                    AND b.backup_name = j.backup_name AND b.status IN ('Success', 'Warning'))
             OR j.latest_status IS DISTINCT FROM (SELECT status FROM backups b WHERE b.id = j.latest_run_id)
             OR j.latest_known_file_size IS DISTINCT FROM (SELECT known_file_size FROM backups b WHERE b.id = j.latest_run_id)`,
      )
      .all();
    expect(wrong, "jobs with stale first/last-success/latest fields").to.deep.equal([]);
  });
}

/** The chart roll-ups, as maintained, equal a rebuild from the runs that remain. */
async function expectRollupsCurrent(s: TestServer): Promise<void> {
  const read = () =>
    withDatabase(s.dataDir, (db) => db.prepare("SELECT * FROM chart_rollups ORDER BY granularity, bucket_start").all());
  const maintained = read();
  await s.app.db.write((q) => rebuildChartRollups(q, s.app.db.dialect));
  expect(maintained, "chart roll-ups after the deletion").to.deep.equal(read());
}

function auditCount(dataDir: string, action: string): number {
  return withDatabase(dataDir, (db) =>
    count(db, `SELECT COUNT(*) AS n FROM audit_log WHERE action = ? AND status = 'success'`, action),
  );
}

/** A per-job notification preferences row (only the key matters here). */
async function insertNotificationPrefs(q: Queryable, serverId: string, backupName: string): Promise<void> {
  await q.run(`INSERT INTO job_notification_settings (server_id, backup_name, updated_at) VALUES (?, ?, ?)`, [
    serverId,
    backupName,
    NOW.toISOString(),
  ]);
}

async function viewerSession(s: TestServer): Promise<BrowserSession> {
  const passwordHash = await hashPassword("Plain-User-Passw0rd");
  await s.app.db.write((q) =>
    insertUser(q, {
      username: "viewer",
      passwordHash,
      isAdmin: false,
      mustChangePassword: false,
      now: NOW.toISOString(),
    }),
  );
  return login(s, "viewer", "Plain-User-Passw0rd");
}

describe("POST /api/backups/cleanup", function () {
  let s: TestServer;
  let admin: BrowserSession;
  let remaining: Run[];

  before(async () => {
    s = await startTestServer({ UPLOAD_RATE_LIMIT: "0" }, { clock: new ManualClock(NOW) });
    admin = await login(s);
    for (const r of RUNS) await uploadOk(s, makeReport(r));
    remaining = [...RUNS];
  });

  after(async () => {
    await s?.close();
  });

  it("answers 401 to anonymous callers and 403 to non-administrators", async () => {
    const anon = await getJson<ErrorBody>(s, "/api/backups/cleanup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ retentionPeriod: "Delete all data" }),
    });
    expect(anon.status).to.equal(401);
    const viewer = await viewerSession(s);
    const r = await readJson<ErrorBody>(
      await viewer.json("POST", "/api/backups/cleanup", { retentionPeriod: "Delete all data" }),
    );
    expect(r.status).to.equal(403);
    await expectTotals(s, remaining);
  });

  it("answers 400 to an invalid retention period and deletes nothing", async () => {
    for (const body of [
      { retentionPeriod: "3 months" },
      { retentionPeriod: "constructor" },
      { retentionPeriod: 6 },
      {},
    ]) {
      const r = await readJson<ErrorBody>(await admin.json("POST", "/api/backups/cleanup", body), JSON.stringify(body));
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.body).to.deep.equal({ error: "Invalid retention period" });
    }
    await expectTotals(s, remaining);
  });

  for (const period of ["2 years", "1 year", "6 months"]) {
    it(`"${period}" deletes the runs that ended before now − ${period} and recomputes the jobs`, async () => {
      const cutoff = CUTOFFS[period] as string;
      const doomed = remaining.filter((r) => endOf(r) < cutoff);
      expect(doomed.length, "the scenario deletes something").to.be.greaterThan(0);
      const r = await readJson<{ message: string; status: number }>(
        await admin.json("POST", "/api/backups/cleanup", { retentionPeriod: period }),
      );
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ message: `Successfully deleted ${doomed.length} old backups`, status: 200 });
      remaining = remaining.filter((x) => endOf(x) >= cutoff);
      await expectTotals(s, remaining);
      expectJobsRecomputed(s.dataDir);
      await expectRollupsCurrent(s);
    });
  }

  it("kept the run ending exactly at the cutoff and dropped the one a second earlier", () => {
    withDatabase(s.dataDir, (db) => {
      const ends = db
        .prepare(`SELECT uploaded_size AS u, end_time AS e FROM backups WHERE uploaded_size IN (7001, 7002)`)
        .all();
      expect(ends).to.deep.equal([{ u: 7001, e: CUTOFFS["6 months"] }]);
    });
  });

  it("deleted the job whose runs were all old, and kept its server", async () => {
    const lb = await lastBackups(s, "srv-a");
    expect(lb.body.backup_names).to.deep.equal(["Files"]);
    expect(auditCount(s.dataDir, "cleanup_executed")).to.equal(3);
  });

  it('"Delete all data" deletes every run, job and server and empties the per-job settings', async () => {
    await s.app.db.write(async (q) => {
      await setConfigValue(q, "backup_settings", JSON.stringify({ "srv-a:Files": { expectedInterval: "1D" } }));
      await insertNotificationPrefs(q, "srv-a", "Files");
    });
    const events: string[] = [];
    s.app.events.on("serverChanged", (e) => void events.push(`${e.change}:${e.serverId}`));
    const r = await readJson<{ message: string; status: number }>(
      await admin.json("POST", "/api/backups/cleanup", { retentionPeriod: "Delete all data" }),
    );
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({
      message: `Successfully deleted all ${remaining.length} backups and 2 servers, and cleared configuration settings`,
      status: 200,
    });
    await s.app.events.idle();
    expect(events.sort()).to.deep.equal(["deleted:srv-a", "deleted:srv-b"]);
    const sum = await summary(s);
    expect([sum.totalServers, sum.totalBackupsRuns, sum.totalBackups, sum.totalUploadedSize]).to.deep.equal([
      0, 0, 0, 0,
    ]);
    expect((await lastBackups(s, "srv-a")).status).to.equal(404);
    withDatabase(s.dataDir, (db) => {
      expect(count(db, "SELECT COUNT(*) AS n FROM jobs")).to.equal(0);
      expect(count(db, "SELECT COUNT(*) AS n FROM job_notification_settings")).to.equal(0);
      expect(count(db, "SELECT COUNT(*) AS n FROM chart_rollups")).to.equal(0);
      expect(db.prepare("SELECT value FROM configurations WHERE key = 'backup_settings'").get()).to.deep.equal({
        value: "{}",
      });
    });
    // A new upload starts from a clean job state.
    await uploadOk(
      s,
      makeReport({ machineId: "srv-a", backupName: "Files", begin: "2025-08-30T10:00:00.000Z", uploaded: 42 }),
    );
    const after = await summary(s);
    expect([after.totalServers, after.totalBackupsRuns, after.totalUploadedSize]).to.deep.equal([1, 1, 42]);
    expect(auditCount(s.dataDir, "cleanup_executed")).to.equal(4);
  });
});

describe("DELETE /api/backups/delete-job", function () {
  let s: TestServer;
  let admin: BrowserSession;
  const runs: Run[] = [
    ...monthly("srv-x", "A", "2025-01", 3, 10),
    ...monthly("srv-x", "B", "2025-01", 2, 20),
    ...monthly("srv-y", "A", "2025-01", 1, 30),
  ];

  before(async () => {
    s = await startTestServer({ UPLOAD_RATE_LIMIT: "0" }, { clock: new ManualClock(NOW) });
    admin = await login(s);
    for (const r of runs) await uploadOk(s, makeReport(r));
    await s.app.db.write((q) => q.run(`UPDATE servers SET alias = ? WHERE id = ?`, ["Office PC", "srv-x"]));
  });

  after(async () => {
    await s?.close();
  });

  it("answers 401 to anonymous callers and 403 to non-administrators", async () => {
    const anon = await getJson<ErrorBody>(s, "/api/backups/delete-job", {
      method: "DELETE",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ serverId: "srv-x", backupName: "A" }),
    });
    expect(anon.status).to.equal(401);
    const viewer = await viewerSession(s);
    const r = await readJson<ErrorBody>(
      await viewer.json("DELETE", "/api/backups/delete-job", { serverId: "srv-x", backupName: "A" }),
    );
    expect(r.status).to.equal(403);
    expect((await summary(s)).totalBackupsRuns).to.equal(runs.length);
  });

  it("answers 400 when serverId or backupName is missing", async () => {
    for (const body of [
      {},
      { serverId: "srv-x" },
      { backupName: "A" },
      { serverId: "", backupName: "A" },
      { serverId: 1, backupName: "A" },
    ]) {
      const r = await readJson<ErrorBody>(
        await admin.json("DELETE", "/api/backups/delete-job", body),
        JSON.stringify(body),
      );
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.body).to.deep.equal({
        error: "Missing required fields",
        message: "serverId and backupName are required",
      });
    }
  });

  it("deletes the job's runs, the job and its notification settings, names the server by its alias, announces the server as updated", async () => {
    await s.app.db.write(async (q) => {
      await insertNotificationPrefs(q, "srv-x", "A");
      await insertNotificationPrefs(q, "srv-x", "__default__");
    });
    const events: string[] = [];
    s.app.events.on("serverChanged", (e) => void events.push(e.change));
    s.app.events.on("backupReceived", () => void events.push("backupReceived"));
    const r = await readJson(
      await admin.json("DELETE", "/api/backups/delete-job", { serverId: "srv-x", backupName: "A" }),
    );
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({
      message: 'Successfully deleted 3 backup record(s) for "A" from server "Office PC"',
      status: 200,
      deletedCount: 3,
      serverName: "Office PC",
      backupName: "A",
    });
    await s.app.events.idle();
    // Integrations (MQTT discovery) learn at once that the server lost a job.
    expect(events).to.deep.equal(["updated"]);
    const sum = await summary(s);
    expect([sum.totalBackupsRuns, sum.totalBackups, sum.totalUploadedSize]).to.deep.equal([3, 2, 20 + 21 + 30]);
    expect((await lastBackups(s, "srv-x")).body.backup_names).to.deep.equal(["B"]);
    expect((await lastBackups(s, "srv-y")).body.backup_names).to.deep.equal(["A"]);
    expectJobsRecomputed(s.dataDir);
    await expectRollupsCurrent(s);
    withDatabase(s.dataDir, (db) => {
      const prefs = db
        .prepare("SELECT backup_name AS b FROM job_notification_settings WHERE server_id = 'srv-x'")
        .all();
      expect(prefs, "the job's preferences go, the server defaults stay").to.deep.equal([{ b: "__default__" }]);
    });
  });

  it("answers 404 when nothing matches (the original answered 500)", async () => {
    for (const body of [
      { serverId: "srv-x", backupName: "A" },
      { serverId: "srv-x", backupName: "Nope" },
      { serverId: "no-such-server", backupName: "A" },
    ]) {
      const r = await readJson<ErrorBody>(
        await admin.json("DELETE", "/api/backups/delete-job", body),
        JSON.stringify(body),
      );
      expect(r.status, JSON.stringify(body)).to.equal(404);
      expect(r.body.error).to.match(/^No backups found/);
    }
    expect((await summary(s)).totalBackupsRuns).to.equal(3);
  });

  it("names a server without alias by its name, and keeps the server", async () => {
    const r = await readJson<{ serverName: string; deletedCount: number }>(
      await admin.json("DELETE", "/api/backups/delete-job", { serverId: "srv-y", backupName: "A" }),
    );
    expect(r.status).to.equal(200);
    expect(r.body.serverName).to.equal("name-of-srv-y");
    expect(r.body.deletedCount).to.equal(1);
    const lb = await lastBackups(s, "srv-y");
    expect(lb.status).to.equal(200);
    expect(lb.body.latest_backups).to.deep.equal([]);
    expect(auditCount(s.dataDir, "backup_job_deleted")).to.equal(2);
  });
});
