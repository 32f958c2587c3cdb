import { expect } from "chai";
import { type ReadResponse, fixture, lastBackup, lastBackups, makeReport, readJson, summary } from "../support/api";
import { postgresMode } from "../support/postgres";
import { startTestServer, type TestServer } from "../support/server";

/**
 * Duplicate detection is backed by a unique index (contract §2), so concurrent uploads of one report store it once,
 * and concurrent distinct reports are all stored and counted.
 */
describe("concurrent uploads", () => {
  let s: TestServer;
  beforeEach(async () => {
    // The per-client upload rate limit is not what these tests measure.
    s = await startTestServer({ UPLOAD_RATE_LIMIT: "0" });
  });
  afterEach(async () => {
    await s?.close();
  });

  const post = async (init: RequestInit): Promise<ReadResponse<unknown>> =>
    readJson(await s.request("/api/upload", { method: "POST", ...init }));

  function tally(results: ReadResponse<unknown>[]): Record<number, number> {
    const t: Record<number, number> = {};
    for (const r of results) t[r.status] = (t[r.status] ?? 0) + 1;
    return t;
  }

  it("50 concurrent uploads of the same report: one 200, 49 × 409, one row", async () => {
    const text = JSON.stringify(fixture("02-success-loglines-retention.json"));
    const results = await Promise.all(
      Array.from({ length: 50 }, () => post({ headers: { "content-type": "application/json" }, body: text })),
    );
    expect(tally(results)).to.deep.equal({ 200: 1, 409: 49 });
    for (const r of results) {
      expect(r.body).to.deep.equal(r.status === 200 ? { success: true } : { error: "ignored, duplicated data" });
    }
    const sum = await summary(s);
    expect(sum.totalBackupsRuns).to.equal(1);
    expect(sum.totalServers).to.equal(1);
    expect(sum.totalBackups).to.equal(1);
    expect(sum.totalUploadedSize).to.equal(331318892);
    const lb = await lastBackups(s, "3f9c2a7be1d84c0f9a5e6b7c8d9e0f12");
    expect(lb.body.latest_backups).to.have.length(1);
  });

  it("on SQLite the running app stores uploads on the ingest writer thread (PostgreSQL: on the event loop)", () => {
    expect(s.app.services.ingest.threaded).to.equal(!postgresMode);
  });

  it("the same report racing over JSON, text/plain and the form variant is stored once", async () => {
    const text = JSON.stringify(fixture("01-upstream-sample-success.json"));
    const inits: RequestInit[] = [];
    for (let i = 0; i < 10; i++) {
      inits.push(
        { headers: { "content-type": "application/json" }, body: text },
        { headers: { "content-type": "text/plain" }, body: text },
        {
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ message: text }).toString(),
        },
      );
    }
    const results = await Promise.all(inits.map(post));
    expect(tally(results)).to.deep.equal({ 200: 1, 409: 29 });
    expect((await summary(s)).totalBackupsRuns).to.equal(1);
  });

  it("50 concurrent distinct reports (5 servers × 10 runs): all 200 and all counted", async () => {
    const reports = Array.from({ length: 50 }, (_, i) =>
      makeReport({
        machineId: `conc-${i % 5}`,
        machineName: `Concurrent ${i % 5}`,
        backupName: "Files",
        begin: new Date(Date.UTC(2025, 0, 1 + Math.floor(i / 5), 2, 0, 0)).toISOString(),
        uploaded: 1000 + i,
        size: 10_000 + i,
        known: 20_000 + i,
      }),
    );
    const results = await Promise.all(
      reports.map((r) => post({ headers: { "content-type": "application/json" }, body: JSON.stringify(r) })),
    );
    expect(tally(results)).to.deep.equal({ 200: 50 });

    const sum = await summary(s);
    expect(sum.totalBackupsRuns).to.equal(50);
    expect(sum.totalServers).to.equal(5);
    expect(sum.totalBackups).to.equal(5);
    // Every run's upload counts; sizes come from each job's latest run (the 10th day: i = 45..49).
    expect(sum.totalUploadedSize).to.equal(Array.from({ length: 50 }, (_, i) => 1000 + i).reduce((a, b) => a + b, 0));
    expect(sum.totalBackupSize).to.equal([45, 46, 47, 48, 49].reduce((a, i) => a + 10_000 + i, 0));
    expect(sum.totalStorageUsed).to.equal([45, 46, 47, 48, 49].reduce((a, i) => a + 20_000 + i, 0));

    for (let m = 0; m < 5; m++) {
      const lb = await lastBackup(s, `conc-${m}`);
      expect(lb.status).to.equal(200);
      expect(lb.body.latest_backup?.date).to.equal("2025-01-10T02:00:00.000Z");
      expect(lb.body.latest_backup?.uploadedSize).to.equal(1000 + 45 + m);
    }
  });

  it("25 distinct reports each sent twice at once: 25 × 200, 25 × 409, 25 rows", async () => {
    const texts = Array.from({ length: 25 }, (_, i) =>
      JSON.stringify(
        makeReport({
          machineId: `pair-${i % 3}`,
          backupName: `Job ${i % 2}`,
          begin: new Date(Date.UTC(2025, 1, 1, 0, i, 0)).toISOString(),
        }),
      ),
    );
    const results = await Promise.all(
      [...texts, ...texts].map((body) => post({ headers: { "content-type": "application/json" }, body })),
    );
    expect(tally(results)).to.deep.equal({ 200: 25, 409: 25 });
    // Each report got exactly one 200 across its two copies.
    for (let i = 0; i < 25; i++) {
      expect([results[i]?.status, results[i + 25]?.status].sort()).to.deep.equal([200, 409]);
    }
    const sum = await summary(s);
    expect(sum.totalBackupsRuns).to.equal(25);
    expect(sum.totalServers).to.equal(3);
    expect(sum.totalBackups).to.equal(6);
  });
});
