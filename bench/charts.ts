/**
 * `npm run bench:charts` — the chart-data read path over a large history (a command that prints numbers, not a test).
 *
 *   1. loads 1,000,000 runs (10,000 jobs: 2,500 servers × 4 jobs, 100 runs each) spread over the last 365 days,
 *      through IngestService.ingestBatch (validation, mapping, one transaction per batch, roll-ups maintained);
 *   2. times the roll-up maintenance per run on the loaded database (the statements the upload adds, rolled back),
 *      and a full rebuild of the roll-ups from `backups`, checking the rebuild equals what ingestion maintained;
 *   3. prints EXPLAIN QUERY PLAN of the exact SQL each measured endpoint runs;
 *   4. measures with autocannon, at concurrency 1 and 8, with a read API token (as Grafana calls it):
 *      aggregated?period=1y&granularity=day&metric=all and server/:id?period=1y&granularity=day&metric=all (the
 *      targets: p95 < 50 ms), plus the job scope, the aggregated scope by the hour over 30 days and a range that
 *      ends in the past;
 *   5. times the aggregated answer without ChartService's cache (in process), since the HTTP runs mostly hit it;
 *   6. prints a table and writes bench/results/charts.json.
 *
 * Flags: --quick (50,000 runs over 2,500 jobs, 3 s measurements), --keep-data (keep the temp folder),
 * --data-dir <dir> (use and keep that folder; when it already holds this benchmark's runs they are not loaded again,
 * and the run times are relative to the load's day).
 * The loading runs in this process; the HTTP measurements go to the server in a child process, started as `npm start`
 * starts it (the compiled dist/ build, see lib/server-command.ts); autocannon shares the machine's cores with it, not
 * its event loop. Besides latencies, the table gives the server's CPU time per request, which other work on the
 * machine inflates far less than wall-clock latencies.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { type Duplistatus, createDuplistatus } from "../server/src/app";
import { ChartService } from "../server/src/charts/chart-service";
import { type RollupRun, addRunToChartRollups, rebuildChartRollups } from "../server/src/charts/rollups";
import { loadConfig } from "../server/src/config";
import { systemClock } from "../server/src/core/clock";
import type { Queryable } from "../server/src/db/database";
import { TokenService } from "../server/src/tokens/token-service";
import { serverArgs } from "./lib/server-command";
import { freePort } from "./lib/free-port";

const args = process.argv.slice(2);
const argv = new Set(args);
const QUICK = argv.has("--quick");
/** --data-dir <dir>: use (and keep) this folder; a database already loaded there by this benchmark is reused. */
const DATA_DIR_ARG = args.includes("--data-dir") ? args[args.indexOf("--data-dir") + 1] : undefined;
const KEEP = argv.has("--keep-data") || DATA_DIR_ARG !== undefined;

const S = QUICK
  ? { mode: "quick", servers: 625, jobsPerServer: 4, runsPerJob: 20, batchSize: 2_500, warmupS: 1, measureS: 3 }
  : { mode: "full", servers: 2_500, jobsPerServer: 4, runsPerJob: 100, batchSize: 5_000, warmupS: 2, measureS: 10 };
const TARGET_P95_MS = 50;
const DAY_MS = 86_400_000;
const SPAN_MS = 365 * DAY_MS;
const JOB_NAMES = ["Documents", "Photos", "System", "Mail"];

const tmpRoot = DATA_DIR_ARG
  ? (fs.mkdirSync(DATA_DIR_ARG, { recursive: true }), path.resolve(DATA_DIR_ARG))
  : fs.mkdtempSync(path.join(os.tmpdir(), "duplistatus-bench-charts-"));
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const log = (line: string) => process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------------------------
// The fleet: server s has jobs 0..3; run k of a job lands in the k-th slice of the last 365 days, at a time of day
// that depends on (s, j), so the runs cover every hour.

const serverId = (s: number) => createHash("md5").update(`charts-bench-${s}`).digest("hex");
const serverName = (s: number) => `chart-host-${String(s).padStart(5, "0")}`;

function hash(...parts: number[]): number {
  let h = 2166136261;
  for (const p of parts) h = Math.imul(h ^ p, 16777619) >>> 0;
  return h;
}

function beginOf(baseMs: number, s: number, j: number, k: number): Date {
  const slice = SPAN_MS / S.runsPerJob;
  return new Date(Math.floor(baseMs + k * slice + (hash(s, j) % Math.floor(slice - 3_600_000))));
}

const pad = (n: number) => String(n).padStart(2, "0");

function report(baseMs: number, s: number, j: number, k: number): Record<string, unknown> {
  const begin = beginOf(baseMs, s, j, k);
  const seconds = 30 + (hash(s, j, k) % 3_600);
  const roll = hash(k, s, j) % 100;
  const result = roll === 0 ? "Error" : roll < 3 ? "Warning" : "Success";
  const files = 5_000 + (hash(s, j) % 200_000) + k * 10;
  const size = files * 250_000 + k * 3_000_000;
  return {
    Data: {
      MainOperation: "Backup",
      ParsedResult: result,
      BeginTime: begin.toISOString(),
      EndTime: new Date(begin.getTime() + seconds * 1000).toISOString(),
      Duration: `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}.2500000`,
      ExaminedFiles: files,
      SizeOfExaminedFiles: size,
      WarningsActualLength: result === "Warning" ? 1 : 0,
      ErrorsActualLength: result === "Error" ? 1 : 0,
      Version: "2.1.0.5 (2.1.0.5_stable_2025-03-04)",
      BackendStatistics: {
        BytesUploaded: 1_000_000 + (hash(s, j, k, 7) % 500_000_000),
        KnownFileSize: Math.floor(size * 0.6),
        BackupListCount: Math.min(k + 1, 40),
      },
    },
    Extra: {
      OperationName: "Backup",
      "machine-id": serverId(s),
      "machine-name": serverName(s),
      "backup-name": JOB_NAMES[j % JOB_NAMES.length] as string,
      "backup-id": `DB-${j + 1}`,
    },
  };
}

async function load(
  app: Duplistatus,
  baseMs: number,
): Promise<{ runs: number; seconds: number; runsPerSecond: number }> {
  const total = S.servers * S.jobsPerServer * S.runsPerJob;
  let stored = 0;
  let batch: unknown[] = [];
  let lastProgress = Date.now();
  const started = performance.now();
  const flush = async () => {
    const r = await app.services.ingest.ingestBatch(batch);
    stored += r.stored;
    batch = [];
    if (Date.now() - lastProgress > 10_000) {
      lastProgress = Date.now();
      const s = (performance.now() - started) / 1000;
      log(`  … ${stored.toLocaleString("en")} / ${total.toLocaleString("en")} runs (${Math.round(stored / s)} runs/s)`);
    }
  };
  // Time order, like a real fleet: slice k for every job, then slice k+1.
  for (let k = 0; k < S.runsPerJob; k++) {
    for (let s = 0; s < S.servers; s++) {
      for (let j = 0; j < S.jobsPerServer; j++) {
        batch.push(report(baseMs, s, j, k));
        if (batch.length >= S.batchSize) await flush();
      }
    }
  }
  if (batch.length > 0) await flush();
  const seconds = (performance.now() - started) / 1000;
  return { runs: stored, seconds: round(seconds), runsPerSecond: Math.round(stored / seconds) };
}

// ---------------------------------------------------------------------------------------------------------------
// Roll-up maintenance cost and rebuild

class Rollback extends Error {}

/** Runs the upload's roll-up statements for `sample` runs of the loaded database, then rolls back. µs per run. */
async function rollupCostPerRun(app: Duplistatus, sampleSize: number): Promise<number> {
  const sample = await app.db.read((q) =>
    q.all<RollupRun>(
      `SELECT server_id, backup_name, date, status, duration_seconds, uploaded_size, size, examined_files,
              known_file_size, backup_list_count
         FROM backups WHERE rowid % 37 = 0 LIMIT ?`,
      [sampleSize],
    ),
  );
  let micros = 0;
  try {
    await app.db.write(async (q) => {
      const t = performance.now();
      for (const run of sample) await addRunToChartRollups(q, run);
      micros = ((performance.now() - t) * 1000) / sample.length;
      throw new Rollback();
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  return round(micros, 1);
}

async function rebuild(app: Duplistatus): Promise<{ seconds: number; rows: number; identical: boolean }> {
  const snapshot = (q: Queryable) => q.all(`SELECT * FROM chart_rollups ORDER BY granularity, bucket_start`);
  const before = await app.db.read(snapshot);
  const t = performance.now();
  const rows = await app.db.write((q) => rebuildChartRollups(q, app.db.dialect));
  const seconds = (performance.now() - t) / 1000;
  const after = await app.db.read(snapshot);
  return { seconds: round(seconds), rows, identical: JSON.stringify(before) === JSON.stringify(after) };
}

// ---------------------------------------------------------------------------------------------------------------
// Query plans of the exact SQL the endpoints run

interface PlanStatement {
  sql: string;
  plan: string[];
}

async function explain(app: Duplistatus, calls: Record<string, (c: ChartService) => Promise<unknown>>) {
  const db = app.db;
  const originalRead = db.read.bind(db);
  let recorded: Array<{ sql: string; params: readonly unknown[] }> = [];
  const recording = (q: Queryable): Queryable => ({
    all: (sql, params = []) => (recorded.push({ sql, params }), q.all(sql, params)),
    get: (sql, params = []) => (recorded.push({ sql, params }), q.get(sql, params)),
    run: (sql, params = []) => (recorded.push({ sql, params }), q.run(sql, params)),
  });
  (db as { read: typeof db.read }).read = (work) => originalRead((q) => work(recording(q)));
  const charts = new ChartService({ db, clock: systemClock });
  const plans: Record<string, PlanStatement[]> = {};
  try {
    for (const [name, call] of Object.entries(calls)) {
      recorded = [];
      await call(charts);
      plans[name] = [];
      for (const st of recorded) {
        const rows = await originalRead((q) =>
          q.all<{ id: number; parent: number; detail: string }>(`EXPLAIN QUERY PLAN ${st.sql}`, st.params),
        );
        const depth = new Map<number, number>([[0, -1]]);
        const plan = rows.map((r) => {
          const d = (depth.get(r.parent) ?? -1) + 1;
          depth.set(r.id, d);
          return `${"  ".repeat(d)}${r.detail}`;
        });
        plans[name].push({ sql: st.sql.replace(/\s+/g, " ").trim(), plan });
      }
    }
  } finally {
    (db as { read: typeof db.read }).read = originalRead;
  }
  return plans;
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP measurements

interface Measurement {
  label: string;
  connections: number;
  requests: number;
  non2xx: number;
  errors: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  bytes: number;
  /** CPU time of the server process per answered request (user + system): what contention cannot inflate much. */
  serverCpuMsPerRequest?: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);

async function measure(
  url: string,
  label: string,
  pathFor: (i: number) => string,
  connections: number,
  seconds: number,
  headers: Record<string, string>,
): Promise<Measurement> {
  let i = 0;
  const latencies: number[] = [];
  let non2xx = 0;
  let bytes = 0;
  const instance = autocannon({
    url,
    connections,
    duration: seconds,
    headers,
    requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: pathFor(i++) }) }],
  });
  instance.on("response", (...args: unknown[]) => {
    const [, status, resBytes, responseTime] = args as [unknown, number, number, number];
    latencies.push(responseTime);
    bytes = resBytes;
    if (status < 200 || status >= 300) non2xx++;
  });
  const result = await instance;
  latencies.sort((a, b) => a - b);
  return {
    label,
    connections,
    requests: latencies.length,
    non2xx,
    errors: result.errors,
    rps: Math.round(latencies.length / result.duration),
    p50: round(percentile(latencies, 50)),
    p95: round(percentile(latencies, 95)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies[latencies.length - 1] ?? NaN),
    bytes,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The server as a child process

interface ChildServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuMsOf(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks at USER_HZ = 100
  } catch {
    return NaN;
  }
}

/**
 * The server as `npm start` runs it, on the loaded data folder, with a minimal environment (nothing from the caller's
 * shell).
 */
async function startServer(dataDir: string): Promise<ChildServer> {
  const port = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: "127.0.0.1",
  };
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG", "TZ"])
    if (process.env[k] !== undefined) env[k] = process.env[k] as string;
  const logFile = path.join(dataDir, "bench-charts-server.log");
  const out = fs.openSync(logFile, "a");
  const child = spawn(process.execPath, serverArgs(), {
    cwd: path.join(__dirname, ".."),
    env,
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited: ${fs.readFileSync(logFile, "utf8").slice(-2000)}`);
    try {
      const res = await fetch(`${url}/api/health`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("the server did not become ready");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid as number,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const jobs = S.servers * S.jobsPerServer;
  log(
    `bench:charts (${S.mode}): ${(jobs * S.runsPerJob).toLocaleString("en")} runs over ${jobs.toLocaleString("en")} jobs, last 365 days`,
  );
  const config = loadConfig({
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    DATA_DIR: tmpRoot,
    PORT: "0",
    HOST: "127.0.0.1",
    ADMIN_PASSWORD: "Bench-Admin-Passw0rd",
  });
  const app = await createDuplistatus(config);
  let closed = false;
  let httpServer: ChildServer | undefined;
  const loadAverageAtStart = os.loadavg();
  try {
    const expected = jobs * S.runsPerJob;
    const existing = await app.db.read((q) =>
      q.get<{ n: number; last: string | null }>(`SELECT COUNT(*) AS n, MAX(date) AS last FROM backups`),
    );
    const reuse = Number(existing?.n ?? 0) === expected;
    const now = reuse ? Date.parse(String(existing?.last)) + 60_000 : Date.now();
    if (reuse) log(`reusing the ${expected.toLocaleString("en")} runs in ${tmpRoot}`);
    else if (Number(existing?.n ?? 0) > 0) throw new Error(`${tmpRoot} holds other data`);
    const loaded = reuse ? { runs: expected, seconds: 0, runsPerSecond: 0 } : await load(app, now - SPAN_MS);
    log(
      `loaded ${loaded.runs.toLocaleString("en")} runs in ${loaded.seconds} s (${loaded.runsPerSecond} runs/s, roll-ups included)`,
    );
    const rollupMicros = await rollupCostPerRun(app, 20_000);
    log(`roll-up maintenance: ${rollupMicros} µs per uploaded run (1 neighbour lookup + 1 three-row upsert)`);
    const rebuilt = await rebuild(app);
    log(
      `full rebuild: ${rebuilt.rows} roll-up rows in ${rebuilt.seconds} s; equal to the maintained ones: ${rebuilt.identical}`,
    );

    const dbBytes = ["", "-wal"]
      .map((suffix) => config.sqliteFile + suffix)
      .filter((f) => fs.existsSync(f))
      .reduce((sum, f) => sum + fs.statSync(f).size, 0);

    const iso = (ms: number) => new Date(ms).toISOString();
    const pastFrom = iso(now - 300 * DAY_MS);
    const pastTo = iso(now - 100 * DAY_MS);
    const server = (i: number) => serverId((i * 7919) % S.servers);
    const endpoints: Array<{
      label: string;
      path: (i: number) => string;
      call: (c: ChartService) => Promise<unknown>;
      target: boolean;
    }> = [
      {
        label: "aggregated 1y/day/all",
        path: () => "/api/chart-data/aggregated?period=1y&granularity=day&metric=all",
        call: (c) => c.aggregated({ period: "1y", granularity: "day", metric: "all" }),
        target: true,
      },
      {
        label: "server 1y/day/all",
        path: (i) => `/api/chart-data/server/${server(i)}?period=1y&granularity=day&metric=all`,
        call: (c) => c.server(server(1), { period: "1y", granularity: "day", metric: "all" }),
        target: true,
      },
      {
        label: "job 1y/day/all",
        path: (i) => `/api/chart-data/server/${server(i)}/backup/Photos?period=1y&granularity=day&metric=all`,
        call: (c) => c.job(server(1), "Photos", { period: "1y", granularity: "day", metric: "all" }),
        target: false,
      },
      {
        label: "aggregated 30d/hour/all",
        path: () => "/api/chart-data/aggregated?period=30d&granularity=hour&metric=all",
        call: (c) => c.aggregated({ period: "30d", granularity: "hour", metric: "all" }),
        target: false,
      },
      {
        label: "aggregated past 200d/day",
        path: () => `/api/chart-data/aggregated?from=${pastFrom}&to=${pastTo}&granularity=day&metric=all`,
        call: (c) => c.aggregated({ from: pastFrom, to: pastTo, granularity: "day", metric: "all" }),
        target: false,
      },
    ];

    const plans = await explain(app, Object.fromEntries(endpoints.map((e) => [e.label, e.call])));
    log("\nEXPLAIN QUERY PLAN of the SQL each endpoint runs:");
    for (const [name, statements] of Object.entries(plans)) {
      log(`  ${name}`);
      for (const st of statements) {
        log(`    ${st.sql.length > 150 ? `${st.sql.slice(0, 147)}...` : st.sql}`);
        for (const line of st.plan) log(`      ${line}`);
      }
    }
    const fullScans = Object.entries(plans).flatMap(([name, sts]) =>
      sts.flatMap((st) => st.plan.filter((l) => /^\s*SCAN (backups|b|l)\b/.test(l)).map((l) => `${name}: ${l.trim()}`)),
    );
    log(
      fullScans.length === 0
        ? "  no full scan of backups"
        : `  FULL SCANS OF backups:\n    ${fullScans.join("\n    ")}`,
    );

    // The aggregated scope reuses its answers while the database does not change (ChartService's cache), so the
    // HTTP figures below are mostly warm. The cost of a cold answer (roll-up read, the per-job totals and the
    // JSON), measured in process with the cache off:
    const cold = new ChartService({ db: app.db, clock: systemClock, cacheEntries: 0 });
    const coldTimes: number[] = [];
    const coldUntil = performance.now() + S.measureS * 1000;
    while (performance.now() < coldUntil) {
      const t = performance.now();
      JSON.stringify(await cold.aggregated({ period: "1y", granularity: "day", metric: "all" }));
      coldTimes.push(performance.now() - t);
    }
    coldTimes.sort((a, b) => a - b);
    const coldAggregated = {
      calls: coldTimes.length,
      p50: round(percentile(coldTimes, 50)),
      p95: round(percentile(coldTimes, 95)),
      p99: round(percentile(coldTimes, 99)),
    };
    log(
      `aggregated 1y/day/all without the cache, in process, one at a time: p50 ${coldAggregated.p50} ms, p95 ${coldAggregated.p95} ms`,
    );

    const created = await new TokenService({ db: app.db, clock: systemClock, audit: app.context.audit }).create(
      { name: "bench-charts", scope: "read" },
      { username: "bench" },
    );
    await app.close();
    closed = true;

    // The server answers from its own process (as in production), so autocannon does not share its event loop.
    httpServer = await startServer(tmpRoot);
    const url = httpServer.url;
    const headers = { authorization: `Bearer ${created.token}` };
    const sanity = (await (await fetch(`${url}${endpoints[0]?.path(0)}`, { headers })).json()) as {
      data: { metrics: { size: { data: unknown[] } }; summary: { totalBackups: number } };
    };
    log(
      `\naggregated 1y/day: ${sanity.data.metrics.size.data.length} daily points, ${sanity.data.summary.totalBackups.toLocaleString("en")} runs`,
    );

    const results: Measurement[] = [];
    for (const e of endpoints) {
      for (const connections of [1, 8]) {
        await measure(url, `${e.label} (warm-up)`, e.path, connections, S.warmupS, headers);
        const cpuBefore = cpuMsOf(httpServer.pid);
        const m = await measure(url, e.label, e.path, connections, S.measureS, headers);
        m.serverCpuMsPerRequest = round((cpuMsOf(httpServer.pid) - cpuBefore) / Math.max(1, m.requests), 3);
        results.push(m);
        log(
          `  ${e.label} c=${connections}: p50 ${m.p50} ms, p95 ${m.p95} ms, p99 ${m.p99} ms, ${m.rps} req/s, server CPU ${m.serverCpuMsPerRequest} ms/request`,
        );
      }
    }

    const header = [
      "endpoint",
      "conc",
      "req/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "max ms",
      "cpu ms/req",
      "non2xx",
      "target",
    ];
    const rows = results.map((m) => {
      const e = endpoints.find((x) => x.label === m.label);
      const target = e?.target
        ? m.p95 < TARGET_P95_MS
          ? `p95<${TARGET_P95_MS} ok`
          : `p95<${TARGET_P95_MS} MISSED`
        : "";
      return [
        m.label,
        String(m.connections),
        String(m.rps),
        String(m.p50),
        String(m.p95),
        String(m.p99),
        String(m.max),
        String(m.serverCpuMsPerRequest ?? ""),
        String(m.non2xx + m.errors),
        target,
      ];
    });
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
    const line = (cells: string[]) =>
      cells.map((x, c) => (c === 0 ? x.padEnd(widths[c] as number) : x.padStart(widths[c] as number))).join("  ");
    console.log(
      `\nchart-data read path — ${loaded.runs.toLocaleString("en")} runs, ${jobs.toLocaleString("en")} jobs (${S.mode}); load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")} on ${os.cpus().length} CPUs`,
    );
    console.log(line(header));
    for (const r of rows) console.log(line(r));
    console.log(
      `aggregated 1y/day/all without the cache (in process, c=1): p50 ${coldAggregated.p50} ms, p95 ${coldAggregated.p95} ms, p99 ${coldAggregated.p99} ms`,
    );
    console.log(
      `${reuse ? "load: reused (see an earlier run)" : `load ${loaded.runsPerSecond} runs/s`} · roll-up upkeep ${rollupMicros} µs/run · full rebuild ${rebuilt.seconds} s (identical: ${rebuilt.identical}) · database ${round(dbBytes / 2 ** 20, 1)} MiB`,
    );

    const out = {
      when: new Date().toISOString(),
      mode: S.mode,
      settings: S,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        node: process.version,
        loadAverageAtStart,
        loadAverageAtEnd: os.loadavg(),
      },
      load: { ...loaded, jobs, dbBytes, reusedData: reuse },
      rollups: { upkeepMicrosPerRun: rollupMicros, rebuild: rebuilt },
      coldAggregated,
      targets: { p95Ms: TARGET_P95_MS },
      results,
      plans,
      fullScansOfBackups: fullScans,
      totalSeconds: round((performance.now() - started) / 1000),
    };
    const resultsDir = path.join(__dirname, "results");
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, "charts.json"), `${JSON.stringify(out, null, 2)}\n`);
    log(`written bench/results/charts.json (${out.totalSeconds} s)`);
    const missed = results.filter(
      (m) => endpoints.find((e) => e.label === m.label)?.target && !(m.p95 < TARGET_P95_MS),
    );
    if (missed.length > 0 || results.some((m) => m.non2xx + m.errors > 0) || !rebuilt.identical) process.exitCode = 1;
  } finally {
    if (!closed) await app.close();
    await httpServer?.stop();
    if (!KEEP) fs.rmSync(tmpRoot, { recursive: true, force: true });
    else log(`data kept in ${tmpRoot}`);
  }
}

main().catch((err: unknown) => {
  log(`bench:charts failed: ${err instanceof Error ? err.stack : String(err)}`);
  if (!KEEP) fs.rmSync(tmpRoot, { recursive: true, force: true });
  process.exit(1);
});
