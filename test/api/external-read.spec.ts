import { expect } from "chai";
import { ManualClock } from "../../server/src/core/clock";
import {
  type ErrorBody,
  type LastBackupBody,
  ISO_MS,
  fixture,
  getJson,
  lastBackup,
  lastBackups,
  makeReport,
  summary,
  upload,
  uploadOk,
} from "../support/api";
import { startTestServer, type TestServer } from "../support/server";
import { postgresMode } from "../support/postgres";

/**
 * The external read endpoints as Homepage and scripts use them (reference §2.2, §8.2; contract §1): field names and
 * types, lookup by id and by URL-encoded name, error bodies, no-cache headers, and the summary arithmetic.
 */

const NO_CACHE_HEADERS: Record<string, string> = {
  "cache-control": "no-store, no-cache, must-revalidate",
  pragma: "no-cache",
  "x-content-type-options": "nosniff",
};

function expectNoCache(headers: Headers, what: string): void {
  for (const [name, value] of Object.entries(NO_CACHE_HEADERS)) {
    expect(headers.get(name), `${what}: ${name}`).to.equal(value);
  }
}

describe("external read endpoints", () => {
  describe("Homepage mappings (reference §8.2)", () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer();
    });
    after(async () => {
      await s?.close();
    });

    it("summary widget fields are numbers; secondsSinceLastBackup is null without runs", async () => {
      const empty = await summary(s);
      for (const f of [
        "totalServers",
        "totalBackups",
        "totalBackupSize",
        "totalStorageUsed",
        "totalUploadedSize",
      ] as const) {
        expect(empty[f], f).to.be.a("number").and.equal(0);
      }
      expect(empty.secondsSinceLastBackup).to.equal(null);
      expect(empty.totalBackupsRuns).to.equal(0);
      expect(empty.overdueBackupsCount).to.equal(0);

      await uploadOk(s, fixture("02-success-loglines-retention.json"));
      const sum = await summary(s);
      for (const f of [
        "totalServers",
        "totalBackups",
        "secondsSinceLastBackup",
        "totalBackupSize",
        "totalStorageUsed",
        "totalUploadedSize",
        "totalBackupsRuns",
        "overdueBackupsCount",
        "totalBackupJobs",
        "successfulBackups",
        "failedBackups",
      ] as const) {
        expect(sum[f], f).to.be.a("number");
      }
      expect(Number.isInteger(sum.secondsSinceLastBackup)).to.equal(true);
      expect(sum.secondsSinceLastBackup).to.be.above(0);
      expect(sum.lastUpdated).to.match(ISO_MS);
      expect(sum.totalBackupJobs).to.equal(sum.totalBackups);
    });

    it("last-backup widget fields have the types Homepage formats", async () => {
      const r = await getJson<LastBackupBody>(s, "/api/lastbackup/NAS-HOME");
      expect(r.status).to.equal(200);
      const b = r.body.latest_backup;
      expect(b).to.be.an("object");
      expect(b?.name).to.be.a("string").and.equal("NAS Documents");
      expect(b?.status).to.be.oneOf(["Success", "Unknown", "Warning", "Error", "Fatal"]);
      expect(b?.date).to.be.a("string").and.match(ISO_MS);
      expect(Number.isNaN(Date.parse(b?.date ?? ""))).to.equal(false);
      expect(b?.duration).to.match(/^\d{2,}:[0-5]\d:[0-5]\d$/);
      expect(b?.duration).to.equal("00:38:31");
      expect(b?.uploadedSize).to.be.a("number");
      expect(b?.backup_list_count).to.be.a("number").and.equal(10);
    });

    it("a duration of a day or more keeps counting hours (HH ≥ 24)", async () => {
      const r = fixture("01-upstream-sample-success.json");
      r.Extra["machine-id"] = "long-runner";
      r.Data.Duration = "1.02:03:04.5000000";
      delete r.Data.EndTime;
      await uploadOk(s, r);
      const lb = await lastBackup(s, "long-runner");
      expect(lb.body.latest_backup?.duration).to.equal("26:03:04");
    });
  });

  describe("server lookup", () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer();
      await uploadOk(
        s,
        makeReport({ machineId: "tm1-id", machineName: "Test Machine 1", begin: "2025-05-01T10:00:00Z" }),
      );
      await uploadOk(
        s,
        makeReport({ machineId: "odd-id", machineName: "Büro/PC #1 ?&=", begin: "2025-05-01T10:00:00Z" }),
      );
      await uploadOk(s, makeReport({ machineId: "dup-a", machineName: "Shared Name", begin: "2025-05-01T10:00:00Z" }));
      await uploadOk(s, makeReport({ machineId: "dup-b", machineName: "Shared Name", begin: "2025-05-02T10:00:00Z" }));
    });
    after(async () => {
      await s?.close();
    });

    for (const endpoint of ["lastbackup", "lastbackups"]) {
      it(`/api/${endpoint}: by id and by URL-encoded name (Test%20Machine%201)`, async () => {
        const byId = await getJson<ErrorBody & { server: { id: string; name: string } }>(s, `/api/${endpoint}/tm1-id`);
        expect(byId.status).to.equal(200);
        expect(byId.body.server).to.include({ id: "tm1-id", name: "Test Machine 1" });
        const byName = await getJson<{ server: { id: string } }>(s, `/api/${endpoint}/Test%20Machine%201`);
        expect(byName.status).to.equal(200);
        expect(byName.body.server.id).to.equal("tm1-id");
        expect(byName.body).to.deep.equal(byId.body);
      });

      it(`/api/${endpoint}: a name with slash, hash, query characters and non-ASCII`, async () => {
        const r = await getJson<{ server: { id: string } }>(
          s,
          `/api/${endpoint}/${encodeURIComponent("Büro/PC #1 ?&=")}`,
        );
        expect(r.status).to.equal(200);
        expect(r.body.server.id).to.equal("odd-id");
      });

      it(`/api/${endpoint}: a name shared by two machine-ids → 400 with duplicate_servers`, async () => {
        const r = await getJson<ErrorBody>(s, `/api/${endpoint}/Shared%20Name`);
        expect(r.status).to.equal(400);
        expect(r.body).to.have.all.keys("error", "message", "status", "duplicate_servers");
        expect(r.body.error).to.equal("Multiple servers found with the same name");
        expect(r.body.status).to.equal(400);
        expect(r.body.message).to.match(
          /^Multiple servers found with name "Shared Name"\. Please use the server ID instead of the name\. Available IDs: /,
        );
        expect(r.body.message).to.include("dup-a").and.include("dup-b");
        expect(r.body.duplicate_servers).to.have.deep.members([
          { id: "dup-a", name: "Shared Name" },
          { id: "dup-b", name: "Shared Name" },
        ]);
        expectNoCache(r.headers, `${endpoint} 400`);
        // Each is still reachable by its id.
        for (const id of ["dup-a", "dup-b"]) {
          expect((await getJson(s, `/api/${endpoint}/${id}`)).status).to.equal(200);
        }
      });

      it(`/api/${endpoint}: unknown → 404 with the original's body`, async () => {
        const r = await getJson<ErrorBody>(s, `/api/${endpoint}/No%20Such%20Machine`);
        expect(r.status).to.equal(404);
        expect(r.body).to.deep.equal({
          error: "Server not found",
          message: "No server found with identifier: No Such Machine",
          status: 404,
        });
        expectNoCache(r.headers, `${endpoint} 404`);
      });

      it(`/api/${endpoint}: no-cache headers`, async () => {
        const r = await getJson(s, `/api/${endpoint}/tm1-id`);
        expectNoCache(r.headers, endpoint);
        expect(r.headers.get("content-type")).to.match(/^application\/json/);
      });
    }

    it("/api/summary, /api/health and /api/ping send the no-cache headers", async () => {
      for (const path of ["/api/summary", "/api/health", "/api/ping"]) {
        expectNoCache((await getJson(s, path)).headers, path);
      }
    });

    it("an id wins over a server whose name equals that id", async () => {
      await uploadOk(s, makeReport({ machineId: "name-clash", machineName: "tm1-id", begin: "2025-05-03T10:00:00Z" }));
      const r = await getJson<{ server: { id: string } }>(s, "/api/lastbackup/tm1-id");
      expect(r.body.server.id).to.equal("tm1-id");
    });
  });

  describe("summary arithmetic and 'latest' with several servers, jobs and out-of-order uploads", () => {
    let s: TestServer;
    const clock = new ManualClock(new Date("2025-01-11T06:00:00.000Z"));
    before(async () => {
      s = await startTestServer({}, { clock });
      const reports = [
        // Server 1, job Files: the newer run arrives first, the older one afterwards.
        makeReport({
          machineId: "srv-1",
          machineName: "Server One",
          backupName: "Files",
          begin: "2025-01-11T02:00:00Z",
          size: 1100,
          known: 5200,
          uploaded: 110,
          versions: 8,
        }),
        makeReport({
          machineId: "srv-1",
          machineName: "Server One",
          backupName: "Files",
          begin: "2025-01-10T02:00:00Z",
          size: 1000,
          known: 5000,
          uploaded: 100,
          versions: 7,
        }),
        // Server 1, job Databases: a single failed run.
        makeReport({
          machineId: "srv-1",
          machineName: "Server One",
          backupName: "Databases",
          begin: "2025-01-09T03:00:00Z",
          size: 2000,
          known: 7000,
          uploaded: 200,
          status: "Error",
        }),
        // Server 2, job System: latest is Fatal; an older success is uploaded after it.
        makeReport({
          machineId: "srv-2",
          machineName: "Server Two",
          backupName: "System",
          begin: "2025-01-11T05:00:00Z",
          size: 300,
          known: 900,
          uploaded: 30,
          status: "Fatal",
        }),
        makeReport({
          machineId: "srv-2",
          machineName: "Server Two",
          backupName: "System",
          begin: "2025-01-10T05:00:00Z",
          size: 290,
          known: 880,
          uploaded: 29,
        }),
        // Server 3, job Home: latest is a Warning (counts as successful).
        makeReport({
          machineId: "srv-3",
          machineName: "Server Three",
          backupName: "Home",
          begin: "2025-01-08T01:00:00Z",
          size: 50,
          known: 60,
          uploaded: 5,
          status: "Error",
        }),
        makeReport({
          machineId: "srv-3",
          machineName: "Server Three",
          backupName: "Home",
          begin: "2025-01-09T01:00:00Z",
          size: 55,
          known: 66,
          uploaded: 6,
          status: "Warning",
        }),
      ];
      for (const r of reports) await uploadOk(s, r);
    });
    after(async () => {
      await s?.close();
    });

    it("counts servers, runs and jobs", async () => {
      const sum = await summary(s);
      expect(sum.totalServers).to.equal(3);
      expect(sum.totalBackupsRuns).to.equal(7);
      expect(sum.totalBackups).to.equal(4);
      expect(sum.totalBackupJobs).to.equal(4);
    });

    it("totalUploadedSize sums every run ever", async () => {
      expect((await summary(s)).totalUploadedSize).to.equal(110 + 100 + 200 + 30 + 29 + 5 + 6);
    });

    it("size and storage totals sum the latest run of EACH job (not one run per server)", async () => {
      const sum = await summary(s);
      // Files 2025-01-11 + Databases + System 2025-01-11 + Home 2025-01-09
      expect(sum.totalBackupSize).to.equal(1100 + 2000 + 300 + 55);
      expect(sum.totalStorageUsed).to.equal(5200 + 7000 + 900 + 66);
    });

    it("failedBackups counts jobs whose latest run is Error/Fatal; successfulBackups the others", async () => {
      const sum = await summary(s);
      expect(sum.failedBackups).to.equal(2); // Databases (Error), System (Fatal, despite the later-uploaded success)
      expect(sum.successfulBackups).to.equal(2); // Files, Home (Warning, after an Error)
    });

    it("secondsSinceLastBackup is measured from the newest run's begin time", async () => {
      expect((await summary(s)).secondsSinceLastBackup).to.equal(3600); // 06:00 − 05:00
      clock.advance(90_500);
      expect((await summary(s)).secondsSinceLastBackup).to.equal(3690); // floored
      expect((await summary(s)).lastUpdated).to.equal("2025-01-11T06:01:30.500Z");
    });

    it("an older run uploaded after a newer one does not become 'latest'", async () => {
      const one = await lastBackup(s, "srv-1");
      expect(one.body.latest_backup?.name).to.equal("Files");
      expect(one.body.latest_backup?.date).to.equal("2025-01-11T02:00:00.000Z");
      expect(one.body.latest_backup?.backup_list_count).to.equal(8);

      const two = await lastBackup(s, "Server Two");
      expect(two.body.latest_backup?.date).to.equal("2025-01-11T05:00:00.000Z");
      expect(two.body.latest_backup?.status).to.equal("Fatal");
    });

    it("lastbackups: the latest run of each job, newest job first", async () => {
      const r = await lastBackups(s, "srv-1");
      expect(r.status).to.equal(200);
      expect(r.body.backup_jobs_count).to.equal(2);
      expect(r.body.backup_names).to.deep.equal(["Files", "Databases"]);
      expect(r.body.latest_backups.map((b) => [b.name, b.date, b.status])).to.deep.equal([
        ["Files", "2025-01-11T02:00:00.000Z", "Success"],
        ["Databases", "2025-01-09T03:00:00.000Z", "Error"],
      ]);
    });

    it("a run newer than everything moves latest, the totals and secondsSinceLastBackup", async () => {
      await uploadOk(
        s,
        makeReport({
          machineId: "srv-2",
          machineName: "Server Two",
          backupName: "System",
          begin: "2025-01-11T06:00:00Z",
          size: 310,
          known: 950,
          uploaded: 31,
        }),
      );
      const sum = await summary(s);
      expect(sum.totalBackupsRuns).to.equal(8);
      expect(sum.totalBackupSize).to.equal(1100 + 2000 + 310 + 55);
      expect(sum.totalStorageUsed).to.equal(5200 + 7000 + 950 + 66);
      expect(sum.totalUploadedSize).to.equal(110 + 100 + 200 + 30 + 29 + 5 + 6 + 31);
      expect(sum.failedBackups).to.equal(1);
      expect(sum.secondsSinceLastBackup).to.equal(90); // clock is at 06:01:30.5
      expect((await lastBackup(s, "srv-2")).body.latest_backup?.status).to.equal("Success");
    });
  });

  describe("a renamed machine (same machine-id, new machine-name)", () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer();
    });
    after(async () => {
      await s?.close();
    });

    it("shows the new name; the old name no longer resolves", async () => {
      await uploadOk(s, makeReport({ machineId: "ren-1", machineName: "Old Name", begin: "2025-02-01T00:00:00Z" }));
      expect((await getJson(s, "/api/lastbackup/Old%20Name")).status).to.equal(200);
      await uploadOk(s, makeReport({ machineId: "ren-1", machineName: "New Name", begin: "2025-02-02T00:00:00Z" }));

      const byId = await lastBackup(s, "ren-1");
      expect(byId.body.server.name).to.equal("New Name");
      const byNew = await getJson<LastBackupBody>(s, "/api/lastbackups/New%20Name");
      expect(byNew.status).to.equal(200);
      expect(byNew.body.server.id).to.equal("ren-1");
      expect((await getJson(s, "/api/lastbackup/Old%20Name")).status).to.equal(404);

      // A duplicate of the old report (409) writes nothing, not even the old name.
      const dup = await upload(
        s,
        makeReport({ machineId: "ren-1", machineName: "Old Name", begin: "2025-02-01T00:00:00Z" }),
      );
      expect(dup.status).to.equal(409);
      expect((await lastBackup(s, "ren-1")).body.server.name).to.equal("New Name");

      const sum = await summary(s);
      expect(sum.totalServers).to.equal(1);
      expect(sum.totalBackupsRuns).to.equal(2);
      expect(sum.totalBackups).to.equal(1);
    });

    it("a late report of an older run does not rename the server back", async () => {
      await uploadOk(s, makeReport({ machineId: "ren-1", machineName: "Old Name", begin: "2025-01-15T00:00:00Z" }));
      expect((await lastBackup(s, "ren-1")).body.server.name).to.equal("New Name");
      await uploadOk(s, makeReport({ machineId: "ren-1", machineName: "Newest Name", begin: "2025-02-03T00:00:00Z" }));
      expect((await lastBackup(s, "ren-1")).body.server.name).to.equal("Newest Name");
    });
  });

  describe("/api/health and /api/ping", () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer();
    });
    after(async () => {
      await s?.close();
    });

    it("/api/health → 200 with the original's body shape", async () => {
      const r = await getJson<Record<string, unknown>>(s, "/api/health");
      expect(r.status).to.equal(200);
      const b = r.body;
      expect(b).to.include({
        status: "healthy",
        database: "connected",
        basicConnection: true,
        preparedStatements: true,
        initializationStatus: "complete",
        initializationComplete: true,
        connectionHealth: true,
      });
      expect(b.tablesFound).to.be.a("number");
      expect(b.tables).to.be.an("array").that.includes.members(["servers", "backups", "configurations"]);
      expect(b.tablesFound).to.equal((b.tables as unknown[]).length);
      expect(b.timestamp).to.be.a("string").and.match(ISO_MS);
      expect(b.connectionDetails).to.deep.include({ walMode: postgresMode ? "n/a" : "wal", status: "ready" });
      expect((b.connectionDetails as { busyTimeout?: unknown }).busyTimeout).to.be.a("number");
      expect(b).not.to.have.any.keys("error", "stack");
    });

    it("/api/ping → {ok:true}", async () => {
      const r = await getJson(s, "/api/ping");
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ ok: true });
    });
  });
});
