import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import {
  addJobsToChartRollups,
  rebuildChartRollups,
  removeJobsFromChartRollups,
} from "../../server/src/charts/rollups";
import { ManualClock } from "../../server/src/core/clock";
import { EventBus } from "../../server/src/core/events";
import { createLogger } from "../../server/src/core/logger";
import { Database } from "../../server/src/db/database";
import { IngestService } from "../../server/src/ingest/ingest-service";
import { recomputeJob } from "../../server/src/store/maintenance-store";
import { type RunSpec, makeReport } from "../support/api";
import { createTestDatabase, dropTestDatabase, postgresMode } from "../support/postgres";
import { tempDataDir } from "../support/server";

/**
 * The roll-ups maintained run by run in the upload transaction equal a rebuild from the runs, whatever the order of
 * arrival: random runs of a few jobs packed around hour, day and week boundaries, uploaded in random order.
 */
describe("chart roll-ups: incremental upkeep equals a rebuild", () => {
  const log = createLogger("silent");
  let dir: string;
  let databaseUrl: string | undefined;
  let db: Database;
  let ingest: IngestService;

  /** Opens the test's database (running the migrations it lacks) and an ingest service on it. */
  async function openDatabase(): Promise<void> {
    db = await Database.open(
      { sqliteFile: path.join(dir, "t.db"), synchronous: "NORMAL", cacheMb: 8, databaseUrl },
      log,
    );
    ingest = new IngestService({
      db,
      events: new EventBus(log),
      clock: new ManualClock(Date.parse("2025-06-30T00:00:00Z")),
      timeZone: "UTC",
    });
  }

  beforeEach(async () => {
    dir = tempDataDir();
    // With TEST_DATABASE_URL, on a fresh PostgreSQL database of its own (the same SQL through the dialect).
    databaseUrl = postgresMode ? await createTestDatabase() : undefined;
    await openDatabase();
  });
  afterEach(async () => {
    await db.close();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const rollups = () => db.read((q) => q.all(`SELECT * FROM chart_rollups ORDER BY granularity, bucket_start`));

  function randomRuns(seed: number, count: number): RunSpec[] {
    let x = seed;
    const rand = (n: number) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((x / 2 ** 31) * n);
    };
    // Sunday 8 June 2025 23:00 UTC: the next two hours cross an hour, a day and a week boundary.
    const pivot = Date.parse("2025-06-08T23:00:00Z");
    const seen = new Set<string>();
    const runs: RunSpec[] = [];
    while (runs.length < count) {
      const job = rand(3);
      const begin = new Date(pivot + (rand(4) - 2) * 3_600_000 + rand(2) * 86_400_000 * 7 + rand(7200) * 1000);
      const key = `${job}|${begin.toISOString()}`;
      if (seen.has(key)) continue;
      seen.add(key);
      runs.push({
        machineId: job === 2 ? "m2" : "m1",
        backupName: job === 1 ? "B" : "A",
        begin: begin.toISOString(),
        durationSeconds: 1 + rand(5000),
        size: rand(1_000_000),
        files: rand(10_000),
        known: rand(1_000_000),
        versions: rand(50),
        uploaded: rand(100_000),
        status: (["Success", "Warning", "Error", "Fatal", "Success"] as const)[rand(5)],
      });
    }
    return runs;
  }

  for (const seed of [1, 7, 42]) {
    it(`seed ${seed}: one run per upload, in random order`, async () => {
      for (const spec of randomRuns(seed, 150)) await ingest.ingest(makeReport(spec));
      const incremental = await rollups();
      expect(incremental.length).to.be.greaterThan(5);
      await db.write((q) => rebuildChartRollups(q, db.dialect));
      expect(await rollups()).to.deep.equal(incremental);
    });
  }

  it("batches with duplicates", async () => {
    const runs = randomRuns(99, 200);
    const reports = [...runs, ...runs.slice(0, 20)].map((r) => makeReport(r));
    const { stored, duplicates } = await ingest.ingestBatch(reports);
    expect([stored, duplicates]).to.deep.equal([200, 20]);
    const incremental = await rollups();
    await db.write((q) => rebuildChartRollups(q, db.dialect));
    expect(await rollups()).to.deep.equal(incremental);
  });

  describe("whole jobs out and in (delete a job or a server, merge servers) without a rebuild", () => {
    const rebuilt = async () => {
      const kept = await rollups();
      await db.write((q) => rebuildChartRollups(q, db.dialect));
      const fresh = await rollups();
      return { kept, fresh };
    };

    it("removing one job before deleting its runs", async () => {
      for (const spec of randomRuns(5, 150)) await ingest.ingest(makeReport(spec));
      await db.write(async (q) => {
        await removeJobsFromChartRollups(q, db.dialect, { serverId: "m1", backupName: "A" });
        await q.run(`DELETE FROM backups WHERE server_id = ? AND backup_name = ?`, ["m1", "A"]);
      });
      const { kept, fresh } = await rebuilt();
      expect(kept).to.deep.equal(fresh);
    });

    it("removing a server's jobs before deleting its runs", async () => {
      for (const spec of randomRuns(6, 150)) await ingest.ingest(makeReport(spec));
      await db.write(async (q) => {
        await removeJobsFromChartRollups(q, db.dialect, { serverId: "m1" });
        await q.run(`DELETE FROM backups WHERE server_id = ?`, ["m1"]);
      });
      const { kept, fresh } = await rebuilt();
      expect(kept).to.deep.equal(fresh);
      expect(kept.length).to.be.greaterThan(0);
    });

    it("merging one server into another: out before the move, the target back in after", async () => {
      for (const spec of randomRuns(8, 150)) await ingest.ingest(makeReport(spec));
      await db.write(async (q) => {
        await removeJobsFromChartRollups(q, db.dialect, { serverId: "m2" });
        await removeJobsFromChartRollups(q, db.dialect, { serverId: "m1" });
        await q.run(
          `DELETE FROM backups WHERE server_id = 'm2' AND EXISTS (SELECT 1 FROM backups t
             WHERE t.server_id = 'm1' AND t.backup_name = backups.backup_name AND t.date = backups.date)`,
        );
        await q.run(`UPDATE backups SET server_id = 'm1' WHERE server_id = 'm2'`);
        await addJobsToChartRollups(q, db.dialect, { serverId: "m1" });
      });
      const { kept, fresh } = await rebuilt();
      expect(kept).to.deep.equal(fresh);
    });
  });

  /**
   * An upload of a job's newest run takes the previous latest run's gauges from the job row (jobs.latest_*) instead
   * of looking its neighbours up: the row must hold them whatever happened before.
   */
  describe("the job row as the newest run's neighbour", () => {
    const byDate = (runs: RunSpec[]) => [...runs].sort((a, b) => a.begin.localeCompare(b.begin));
    const equalsRebuild = async () => {
      const incremental = await rollups();
      await db.write((q) => rebuildChartRollups(q, db.dialect));
      expect(await rollups()).to.deep.equal(incremental);
    };

    it("jobs stored before latest_examined_files existed: the migration fills it from each job's latest run", async () => {
      const runs = byDate(randomRuns(11, 120));
      for (const spec of runs.slice(0, 60)) await ingest.ingest(makeReport(spec));
      // Back to the schema before the migration (portable SQL: SQLite or PostgreSQL), then open again to run it.
      await db.write(async (q) => {
        await q.run(`ALTER TABLE jobs DROP COLUMN latest_examined_files`);
        await q.run(`DELETE FROM migrations WHERE name = ?`, ["JobLatestExaminedFiles1764813600000"]);
      });
      await db.close();
      await openDatabase();
      const filled = await db.read((q) =>
        q.all<{ stored: number; latest: number }>(
          `SELECT j.latest_examined_files AS stored, b.examined_files AS latest
             FROM jobs j JOIN backups b ON b.id = j.latest_run_id`,
        ),
      );
      expect(filled).to.have.length(3);
      for (const row of filled) expect(Number(row.stored)).to.equal(Number(row.latest)).and.greaterThan(0);
      // The rest are each job's newest run: every one of them folds in through the job row.
      for (const spec of runs.slice(60)) await ingest.ingest(makeReport(spec));
      await equalsRebuild();
    });

    it("the newest run deleted and its job recomputed: the next newest run still folds in right", async () => {
      const runs = byDate(randomRuns(12, 90));
      for (const spec of runs.slice(0, 80)) await ingest.ingest(makeReport(spec));
      await db.write(async (q) => {
        await q.run(
          `DELETE FROM backups WHERE id = (SELECT latest_run_id FROM jobs WHERE server_id = 'm1' AND backup_name = 'A')`,
        );
        await recomputeJob(q, { server_id: "m1", backup_name: "A" }, "2025-06-30T00:00:00.000Z");
        await rebuildChartRollups(q, db.dialect);
      });
      for (const spec of runs.slice(80)) await ingest.ingest(makeReport(spec));
      await equalsRebuild();
    });
  });
});
