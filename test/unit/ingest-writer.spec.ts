import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { expect } from "chai";
import { createLogger } from "../../server/src/core/logger";
import { Database } from "../../server/src/db/database";
import { openSqliteFile } from "../../server/src/db/dialect";
import { SharedWriteLock } from "../../server/src/db/write-lock";
import { IngestWriter } from "../../server/src/ingest/ingest-writer";
import { mapReport, type MappedReport } from "../../server/src/ingest/map-report";
import { DuplicateRun, storeReport } from "../../server/src/ingest/store-report";
import { validateReport } from "../../server/src/ingest/validate-report";
import { fixture } from "../support/api";
import { postgresMode } from "../support/postgres";
import { tempDataDir } from "../support/server";
import { largestWalUnderBound } from "../support/sqlite";

const LOCK_MODULE = path.resolve(__dirname, "../../server/src/db/write-lock.ts");

/** A thread that takes the lock, says so, holds it for `holdMs`, releases it, `rounds` times over. */
function lockingThread(buffer: SharedArrayBuffer, holdMs: number, rounds: number): Worker {
  const source = `
    require("tsx/cjs");
    const { parentPort, workerData } = require("node:worker_threads");
    const { SharedWriteLock } = require(${JSON.stringify(LOCK_MODULE)});
    const lock = new SharedWriteLock(workerData.buffer);
    const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    for (let i = 0; i < workerData.rounds; i++) {
      lock.acquireBlocking();
      parentPort.postMessage({ held: i, at: Date.now() });
      sleep(workerData.holdMs);
      lock.release();
    }
    parentPort.postMessage({ done: true });
  `;
  return new Worker(source, { eval: true, workerData: { buffer, holdMs, rounds } });
}

describe("shared write lock (event loop and writer thread)", () => {
  it("the event loop waits without blocking, and gets the lock once the thread lets go", async () => {
    const lock = new SharedWriteLock();
    const thread = lockingThread(lock.buffer, 300, 1);
    await new Promise<void>((resolve) => thread.once("message", () => resolve()));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    await lock.acquire();
    const waited = Date.now() - started;
    clearInterval(timer);
    lock.release();
    await new Promise<void>((resolve) => thread.once("exit", () => resolve()));
    expect(waited).to.be.greaterThan(150);
    // The event loop ran meanwhile: a blocking wait would have let no timer fire.
    expect(ticks).to.be.greaterThan(5);
  });

  it("a waiting event loop goes before a thread that takes the lock again and again", async () => {
    const lock = new SharedWriteLock();
    const thread = lockingThread(lock.buffer, 20, 200);
    const held: number[] = [];
    thread.on("message", (m: { held?: number }) => {
      if (m.held !== undefined) held.push(m.held);
    });
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    await lock.acquire();
    const roundsBefore = held.length;
    await new Promise((r) => setTimeout(r, 100));
    // Held by the event loop: the thread did not get in meanwhile.
    expect(held.length).to.equal(roundsBefore);
    lock.release();
    await thread.terminate();
    expect(roundsBefore).to.be.lessThan(10);
  });
});

describe("ingest writer thread", () => {
  const log = createLogger("silent");
  let dir: string;
  let db: Database;
  let writer: IngestWriter | undefined;
  const template = fixture("02-success-loglines-retention.json");

  /** Report n: a distinct begin time of the same job. */
  function mapped(n: number): MappedReport {
    const report = structuredClone(template) as { Data: Record<string, unknown> };
    const begin = new Date(Date.UTC(2026, 0, 1) + n * 3_600_000);
    report.Data.BeginTime = begin.toISOString();
    report.Data.EndTime = new Date(begin.getTime() + 60_000).toISOString();
    return mapReport(validateReport(report), { now: new Date(), timeZone: "UTC" });
  }
  const fallback = (m: MappedReport) =>
    db.write((q) => storeReport(q, m, { forUpdate: "", audit: true, notificationPrefs: true }));
  const count = async (sql: string) => (await db.read((q) => q.get<{ n: number }>(sql)))?.n;

  beforeEach(async function () {
    if (postgresMode) this.skip();
    dir = tempDataDir();
    db = await Database.open(
      { sqliteFile: path.join(dir, "t.db"), synchronous: "NORMAL", cacheMb: 8, backgroundCheckpoint: true },
      log,
    );
  });
  afterEach(async () => {
    if (postgresMode) return;
    await writer?.close();
    writer = undefined;
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("stores uploads on the thread: answered once committed, duplicates refused, audit row with the run", async () => {
    writer = IngestWriter.start(db, fallback, log);
    expect(writer.threaded).to.equal(true);
    const results = await Promise.allSettled([mapped(1), mapped(2), mapped(1), mapped(3)].map((m) => writer!.store(m)));
    expect(results.map((r) => r.status)).to.deep.equal(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect((results[2] as PromiseRejectedResult).reason).to.be.instanceOf(DuplicateRun);
    const first = (results[0] as PromiseFulfilledResult<{ server: { created: boolean }; isLatest: boolean }>).value;
    expect(first.server.created).to.equal(true);
    // Answered means committed: another connection sees the rows.
    const other = openSqliteFile(db.sqliteFile, { readonly: true });
    try {
      const row = other.prepare("SELECT COUNT(*) AS n FROM backups").get() as { n: number };
      expect(row.n).to.equal(3);
    } finally {
      other.close();
    }
    expect(await count(`SELECT COUNT(*) AS n FROM audit_log WHERE action = 'backup_upload'`)).to.equal(3);
    expect(await count(`SELECT run_count AS n FROM jobs`)).to.equal(3);
  });

  it("keeps the WAL bounded under a steady stream of uploads (checkpoints it itself past walBoundBytes)", async () => {
    await db.close();
    const bound = 1024 * 1024;
    // 504 uploads, 8 at a time (~2 group commits per round): several MB of WAL, which the background checkpointer
    // (16 MB threshold) would leave alone; the thread starts it over each time it passes the bound.
    const run = await largestWalUnderBound(path.join(dir, "t.db"), bound, 63, (live, round) => {
      writer ??= IngestWriter.start(live, fallback, log);
      return Promise.all(Array.from({ length: 8 }, (_, k) => writer!.store(mapped(round * 8 + k))));
    });
    db = run.db;
    expect(await count(`SELECT COUNT(*) AS n FROM backups`)).to.equal(504);
    // The bound, plus what the group commits between two looks at the WAL's size add.
    expect(run.largest).to.be.lessThan(3 * bound);
  });

  it("event-loop writes and the thread's uploads interleave without errors", async () => {
    writer = IngestWriter.start(db, fallback, log);
    const uploads = Array.from({ length: 60 }, (_, i) => writer!.store(mapped(i)));
    const settings = Array.from({ length: 30 }, (_, i) =>
      db.write((q) => q.run(`INSERT INTO configurations (key, value) VALUES (?, ?)`, [`k-${i}`, "v"])),
    );
    await Promise.all([...uploads, ...settings]);
    expect(await count(`SELECT COUNT(*) AS n FROM backups`)).to.equal(60);
    expect(await count(`SELECT COUNT(*) AS n FROM configurations WHERE key LIKE 'k-%'`)).to.equal(30);
  });

  it("close() stores what the thread was given before it ends", async () => {
    writer = IngestWriter.start(db, fallback, log);
    const pending = Array.from({ length: 20 }, (_, i) => writer!.store(mapped(i)));
    await writer.close();
    await Promise.all(pending);
    expect(await count(`SELECT COUNT(*) AS n FROM backups`)).to.equal(20);
    // After close, uploads are stored on the event loop.
    await writer.store(mapped(100));
    expect(await count(`SELECT COUNT(*) AS n FROM backups`)).to.equal(21);
  });

  it("if the thread dies, uploads go on through the event loop", async () => {
    writer = IngestWriter.start(db, fallback, log);
    await writer.store(mapped(1));
    const thread = (writer as unknown as { worker: Worker }).worker;
    await thread.terminate();
    expect(writer.threaded).to.equal(false);
    await writer.store(mapped(2));
    expect(await count(`SELECT COUNT(*) AS n FROM backups`)).to.equal(2);
  });
});
