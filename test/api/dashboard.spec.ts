import { expect } from "chai";
import { ManualClock } from "../../server/src/core/clock";
import type {
  BackupInfo,
  DashboardResponse,
  DetailResponse,
  LastTimestamps,
  ServerSummary,
  UnifiedConfig,
} from "../../server/src/dashboard/schemas";
import type { BackupView } from "../../server/src/reporting/schemas";
import { setConfigValue } from "../../server/src/store/configuration-store";
import {
  type DuplicatiReportJson,
  type ErrorBody,
  type FixtureName,
  type LastBackupsBody,
  ISO_MS,
  fixture,
  getJson,
  makeReport,
  readJson,
  summary,
  uploadOk,
} from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";

/**
 * The dashboard, server detail, last-timestamps and unified-configuration reads over a known dataset: real fixture
 * reports re-keyed to several machines and begin times, plus generated runs with chosen values, with a manual clock
 * so overdue flags are exact.
 */

const NOW = new Date("2025-06-20T02:00:00.000Z");
const HOUR = 3_600_000;

/** A fixture report moved to another machine, job and begin time (the run keeps its own duration). */
function fromFixture(
  name: FixtureName,
  o: { machineId: string; machineName: string; begin: string; backupName?: string },
): DuplicatiReportJson {
  const r = fixture(name);
  const length = Date.parse(String(r.Data.EndTime)) - Date.parse(String(r.Data.BeginTime));
  const begin = Date.parse(o.begin);
  r.Data.BeginTime = new Date(begin).toISOString();
  r.Data.EndTime = new Date(begin + length).toISOString();
  r.Extra["machine-id"] = o.machineId;
  r.Extra["machine-name"] = o.machineName;
  if (o.backupName) r.Extra["backup-name"] = o.backupName;
  return r;
}

interface FilesRun {
  begin: string;
  status: "Success" | "Warning" | "Error";
  size: number;
  uploaded: number;
  known: number;
  versions: number;
  files: number;
  seconds: number;
}

/** Alpha / Files: one run outside the 30-day chart window, 12 daily runs, and a second run on 15 June. */
const FILES_RUNS: FilesRun[] = [
  {
    begin: "2025-04-01T01:00:00.000Z",
    status: "Error",
    size: 1,
    uploaded: 1,
    known: 1,
    versions: 1,
    files: 1,
    seconds: 30,
  },
  ...Array.from({ length: 12 }, (_, i): FilesRun => ({
    begin: new Date(Date.UTC(2025, 5, 8 + i, 1)).toISOString(),
    status: i === 0 ? "Error" : i === 11 ? "Warning" : "Success",
    size: 1000 + i,
    uploaded: 100 + i,
    known: 5000 + i,
    versions: i + 1,
    files: 10 + i,
    seconds: 60 + i,
  })),
  {
    begin: "2025-06-15T13:00:00.000Z",
    status: "Success",
    size: 7777,
    uploaded: 7,
    known: 9999,
    versions: 42,
    files: 77,
    seconds: 125,
  },
];

describe("dashboard, detail, last-timestamps and unified configuration", function () {
  let s: TestServer;
  let clock: ManualClock;
  let admin: BrowserSession;
  let viewer: BrowserSession;

  const fixtureRuns: Array<{
    name: FixtureName;
    machineId: string;
    machineName: string;
    begin: string;
    backupName?: string;
  }> = [
    {
      name: "01-upstream-sample-success.json",
      machineId: "srv-alpha",
      machineName: "Alpha",
      begin: "2025-06-10T10:00:00.000Z",
      backupName: "Photos",
    },
    {
      name: "02-success-loglines-retention.json",
      machineId: "srv-bravo",
      machineName: "Bravo",
      begin: "2025-06-19T01:00:00.000Z",
    },
    {
      name: "02-success-loglines-retention.json",
      machineId: "srv-bravo",
      machineName: "Bravo",
      begin: "2025-06-20T01:00:00.123Z",
    },
    {
      name: "04-fatal-exception-newer-shape.json",
      machineId: "srv-charlie",
      machineName: "Charlie",
      begin: "2025-06-18T22:30:00.555Z",
    },
    {
      name: "03-warning-generator-style.json",
      machineId: "srv-delta",
      machineName: "Delta",
      begin: "2025-06-01T17:15:00.000Z",
    },
  ];

  before(async () => {
    clock = new ManualClock(NOW);
    s = await startTestServer({ LOGIN_RATE_LIMIT: "1000" }, { clock });
    for (const r of FILES_RUNS) {
      await uploadOk(
        s,
        makeReport({
          machineId: "srv-alpha",
          machineName: "Alpha",
          backupName: "Files",
          begin: r.begin,
          status: r.status,
          size: r.size,
          uploaded: r.uploaded,
          known: r.known,
          versions: r.versions,
          files: r.files,
          durationSeconds: r.seconds,
        }),
      );
    }
    for (const f of fixtureRuns) await uploadOk(s, fromFixture(f.name, f));
    // A server without runs (e.g. every run deleted by a retention cleanup) still shows, with no jobs.
    await s.app.db.write((q) =>
      q.run(`INSERT INTO servers (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`, [
        "srv-empty",
        "Echo",
        NOW.toISOString(),
        NOW.toISOString(),
      ]),
    );
    admin = await login(s);
    const created = await admin.json("POST", "/api/users", {
      username: "viewer",
      password: "Viewer-Passw0rd",
      isAdmin: false,
      requirePasswordChange: false,
    });
    expect(created.status).to.equal(201);
    viewer = await login(s, "viewer", "Viewer-Passw0rd");
    // Delta: monitoring off (its last run is weeks old) and only errors notify.
    const settings = await admin.json("POST", "/api/configuration/backup-settings", {
      backupSettings: { "srv-delta:Databases": { overdueBackupCheckEnabled: false, notificationEvent: "errors" } },
    });
    expect(settings.status, await settings.clone().text()).to.equal(200);
    // Saving settings starts an overdue check in the background; wait for it (a concurrent call shares it).
    await s.app.services.overdue.check();
  });
  after(() => s.close());
  afterEach(() => clock.set(NOW));

  async function dashboard(session: BrowserSession = admin): Promise<DashboardResponse> {
    const r = await readJson<DashboardResponse>(await session.request("/api/dashboard"));
    expect(r.status, r.text).to.equal(200);
    return r.body;
  }

  const serverOf = (d: DashboardResponse, id: string): ServerSummary => {
    const found = d.serversSummary.find((x) => x.id === id);
    expect(found, id).to.not.equal(undefined);
    return found as ServerSummary;
  };
  const jobOf = (srv: ServerSummary, name: string): BackupInfo => {
    const found = srv.backupInfo.find((b) => b.name === name);
    expect(found, `${srv.id}:${name}`).to.not.equal(undefined);
    return found as BackupInfo;
  };
  async function latestViews(id: string): Promise<Map<string, BackupView>> {
    const r = await getJson<LastBackupsBody>(s, `/api/lastbackups/${id}`);
    expect(r.status).to.equal(200);
    return new Map(r.body.latest_backups.map((b) => [b.name, b]));
  }

  describe("GET /api/dashboard", () => {
    it("lists every server by name, with no-cache headers, including a server without runs", async () => {
      const res = await admin.request("/api/dashboard");
      expect(res.headers.get("cache-control")).to.equal("no-store, no-cache, must-revalidate");
      expect(res.headers.get("pragma")).to.equal("no-cache");
      const d = (await readJson<DashboardResponse>(res)).body;
      expect(d.serversSummary.map((x) => x.name)).to.deep.equal(["Alpha", "Bravo", "Charlie", "Delta", "Echo"]);
      const empty = serverOf(d, "srv-empty");
      expect(empty.backupInfo).to.deep.equal([]);
      expect(empty).to.include({
        totalBackupCount: 0,
        haveOverdueBackups: false,
        lastBackupDate: "N/A",
        lastBackupStatus: "N/A",
        lastBackupId: "N/A",
        lastBackupName: "N/A",
        lastBackupListCount: null,
      });
    });

    it("reports each job's latest run, run count and last 10 statuses (oldest first)", async () => {
      const d = await dashboard();
      const alpha = serverOf(d, "srv-alpha");
      expect(alpha.backupNames).to.deep.equal(["Files", "Photos"]);
      const files = jobOf(alpha, "Files");
      const sorted = [...FILES_RUNS].sort((a, b) => a.begin.localeCompare(b.begin));
      const latest = sorted[sorted.length - 1] as FilesRun;
      expect(files.backupCount).to.equal(FILES_RUNS.length);
      expect(files.statusHistory).to.deep.equal(sorted.slice(-10).map((r) => r.status));
      expect(files).to.include({
        lastBackupDate: latest.begin,
        lastBackupStatus: latest.status,
        lastBackupDuration: "00:01:11",
        lastBackupListCount: latest.versions,
        fileCount: latest.files,
        fileSize: latest.size,
        storageSize: latest.known,
        uploadedSize: latest.uploaded,
        warnings: 1,
        errors: 0,
        notificationEvent: "warnings",
        lastNotificationSent: "N/A",
      });
      const views = await latestViews("srv-alpha");
      expect(files.lastBackupId).to.equal(views.get("Files")?.id);
      const photos = jobOf(alpha, "Photos");
      expect(photos.backupCount).to.equal(1);
      expect(photos.statusHistory).to.deep.equal(["Success"]);
      expect(photos.availableBackups).to.deep.equal(views.get("Photos")?.available_backups);
      // A job with fewer than 10 runs lists them all.
      const bravo = jobOf(serverOf(d, "srv-bravo"), "NAS Documents");
      expect(bravo.statusHistory).to.deep.equal(["Success", "Success"]);
      expect(bravo.backupCount).to.equal(2);
    });

    it("matches the stored fixture values for every job's latest run", async () => {
      const d = await dashboard();
      for (const srv of d.serversSummary) {
        if (srv.id === "srv-empty") continue;
        const views = await latestViews(srv.id);
        for (const info of srv.backupInfo) {
          const v = views.get(info.name) as BackupView;
          expect(info, `${srv.id}:${info.name}`).to.include({
            lastBackupId: v.id,
            lastBackupDate: v.date,
            lastBackupStatus: v.status,
            lastBackupDuration: v.duration,
            lastBackupListCount: v.backup_list_count,
            fileCount: v.fileCount,
            fileSize: v.fileSize,
            storageSize: v.knownFileSize,
            uploadedSize: v.uploadedSize,
            warnings: v.warnings,
            errors: v.errors,
          });
          expect(info.availableBackups).to.deep.equal(v.available_backups);
        }
        // Server totals sum the jobs (latest run each; the count is every run).
        const sum = (pick: (b: BackupInfo) => number) => srv.backupInfo.reduce((a, b) => a + pick(b), 0);
        expect(srv.totalBackupCount).to.equal(sum((b) => b.backupCount));
        expect(srv.totalStorageSize).to.equal(sum((b) => b.storageSize));
        expect(srv.totalFileCount).to.equal(sum((b) => b.fileCount));
        expect(srv.totalFileSize).to.equal(sum((b) => b.fileSize));
        expect(srv.totalUploadedSize).to.equal(sum((b) => b.uploadedSize));
      }
      const bravo = serverOf(d, "srv-bravo");
      const nas = fixture("02-success-loglines-retention.json");
      expect(jobOf(bravo, "NAS Documents")).to.include({
        lastBackupDate: "2025-06-20T01:00:00.123Z",
        lastBackupStatus: "Success",
        lastBackupDuration: "00:38:31",
        fileSize: nas.Data.SizeOfExaminedFiles,
        storageSize: nas.Data.BackendStatistics.KnownFileSize,
        uploadedSize: nas.Data.BackendStatistics.BytesUploaded,
        lastBackupListCount: nas.Data.BackendStatistics.BackupListCount,
      });
      expect(jobOf(serverOf(d, "srv-charlie"), "Laptop to B2")).to.include({ lastBackupStatus: "Fatal", errors: 1 });
      // Server-level "last backup" fields come from its newest job.
      expect(serverOf(d, "srv-alpha")).to.include({
        lastBackupName: "Files",
        lastBackupDate: "2025-06-19T01:00:00.000Z",
        lastBackupStatus: "Warning",
      });
    });

    it("computes overallSummary from each job's latest run (§10.4)", async () => {
      const d = await dashboard();
      const all = d.serversSummary.flatMap((x) => x.backupInfo);
      const sum = (pick: (b: BackupInfo) => number) => all.reduce((a, b) => a + pick(b), 0);
      const runs = FILES_RUNS.length + fixtureRuns.length;
      expect(d.overallSummary).to.deep.equal({
        totalServers: 5,
        totalBackupsRuns: runs,
        totalBackups: 5,
        totalUploadedSize: sum((b) => b.uploadedSize),
        totalStorageUsed: sum((b) => b.storageSize),
        totalBackupSize: sum((b) => b.fileSize),
        overdueBackupsCount: 1,
        // Newest run: Bravo at 01:00:00.123, the clock at 02:00.
        secondsSinceLastBackup: 3599,
      });
      const totals = await summary(s);
      expect(totals.totalBackupsRuns).to.equal(runs);
      expect(totals.totalServers).to.equal(5);
      expect(totals.overdueBackupsCount).to.equal(d.overallSummary.overdueBackupsCount);
    });

    it("flags overdue jobs from next expected + tolerance with the injected clock", async () => {
      let d = await dashboard();
      const alpha = serverOf(d, "srv-alpha");
      // Photos ran on 10 June 10:00 with the default 1D interval: expected 11 June 10:00, long overdue.
      expect(jobOf(alpha, "Photos")).to.include({
        isBackupOverdue: true,
        expectedBackupDate: "2025-06-11T10:00:00.000Z",
        expectedBackupElapsed: "8 days ago",
      });
      // Files ran at 01:00 on 19 June: expected 20 June 01:00, tolerance 2 h → overdue only after 03:00.
      expect(jobOf(alpha, "Files")).to.include({
        isBackupOverdue: false,
        expectedBackupDate: "2025-06-20T01:00:00.000Z",
        expectedBackupElapsed: "1 hour ago",
      });
      expect(alpha.haveOverdueBackups).to.equal(true);
      // Delta's run is older still, but its monitoring is off.
      expect(jobOf(serverOf(d, "srv-delta"), "Databases")).to.include({
        isBackupOverdue: false,
        notificationEvent: "errors",
      });
      // Charlie's Duplicati said when it runs next (Extra["next-scheduled-run"]).
      expect(jobOf(serverOf(d, "srv-charlie"), "Laptop to B2")).to.include({
        isBackupOverdue: false,
        expectedBackupDate: "2025-11-21T22:30:00.000Z",
        expectedBackupElapsed: "in 5 months",
      });
      expect(serverOf(d, "srv-bravo").haveOverdueBackups).to.equal(false);

      clock.set(Date.parse("2025-06-20T03:00:00.000Z"));
      d = await dashboard();
      expect(jobOf(serverOf(d, "srv-alpha"), "Files").isBackupOverdue, "at exactly expected + tolerance").to.equal(
        false,
      );
      clock.set(Date.parse("2025-06-20T03:00:00.001Z"));
      d = await dashboard();
      expect(jobOf(serverOf(d, "srv-alpha"), "Files").isBackupOverdue).to.equal(true);
      expect(d.overallSummary.overdueBackupsCount).to.equal(2);

      // A longer tolerance takes it back (set at NOW: the session's CSRF token lives 30 minutes).
      clock.set(NOW);
      const tol = await admin.json("POST", "/api/configuration/overdue-tolerance", { overdue_tolerance: "4h" });
      expect(tol.status).to.equal(200);
      clock.set(Date.parse("2025-06-20T03:00:00.001Z"));
      d = await dashboard();
      expect(jobOf(serverOf(d, "srv-alpha"), "Files").isBackupOverdue).to.equal(false);
      clock.set(NOW);
      expect(
        (await admin.json("POST", "/api/configuration/overdue-tolerance", { overdue_tolerance: "2h" })).status,
      ).to.equal(200);
    });

    it("reports the overdue notice sent and the time of the last check", async () => {
      // Saving backup settings in before() ran a check at NOW, which noticed Photos.
      let d = await dashboard();
      expect(serverOf(d, "srv-alpha").lastOverdueCheck).to.equal(NOW.toISOString());
      expect(jobOf(serverOf(d, "srv-alpha"), "Photos").lastNotificationSent).to.equal(NOW.toISOString());
      clock.advance(10 * 60_000);
      const check = await admin.json("POST", "/api/notifications/check-overdue");
      expect(check.status).to.equal(200);
      d = await dashboard();
      const alpha = serverOf(d, "srv-alpha");
      const later = new Date(NOW.getTime() + 10 * 60_000).toISOString();
      expect(alpha.lastOverdueCheck).to.equal(later);
      expect(serverOf(d, "srv-empty").lastOverdueCheck).to.equal(later);
      // Re-notified only per the frequency (every day): the notice time stays.
      expect(jobOf(alpha, "Photos").lastNotificationSent).to.equal(NOW.toISOString());
      expect(jobOf(alpha, "Files").lastNotificationSent).to.equal("N/A");
    });

    it("sends one chart point per UTC day over the last 30 days: sums, and gauges from each job's last run of the day", async () => {
      const d = await dashboard();
      for (const p of d.chartData) {
        expect(p.isoDate).to.match(ISO_MS);
        expect(p.isoDate >= "2025-05-22T00:00:00.000Z", p.isoDate).to.equal(true);
      }
      const days = d.chartData.map((p) => p.isoDate.slice(0, 10));
      expect(days).to.deep.equal([...days].sort());
      expect(days, "the April run is outside the window").to.not.include("2025-04-01");
      expect(days).to.include.members(["2025-06-01", "2025-06-08", "2025-06-18", "2025-06-19", "2025-06-20"]);
      const point = (day: string) => d.chartData.find((p) => p.isoDate.startsWith(day));

      // 15 June: two Files runs; uploads and time summed, gauges from the later (13:00) run.
      const filesDay = FILES_RUNS.filter((r) => r.begin.startsWith("2025-06-15"));
      const last = filesDay[filesDay.length - 1] as FilesRun;
      expect(point("2025-06-15")).to.deep.equal({
        date: "15/06/2025",
        isoDate: "2025-06-15T00:00:00.000Z",
        uploadedSize: filesDay.reduce((a, r) => a + r.uploaded, 0),
        duration: Math.floor(filesDay.reduce((a, r) => a + r.seconds, 0) / 60),
        durationSeconds: filesDay.reduce((a, r) => a + r.seconds, 0),
        fileCount: last.files,
        fileSize: last.size,
        storageSize: last.known,
        backupVersions: last.versions,
        runCount: 2,
      });

      // 10 June: Files and Photos, one run each: gauges summed over the two jobs.
      const files10 = FILES_RUNS.find((r) => r.begin.startsWith("2025-06-10")) as FilesRun;
      const photos = (await latestViews("srv-alpha")).get("Photos") as BackupView;
      expect(point("2025-06-10")).to.include({
        runCount: 2,
        uploadedSize: files10.uploaded + photos.uploadedSize,
        storageSize: files10.known + photos.knownFileSize,
        fileSize: files10.size + photos.fileSize,
        backupVersions: files10.versions + photos.backup_list_count,
      });
      const runsInWindow = FILES_RUNS.filter((r) => r.begin >= "2025-05-22").length + fixtureRuns.length;
      expect(d.chartData.reduce((a, p) => a + p.runCount, 0)).to.equal(runsInWindow);
    });

    it("moves the elapsed texts with the clock", async () => {
      clock.advance(HOUR);
      const d = await dashboard();
      expect(jobOf(serverOf(d, "srv-alpha"), "Files").expectedBackupElapsed).to.equal("2 hours ago");
    });

    it("is readable by a non-admin user and a read token, not anonymously", async () => {
      expect((await viewer.request("/api/dashboard")).status).to.equal(200);
      const token = await admin.json("POST", "/api/tokens", { name: "dash-read", scope: "read" });
      const { token: key } = (await token.json()) as { token: string };
      expect((await s.request("/api/dashboard", { headers: { authorization: `Bearer ${key}` } })).status).to.equal(200);
      const anon = await getJson<ErrorBody>(s, "/api/dashboard");
      expect(anon.status).to.equal(401);
    });
  });

  describe("GET /api/detail/:serverId", () => {
    async function detail(path: string, session: BrowserSession = admin) {
      return readJson<DetailResponse & ErrorBody>(await session.request(path), `GET ${path}`);
    }

    it("returns the server with its runs newest first, paginated, its chart and overdue jobs", async () => {
      const r = await detail("/api/detail/srv-alpha");
      expect(r.status, r.text).to.equal(200);
      const { server } = r.body;
      expect(server).to.include({
        id: "srv-alpha",
        name: "Alpha",
        alias: "",
        note: "",
        server_url: "",
        hasPassword: false,
      });
      expect(server.pagination).to.deep.equal({ total: FILES_RUNS.length + 1, limit: 100, offset: 0 });
      expect(server.backups).to.have.length(FILES_RUNS.length + 1);
      const dates = server.backups.map((b) => b.date);
      expect(dates).to.deep.equal([...dates].sort().reverse());
      expect(server.backups[0]).to.include({ name: "Files", date: "2025-06-19T01:00:00.000Z", status: "Warning" });
      expect(server.backups.every((b) => b.server_id === "srv-alpha")).to.equal(true);
      expect(server.chartData.reduce((a, p) => a + p.runCount, 0)).to.equal(
        FILES_RUNS.filter((p) => p.begin >= "2025-05-22").length + 1,
      );
      expect(r.body.overdueBackups).to.deep.equal([
        {
          serverName: "Alpha",
          backupName: "Photos",
          lastBackupDate: "2025-06-10T10:00:00.000Z",
          lastNotificationSent: r.body.overdueBackups[0]?.lastNotificationSent,
          notificationEvent: "warnings",
          expectedBackupDate: "2025-06-11T10:00:00.000Z",
          expectedBackupElapsed: "8 days ago",
        },
      ]);
      expect(r.body.lastOverdueCheck).to.be.a("string");
    });

    it("pages with limit and offset, and filters one job with backupName", async () => {
      const all = (await detail("/api/detail/srv-alpha?limit=1000")).body.server.backups.map((b) => b.id);
      const page = await detail("/api/detail/srv-alpha?limit=3&offset=2");
      expect(page.status).to.equal(200);
      expect(page.body.server.backups.map((b) => b.id)).to.deep.equal(all.slice(2, 5));
      expect(page.body.server.pagination).to.deep.equal({ total: all.length, limit: 3, offset: 2 });
      const tail = await detail(`/api/detail/srv-alpha?limit=5&offset=${all.length - 2}`);
      expect(tail.body.server.backups.map((b) => b.id)).to.deep.equal(all.slice(-2));
      const beyond = await detail("/api/detail/srv-alpha?offset=500");
      expect(beyond.body.server.backups).to.deep.equal([]);
      const photos = await detail("/api/detail/srv-alpha?backupName=Photos");
      expect(photos.body.server.backups.map((b) => b.name)).to.deep.equal(["Photos"]);
      expect(photos.body.server.pagination.total).to.equal(1);
    });

    it("finds a server by its name", async () => {
      const r = await detail("/api/detail/Bravo");
      expect(r.status).to.equal(200);
      expect(r.body.server.id).to.equal("srv-bravo");
      expect(r.body.server.backups.map((b) => b.date)).to.deep.equal([
        "2025-06-20T01:00:00.123Z",
        "2025-06-19T01:00:00.000Z",
      ]);
      expect(r.body.overdueBackups).to.deep.equal([]);
    });

    it("answers 404 for an unknown server and 400 for invalid paging", async () => {
      const missing = await detail("/api/detail/no-such-server");
      expect(missing.status).to.equal(404);
      expect(missing.body.error).to.equal("Server not found");
      for (const q of ["limit=0", "limit=1001", "limit=abc", "offset=-1", "limit=2.5"]) {
        const r = await detail(`/api/detail/srv-alpha?${q}`);
        expect(r.status, q).to.equal(400);
        expect(r.body.error).to.equal("Invalid query parameters");
      }
    });

    it("is open to a non-admin user, not to anonymous callers", async () => {
      expect((await detail("/api/detail/srv-alpha", viewer)).status).to.equal(200);
      expect((await getJson(s, "/api/detail/srv-alpha")).status).to.equal(401);
    });
  });

  describe("GET /api/backups/last-timestamps", () => {
    it("returns the latest run date of every job, from the jobs table, without caching", async () => {
      const res = await viewer.request("/api/backups/last-timestamps");
      expect(res.headers.get("cache-control")).to.equal("no-store, no-cache, must-revalidate");
      const r = await readJson<LastTimestamps>(res);
      expect(r.status).to.equal(200);
      expect(r.body.timestamps).to.deep.equal({
        "srv-alpha:Files": "2025-06-19T01:00:00.000Z",
        "srv-alpha:Photos": "2025-06-10T10:00:00.000Z",
        "srv-bravo:NAS Documents": "2025-06-20T01:00:00.123Z",
        "srv-charlie:Laptop to B2": "2025-06-18T22:30:00.555Z",
        "srv-delta:Databases": "2025-06-01T17:15:00.000Z",
      });
      expect(r.body.raw[0]).to.deep.equal({
        server_name: "Alpha",
        server_id: "srv-alpha",
        backup_name: "Files",
        date: "2025-06-19T01:00:00.000Z",
      });
      expect(r.body.raw).to.have.length(5);
      expect((await getJson(s, "/api/backups/last-timestamps")).status).to.equal(401);
    });
  });

  describe("GET /api/configuration/unified", () => {
    const NTFY_TOKEN = "tk_ntfy-secret-4b1d";
    const SMTP_USER = "smtp-user-secret-91";
    const SMTP_PASSWORD = "smtp-password-secret-27";
    const SERVER_PASSWORD = "server-password-secret-55";

    it("returns every setting without a single secret", async () => {
      const before = await readJson<UnifiedConfig>(await viewer.request("/api/configuration/unified"));
      expect(before.status).to.equal(200);
      expect(before.body).to.not.have.property("email");
      expect(before.body.ntfy.hasAccessToken).to.equal(false);
      expect(before.body.templates.language).to.be.a("string");

      // Secrets set through the notification settings endpoints (stored encrypted) and a server password.
      const ntfy = await admin.json("POST", "/api/configuration/ntfy", {
        ntfy: { url: "https://ntfy.example/", topic: "dup-topic", accessToken: NTFY_TOKEN },
      });
      expect(ntfy.status, await ntfy.clone().text()).to.equal(200);
      const smtp = await admin.json("POST", "/api/configuration/email", {
        host: "smtp.example",
        port: 587,
        connectionType: "starttls",
        username: SMTP_USER,
        password: SMTP_PASSWORD,
        mailto: "ops@example.com",
        senderName: "duplistatus",
        fromAddress: "dup@example.com",
        requireAuth: true,
      });
      expect(smtp.status, await smtp.clone().text()).to.equal(200);
      await s.app.db.write((q) =>
        q.run(`UPDATE servers SET server_password = ? WHERE id = ?`, [SERVER_PASSWORD, "srv-bravo"]),
      );

      for (const session of [admin, viewer]) {
        const r = await readJson<UnifiedConfig>(await session.request("/api/configuration/unified"));
        expect(r.status).to.equal(200);
        for (const secret of [NTFY_TOKEN, SMTP_USER, SMTP_PASSWORD, SERVER_PASSWORD]) {
          expect(r.text.includes(secret), `unified leaks ${secret}`).to.equal(false);
        }
        expect(r.text).to.not.match(/"(accessToken|password|username|server_password)"/);
        const c = r.body;
        expect(c.ntfy).to.deep.equal({ url: "https://ntfy.example/", topic: "dup-topic", hasAccessToken: true });
        expect(c.email).to.deep.equal({
          host: "smtp.example",
          port: 587,
          connectionType: "starttls",
          mailto: "ops@example.com",
          senderName: "duplistatus",
          fromAddress: "dup@example.com",
          requireAuth: true,
          enabled: true,
          hasUsername: true,
          hasPassword: true,
        });
        expect(c.templates).to.include.keys("language", "success", "warning", "overdueBackup");
        expect(c.overdue_tolerance).to.equal("2h");
        expect(c.notificationFrequency).to.equal("every_day");
        expect(c.cronConfig).to.deep.equal({ cronExpression: "*/5 * * * *", enabled: true });
        expect(Object.keys(c.backup_settings)).to.include.members(["srv-alpha:Files", "srv-delta:Databases"]);
        expect(c.backup_settings["srv-delta:Databases"]).to.include({
          overdueBackupCheckEnabled: false,
          notificationEvent: "errors",
        });
        expect(c.serverAddresses.map((a) => a.id)).to.deep.equal([
          "srv-alpha",
          "srv-bravo",
          "srv-charlie",
          "srv-delta",
          "srv-empty",
        ]);
        expect(c.serverAddresses.find((a) => a.id === "srv-bravo")?.hasPassword).to.equal(true);
        expect(c.serverAddresses.find((a) => a.id === "srv-alpha")?.hasPassword).to.equal(false);
        expect(c.serversWithBackups).to.have.length(5);
        expect(c.serversWithBackups[0]).to.deep.equal({
          id: "srv-alpha",
          name: "Alpha",
          server_url: "",
          alias: "",
          note: "",
          hasPassword: false,
          backupName: "Files",
          expectedBackupDate: "2025-06-20T01:00:00.000Z",
          lastBackupDate: "2025-06-19T01:00:00.000Z",
        });
      }
      // The dashboard shows the flag, not the password.
      const d = await dashboard();
      expect(serverOf(d, "srv-bravo").hasPassword).to.equal(true);
      expect(JSON.stringify(d).includes(SERVER_PASSWORD)).to.equal(false);
      await s.app.db.write((q) => q.run(`UPDATE servers SET server_password = '' WHERE id = ?`, ["srv-bravo"]));
    });

    it("still answers, without secrets, when the stored SMTP secrets cannot be opened (restored database)", async () => {
      // As a database from another installation (or the original, which stores them differently) would hold them.
      await s.app.db.write((q) =>
        setConfigValue(
          q,
          "smtp_config",
          JSON.stringify({
            host: "smtp.other",
            port: 465,
            connectionType: "ssl",
            username: SMTP_USER,
            password: SMTP_PASSWORD,
            mailto: "a@b.c",
            requireAuth: true,
          }),
        ),
      );
      const r = await readJson<UnifiedConfig>(await viewer.request("/api/configuration/unified"));
      expect(r.status).to.equal(200);
      for (const secret of [SMTP_USER, SMTP_PASSWORD]) expect(r.text.includes(secret)).to.equal(false);
      expect(r.body.email).to.include({
        host: "smtp.other",
        port: 465,
        connectionType: "ssl",
        hasUsername: true,
        hasPassword: true,
        masterKeyInvalid: true,
      });
    });

    it("needs a login", async () => {
      expect((await getJson(s, "/api/configuration/unified")).status).to.equal(401);
    });
  });
});
