import { expect } from "chai";
import { ManualClock } from "../../server/src/core/clock";
import type { Database, Queryable } from "../../server/src/db/database";
import { dataVersionSql } from "../../server/src/db/dialect";
import { compareText, countBelow } from "../../server/src/reporting/reporting-service";
import { makeReport, summary, uploadOk } from "../support/api";
import { login } from "../support/auth";
import { postgresMode } from "../support/postgres";
import { startTestServer, type TestServer } from "../support/server";

/**
 * GET /api/summary keeps its aggregate per data version (SQLite). It must never answer from a stale one: every
 * write shows, the tolerance setting is data, and what depends on the clock (overdue, secondsSinceLastBackup,
 * lastUpdated) moves with the clock alone.
 */

const T0 = Date.parse("2025-03-10T12:00:00.000Z");

describe("GET /api/summary: the aggregate kept per data version", () => {
  let s: TestServer;
  const clock = new ManualClock(T0);
  let adminToken: string;

  /** The database's data version (SQLite), to show that nothing was written between two answers. */
  const dataVersion = async (): Promise<string | null> => {
    const sql = dataVersionSql(s.app.db.dialect.kind);
    if (sql === null) return null;
    return s.app.db.read(async (q) => String((await q.get<{ version: unknown }>(sql))?.version));
  };

  const setTolerance = async (value: string): Promise<void> => {
    const res = await s.request("/api/configuration/overdue-tolerance", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ overdue_tolerance: value }),
    });
    expect(res.status, await res.clone().text()).to.equal(200);
  };

  before(async () => {
    s = await startTestServer({}, { clock });
    const admin = await login(s);
    const res = await admin.json("POST", "/api/tokens", { name: "summary-cache", scope: "admin" });
    expect(res.status).to.equal(201);
    adminToken = ((await res.json()) as { token: string }).token;
  });
  after(async () => {
    await s?.close();
  });

  it("shows every upload, and moves secondsSinceLastBackup and lastUpdated with the clock alone", async () => {
    expect((await summary(s)).totalBackupsRuns).to.equal(0);

    // Job Files runs daily (the default 1D): expected again on 11 March 10:00.
    await uploadOk(s, makeReport({ machineId: "c-1", backupName: "Files", begin: "2025-03-10T10:00:00Z" }));
    let sum = await summary(s);
    expect(sum).to.include({ totalBackupsRuns: 1, totalBackupJobs: 1, totalServers: 1, overdueBackupsCount: 0 });
    expect(sum.secondsSinceLastBackup).to.equal(7200);
    expect(sum.lastUpdated).to.equal("2025-03-10T12:00:00.000Z");

    const version = await dataVersion();
    clock.advance(1_500);
    sum = await summary(s);
    expect(sum.secondsSinceLastBackup).to.equal(7201);
    expect(sum.lastUpdated).to.equal("2025-03-10T12:00:01.500Z");
    expect(await dataVersion()).to.equal(version);

    await uploadOk(
      s,
      makeReport({ machineId: "c-1", backupName: "Mail", begin: "2025-03-10T11:00:00Z", uploaded: 7, size: 2000 }),
    );
    sum = await summary(s);
    expect(sum).to.include({ totalBackupsRuns: 2, totalBackupJobs: 2, totalUploadedSize: 107, totalBackupSize: 3000 });
    expect(sum.secondsSinceLastBackup).to.equal(3601);

    // A second server, and a newer run of Files.
    await uploadOk(s, makeReport({ machineId: "c-2", backupName: "Files", begin: "2025-03-10T11:30:00Z" }));
    await uploadOk(s, makeReport({ machineId: "c-1", backupName: "Files", begin: "2025-03-09T10:00:00Z" }));
    sum = await summary(s);
    expect(sum).to.include({ totalBackupsRuns: 4, totalBackupJobs: 3, totalServers: 2 });
  });

  it("counts a job overdue once the clock passes next expected + tolerance, with no write in between", async () => {
    // Expected: c-1 Files 11 March 10:00, c-1 Mail 11:00, c-2 Files 11:30; the default tolerance is 2 h.
    clock.set(Date.parse("2025-03-11T12:00:00.000Z"));
    const version = await dataVersion();
    expect((await summary(s)).overdueBackupsCount, "at exactly expected + tolerance").to.equal(0);
    clock.advance(1);
    expect((await summary(s)).overdueBackupsCount).to.equal(1);
    clock.set(Date.parse("2025-03-11T13:00:00.001Z"));
    expect((await summary(s)).overdueBackupsCount).to.equal(2);
    clock.set(Date.parse("2025-03-11T13:30:00.001Z"));
    expect((await summary(s)).overdueBackupsCount).to.equal(3);
    // Back in time, back to fewer: nothing about the clock is kept.
    clock.set(Date.parse("2025-03-11T12:30:00.000Z"));
    expect((await summary(s)).overdueBackupsCount).to.equal(1);
    expect(await dataVersion(), "nothing was written meanwhile").to.equal(version);
  });

  it("follows a change of the tolerance setting", async () => {
    clock.set(Date.parse("2025-03-11T12:30:00.000Z"));
    expect((await summary(s)).overdueBackupsCount).to.equal(1);
    await setTolerance("4h");
    expect((await summary(s)).overdueBackupsCount).to.equal(0);
    await setTolerance("no_tolerance");
    expect((await summary(s)).overdueBackupsCount).to.equal(3);
    await setTolerance("2h");
    expect((await summary(s)).overdueBackupsCount).to.equal(1);
  });

  it("follows a change made by SQL outside the services (any write moves the version)", async () => {
    await s.app.db.write((q) => q.run(`UPDATE jobs SET monitoring_enabled = 0 WHERE backup_name = ?`, ["Files"]));
    expect((await summary(s)).overdueBackupsCount).to.equal(0);
    await s.app.db.write((q) => q.run(`UPDATE jobs SET monitoring_enabled = 1`));
    expect((await summary(s)).overdueBackupsCount).to.equal(1);
  });

  it("computes once for requests arriving together, and warns about unevaluable jobs once per data version", async function () {
    if (postgresMode) this.skip(); // no data version there: computed per request
    const warnings: unknown[] = [];
    const log = s.app.log as unknown as { warn: (...args: unknown[]) => void };
    const originalWarn = log.warn;
    log.warn = (...args: unknown[]) => {
      if (args.some((a) => typeof a === "string" && a.includes("without a valid schedule"))) warnings.push(args[0]);
      else originalWarn.apply(s.app.log, args);
    };
    const db = s.app.db as { read: typeof s.app.db.read };
    const originalRead = db.read;
    let aggregates = 0;
    const counting = (q: Queryable): Queryable => ({
      all: (sql, params) => q.all(sql, params),
      get: (sql, params) => ((aggregates += sql.includes("SUM(run_count)") ? 1 : 0), q.get(sql, params)),
      run: (sql, params) => q.run(sql, params),
    });
    try {
      db.read = <T>(work: (q: Queryable) => Promise<T>): Promise<T> =>
        originalRead.call<Database, [(q: Queryable) => Promise<T>], Promise<T>>(s.app.db, (q) => work(counting(q)));
      clock.set(Date.parse("2025-03-11T13:00:00.001Z"));
      expect((await summary(s)).overdueBackupsCount).to.equal(2); // c-1 Files and Mail
      aggregates = 0;
      await s.app.db.write((q) => q.run(`UPDATE jobs SET next_expected_at = NULL WHERE backup_name = ?`, ["Mail"]));
      const answers = await Promise.all(Array.from({ length: 8 }, () => summary(s)));
      // Mail, without a next expected time now, is left out.
      expect(new Set(answers.map((a) => a.overdueBackupsCount))).to.deep.equal(new Set([1]));
      expect(aggregates, "aggregations for 8 requests of one version").to.equal(1);
      await summary(s);
      expect(warnings).to.deep.equal([{ jobs: 1 }]);

      await s.app.db.write((q) => q.run(`UPDATE servers SET note = 'x' WHERE id = ?`, ["c-2"]));
      await summary(s);
      await summary(s);
      expect(aggregates).to.equal(2);
      expect(warnings).to.have.length(2);
    } finally {
      db.read = originalRead;
      log.warn = originalWarn;
    }
  });
});

describe("the overdue count's text order (SQLite BINARY: UTF-8 bytes)", () => {
  it("orders as UTF-8 bytes do, also around surrogates and U+E000 and above", () => {
    const values = ["", "a", "ab", "b", "Z", "é", "\uffff", "\ue000", "\ud83d\ude00", "2025-03-11T10:00:00.000Z", "2"];
    const bytes = (x: string) => Buffer.from(x, "utf8");
    const sorted = [...values].sort(compareText);
    const byBytes = [...values].sort((x, y) => Buffer.compare(bytes(x), bytes(y)));
    expect(sorted).to.deep.equal(byBytes);
    expect(countBelow(sorted, "\ue000")).to.equal(byBytes.findIndex((v) => v === "\ue000"));
    expect(countBelow(sorted, "\uffff\uffff")).to.equal(values.length - 1);
    expect(countBelow([], "x")).to.equal(0);
  });
});
