import fs from "node:fs";
import { createDuplistatus } from "../server/src/app";
import { loadConfig } from "../server/src/config";
import type { Queryable } from "../server/src/db/database";
import { smallReport, serverId } from "./lib/reports";

/**
 * Bulk loader, run in its own process by bench/ingest.ts: stores runs [fromRun, toRun) of every job of the fleet
 * through the real service code (IngestService.ingestBatch: validation, mapping, one transaction per batch), then
 * optionally captures the SQL the reporting service runs and prints SQLite's EXPLAIN QUERY PLAN for it.
 *
 * Usage: node --import tsx bench/load-runs.ts '<json LoadArgs>'
 */
export interface LoadArgs {
  dataDir: string;
  servers: number;
  jobs: number;
  fromRun: number;
  toRun: number;
  baseMs: number;
  batchSize: number;
  /** SQLite page cache of the loader's connection (SQLITE_CACHE_MB); the server keeps its own setting. */
  cacheMb: number;
  /** Where to write the LoadResult JSON. */
  out: string;
  explain: boolean;
}

export interface PlanStatement {
  sql: string;
  plan: string[];
}

export interface LoadResult {
  runs: number;
  duplicates: number;
  seconds: number;
  runsPerSecond: number;
  generateSeconds: number;
  dbBytes: number;
  plans?: Record<string, PlanStatement[]>;
  scansOfBackups?: string[];
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? "{}") as LoadArgs;
  const config = loadConfig({
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    DATA_DIR: args.dataDir,
    PORT: "0",
    SQLITE_CACHE_MB: String(args.cacheMb),
  });
  const app = await createDuplistatus(config);
  const ingest = app.services.ingest;

  // Time order, like a real fleet: day k for every job of every server, then day k+1.
  const perRun = args.servers * args.jobs;
  const total = (args.toRun - args.fromRun) * perRun;
  let stored = 0;
  let duplicates = 0;
  let generateMs = 0;
  let lastProgress = Date.now();
  const started = performance.now();
  let batch: unknown[] = [];
  const flush = async () => {
    const r = await ingest.ingestBatch(batch);
    stored += r.stored;
    duplicates += r.duplicates;
    batch = [];
    if (Date.now() - lastProgress > 5000) {
      lastProgress = Date.now();
      const s = (performance.now() - started) / 1000;
      process.stderr.write(
        `  … ${stored.toLocaleString("en")} / ${total.toLocaleString("en")} runs (${Math.round(stored / s)} runs/s)\n`,
      );
    }
  };
  for (let k = args.fromRun; k < args.toRun; k++) {
    for (let s = 0; s < args.servers; s++) {
      for (let j = 0; j < args.jobs; j++) {
        const g = performance.now();
        batch.push(smallReport(args.baseMs, s, j, k));
        generateMs += performance.now() - g;
        if (batch.length >= args.batchSize) await flush();
      }
    }
  }
  if (batch.length > 0) await flush();
  const seconds = (performance.now() - started) / 1000;

  const result: LoadResult = {
    runs: stored,
    duplicates,
    seconds,
    runsPerSecond: stored / seconds,
    generateSeconds: generateMs / 1000,
    dbBytes: 0,
  };

  if (args.explain) {
    const { plans, scans } = await explainReads(app, serverId(0));
    result.plans = plans;
    result.scansOfBackups = scans;
  }
  await app.close();
  result.dbBytes = ["", "-wal", "-shm"]
    .map((suffix) => config.sqliteFile + suffix)
    .filter((f) => fs.existsSync(f))
    .reduce((sum, f) => sum + fs.statSync(f).size, 0);
  fs.writeFileSync(args.out, JSON.stringify(result));
}

/**
 * Runs the reporting service's reads once with a recording Queryable, so the plans shown are those of the exact SQL
 * the server executes (no copy of the queries to drift), then asks SQLite for each statement's query plan.
 */
async function explainReads(
  app: Awaited<ReturnType<typeof createDuplistatus>>,
  id: string,
): Promise<{ plans: Record<string, PlanStatement[]>; scans: string[] }> {
  const db = app.db;
  const originalRead = db.read.bind(db);
  let recorded: Array<{ sql: string; params: readonly unknown[] }> = [];
  const recording = (q: Queryable): Queryable => ({
    all: (sql, params = []) => (recorded.push({ sql, params }), q.all(sql, params)),
    get: (sql, params = []) => (recorded.push({ sql, params }), q.get(sql, params)),
    run: (sql, params = []) => (recorded.push({ sql, params }), q.run(sql, params)),
  });
  (db as { read: typeof db.read }).read = (work) => originalRead((q) => work(recording(q)));

  const reporting = app.services.reporting;
  const calls: Record<string, () => Promise<unknown>> = {
    "GET /api/summary": () => reporting.summary(),
    "GET /api/lastbackups/:id": () => reporting.latestBackups(id),
    "GET /api/lastbackup/:id": () => reporting.latestBackup(id),
  };
  const plans: Record<string, PlanStatement[]> = {};
  const scans: string[] = [];
  for (const [name, call] of Object.entries(calls)) {
    recorded = [];
    await call();
    const statements = recorded;
    plans[name] = [];
    for (const st of statements) {
      const rows = await originalRead((q) =>
        q.all<{ id: number; parent: number; detail: string }>(`EXPLAIN QUERY PLAN ${st.sql}`, st.params),
      );
      const depth = new Map<number, number>([[0, -1]]);
      const plan = rows.map((r) => {
        const d = (depth.get(r.parent) ?? -1) + 1;
        depth.set(r.id, d);
        return `${"  ".repeat(d)}${r.detail}`;
      });
      for (const r of rows) {
        if (/^SCAN (backups|b)\b/.test(r.detail)) scans.push(`${name}: ${r.detail}`);
      }
      plans[name].push({ sql: st.sql.replace(/\s+/g, " ").trim(), plan });
    }
  }
  (db as { read: typeof db.read }).read = originalRead;
  return { plans, scans };
}

main().catch((err: unknown) => {
  process.stderr.write(`load-runs failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
