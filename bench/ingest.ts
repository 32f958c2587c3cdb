/**
 * `npm run bench` — ingestion and read-path figures for duplistatus (a command that prints numbers, not a test).
 *
 *   1. bare Koa + koa-body JSON echo server: req/s at concurrency 16 for the realistic report body (the ceiling);
 *   2. the real server (child process, started as `npm start` starts it: the compiled dist/ build with the `start`
 *      script's node flags, built first by the `prestart` script when stale; see lib/server-command.ts):
 *      ≥ 20,000 distinct realistic uploads at concurrency 16 → uploads/s, latency, non-2xx, and ingestion as a
 *      percentage of the echo (which is compiled and started with the same flags too);
 *   2b. the floor (bench/floor-server.ts, before 2 in each pair): the echo plus one durable INSERT per report into
 *      the original's backups table and nothing else, in three ways (a transaction per upload; a group commit per
 *      event-loop turn; group commits on a writer thread, as the server does), over the same uploads: what storing
 *      a report alone leaves of the echo's rate on this machine;
 *   3. a bulk load of 1,000,000 runs over 10,000 jobs (2,500 servers × 4 jobs × 100 daily runs, ending now) through
 *      IngestService.ingestBatch, in a loader process of its own; a small database of the same 10,000 jobs with one
 *      run each is loaded the same way for comparison;
 *   4. GET /api/summary, /api/lastbackups/:id, /api/lastbackup/:id at concurrency 16 and 1 on the small database and
 *      at 1M runs (same jobs, so any difference is the number of runs), plus EXPLAIN QUERY PLAN of the SQL those
 *      endpoints run, captured from the reporting service itself;
 *   5. the peak RSS (VmHWM) of every server process;
 *   6. a final table, also written to bench/results/latest.json.
 *
 * Steps 1, 2b and 2 run as interleaved pairs (three in the full run, one with --quick, --pairs=N to choose) and report
 * the median pair: the ratio of two runs taken a minute apart would carry this VM's drift.
 *
 * Flags: --quick (smoke run: 2,000 uploads, 50,000 runs, 3 s measurements), --keep-data (keep the temp folder),
 * --no-floor (leave out 2b), --ingest-only (steps 1, 2b and 2 at their full size and the ratio, nothing written to
 * bench/results: for trying out a change to the upload path; the machine's noise calls for several such runs before
 * and after).
 * The load generator (autocannon, this process) and the server share the machine's cores; every measurement also
 * reports the CPU other processes used meanwhile, since that skews the figures.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import type { LoadArgs, LoadResult, PlanStatement } from "./load-runs";
import { cpuWindow } from "./lib/cpu";
import { REPO_ROOT, UploadBodyTemplate, loadFixture, recentBase, serverId } from "./lib/reports";
import { compiledHelperArgs, serverArgs } from "./lib/server-command";
import { freePort } from "./lib/free-port";

// ---------------------------------------------------------------------------------------------------------------
// Settings

const argv = new Set(process.argv.slice(2));
const QUICK = argv.has("--quick");
const KEEP = argv.has("--keep-data");
const INGEST_ONLY = argv.has("--ingest-only");
/** `--no-floor`: the pairs leave out the floor server (see stepFloor). */
const FLOOR = !argv.has("--no-floor");
const FLOOR_MODES = ["autocommit", "group", "thread"] as const;
type FloorMode = (typeof FLOOR_MODES)[number];
/** `--pairs=N`: how many times the echo and the ingestion steps run, one after the other (see main). */
const PAIRS_ARG = [...argv].find((a) => a.startsWith("--pairs="));

const S = QUICK
  ? {
      mode: "quick",
      echoWarmupS: 1,
      echoS: 3,
      uploadWarmup: 200,
      uploads: 2_000,
      uploadServers: 500,
      uploadJobs: 4,
      loadServers: 500,
      loadJobs: 4,
      loadRuns: 25,
      batchSize: 2_500,
      readWarmupS: 1,
      readS: 3,
    }
  : {
      mode: "full",
      echoWarmupS: 3,
      echoS: 10,
      uploadWarmup: 2_000,
      uploads: 20_000,
      uploadServers: 500,
      uploadJobs: 4,
      loadServers: 2_500,
      loadJobs: 4,
      loadRuns: 100,
      batchSize: 5_000,
      readWarmupS: 1,
      readS: 10,
    };
/**
 * The echo and the ingestion steps run as this many interleaved pairs (echo, ingestion, echo, ingestion, …) and the
 * figures are the median pair's: this VM's speed drifts by 10–30 % within minutes, and a ratio of two runs taken
 * a minute apart inherits the drift; over pairs, one slow stretch moves one pair, not the figure.
 */
const PAIRS = PAIRS_ARG !== undefined ? Math.max(1, Number(PAIRS_ARG.slice("--pairs=".length)) || 1) : QUICK ? 1 : 3;

const CONNECTIONS = 16;
/** Other processes using more than this many cores during a measurement get the figure flagged. */
const OTHER_LOAD_WARN = 0.15;
const TARGETS = { ingestPctOfEcho: 50, readP99Ms: 5, peakRssMb: 200 };

// ---------------------------------------------------------------------------------------------------------------
// Child processes and temp folders, cleaned up on every way out

const children = new Set<ChildProcess>();
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "duplistatus-bench-"));
let cleanedUp = false;

function cleanupSync(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  if (KEEP) process.stderr.write(`data kept in ${tmpRoot}\n`);
  else fs.rmSync(tmpRoot, { recursive: true, force: true });
}
process.on("exit", cleanupSync);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping child processes and removing ${tmpRoot}\n`);
    cleanupSync();
    process.exit(130);
  });
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Children get a minimal environment plus their own settings: nothing from the caller's shell (UPLOAD_TOKEN,
 * REQUIRE_API_KEYS, DATABASE_URL, …) can change what is measured.
 */
const BASE_ENV: Record<string, string> = Object.fromEntries(
  ["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ"].flatMap((k) =>
    process.env[k] === undefined ? [] : [[k, process.env[k]!]],
  ),
);

/** A node child process; `nodeArgs` are node's arguments (flags, script, script arguments). */
function nodeChild(name: string, nodeArgs: string[], env: Record<string, string>, stdio: "log" | "inherit") {
  const logFile = path.join(tmpRoot, `${name}.log`);
  const out = stdio === "log" ? fs.openSync(logFile, "a") : "inherit";
  const child = spawn(process.execPath, nodeArgs, {
    cwd: REPO_ROOT,
    env: { ...BASE_ENV, ...env },
    stdio: ["ignore", out, out],
  });
  if (typeof out === "number") fs.closeSync(out);
  children.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      children.delete(child);
      resolve(code);
    });
  });
  return { child, exited, logFile };
}

interface RunningServer {
  name: string;
  url: string;
  pid: number;
  logFile: string;
  /** Memory once ready, before any load: start-up alone (module loading, first-start bootstrap). */
  startMemory: Memory;
  stop(): Promise<void>;
}

async function startHttpChild(
  name: string,
  nodeArgs: string[],
  env: Record<string, string>,
  readyPath: string,
): Promise<RunningServer> {
  const port = await freePort();
  const { child, exited, logFile } = nodeChild(
    name,
    nodeArgs,
    { ...env, PORT: String(port), HOST: "127.0.0.1" },
    "log",
  );
  const url = `http://127.0.0.1:${port}`;
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (dead) throw new Error(`${name} exited during start-up:\n${tail(logFile)}`);
    try {
      const res = await fetch(url + readyPath);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not become ready:\n${tail(logFile)}`);
    await sleep(50);
  }
  return {
    name,
    url,
    pid: child.pid as number,
    logFile,
    startMemory: memoryOf(child.pid as number),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** The server's warn/error/fatal log lines (pino JSON, level ≥ 40); start-up banners and the like are skipped. */
function serverProblems(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text.split("\n").filter((line) => {
    try {
      return (JSON.parse(line) as { level?: number }).level! >= 40;
    } catch {
      return false;
    }
  });
}

function reportServerLog(server: RunningServer): number {
  const lines = serverProblems(server.logFile);
  if (lines.length > 0) {
    log(`    ${server.name}: ${lines.length} warning/error log line(s), last ones:`);
    for (const line of lines.slice(-3)) log(`      ${line.length > 300 ? `${line.slice(0, 297)}...` : line}`);
  }
  return lines.length;
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Memory {
  peakRssMb: number;
  rssMb: number;
}

/** Peak resident set (VmHWM) and current RSS of a process, in MB. */
function memoryOf(pid: number): Memory {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { peakRssMb: kb("VmHWM") / 1024, rssMb: kb("VmRSS") / 1024 };
}

// ---------------------------------------------------------------------------------------------------------------
// Load generation

interface Figures {
  label: string;
  connections: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  statusCodes: Record<string, number>;
  /** CPU during the run, in cores: the server, the load generator (this process), everything else. */
  cpu: { server: number; serverEventLoop: number; loadgen: number; other: number };
}

/**
 * One autocannon run. Latencies are taken from its `response` events (float milliseconds) rather than from its
 * histogram, which keeps whole milliseconds only, too coarse for sub-millisecond reads. Throughput = 2xx / wall time.
 * A run of a fixed number of requests (`amount`) ends at its last response: autocannon itself only notices that it is
 * done on its next one-second tick, which counted up to a second of idle time into the ingestion figure.
 */
async function cannon(label: string, serverPid: number, options: autocannon.Options): Promise<Figures> {
  let lat = new Float64Array(1 << 16);
  let n = 0;
  let ok = 0;
  const statusCodes: Record<string, number> = {};
  const window = cpuWindow([serverPid, process.pid]);
  const started = performance.now();
  let ended = 0;
  let cpu: ReturnType<typeof window.end> | undefined;
  const instance = autocannon({ timeout: 30, ...options });
  instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    statusCodes[status] = (statusCodes[status] ?? 0) + 1;
    if (status >= 200 && status < 300) ok++;
    if (n === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[n++] = ms;
    if (n === options.amount) {
      ended = performance.now();
      cpu = window.end();
    }
  });
  const result = await instance;
  if (!cpu) {
    ended = performance.now();
    cpu = window.end();
  }
  const seconds = (ended - started) / 1000;
  const sorted = lat.subarray(0, n).sort();
  const pct = (q: number) => (n === 0 ? NaN : (sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] as number));
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] as number;
  return {
    label,
    connections: options.connections ?? 10,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    rps: ok / seconds,
    p50: pct(0.5),
    p90: pct(0.9),
    p99: pct(0.99),
    max: n ? (sorted[n - 1] as number) : NaN,
    mean: n ? sum / n : NaN,
    statusCodes,
    cpu: {
      server: cpu.perPid[serverPid] ?? NaN,
      serverEventLoop: cpu.perPidMainThread[serverPid] ?? NaN,
      loadgen: cpu.perPid[process.pid] ?? NaN,
      other: cpu.otherCores,
    },
  };
}

/**
 * The server's CPU time per answered request, in µs: less sensitive to other load on the machine than req/s (the
 * load generator shares the cores), so the echo and the upload compare by it too.
 */
function cpuPerRequestUs(f: Figures): number {
  return f.ok > 0 ? (f.cpu.server * f.seconds * 1e6) / f.ok : NaN;
}

/** The part of cpuPerRequestUs spent on the server's event loop (the rest: its worker threads, e.g. the ingest writer). */
function eventLoopCpuPerRequestUs(f: Figures): number {
  return f.ok > 0 ? (f.cpu.serverEventLoop * f.seconds * 1e6) / f.ok : NaN;
}

function describe(f: Figures): string {
  const bad =
    f.non2xx + f.errors + f.timeouts > 0 ? `  non-2xx ${f.non2xx} errors ${f.errors} timeouts ${f.timeouts}` : "";
  const busy = f.cpu.other > OTHER_LOAD_WARN ? `  ⚠ other processes used ${fmt(f.cpu.other, 2)} cores` : "";
  const cpu = `cpu: server ${fmt(f.cpu.server, 2)} (event loop ${fmt(f.cpu.serverEventLoop, 2)}), autocannon ${fmt(f.cpu.loadgen, 2)}, other ${fmt(f.cpu.other, 2)} cores`;
  return `${f.label}: ${fmt(f.rps, 0)} req/s  p50 ${fmt(f.p50, 2)} ms  p99 ${fmt(f.p99, 2)} ms  (${f.ok} in ${fmt(f.seconds, 1)} s; ${cpu})${bad}${busy}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Steps

const results: Record<string, unknown> = {};
const problems: string[] = [];

async function stepEcho(body: string): Promise<Figures> {
  log(`\n[1] bare Koa JSON echo — ${body.length} B body, c=${CONNECTIONS}, ${S.echoWarmupS} s warm-up + ${S.echoS} s`);
  // Fair comparison: the echo is compiled JavaScript too (same compiler options as the server) and runs with the
  // node flags of the `start` script, like the server it is compared with.
  const echo = await startHttpChild(
    "echo",
    compiledHelperArgs("bench/echo-server.ts"),
    { NODE_ENV: "production" },
    "/",
  );
  try {
    const opts = {
      url: `${echo.url}/api/upload`,
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      connections: CONNECTIONS,
    };
    await cannon("echo warm-up", echo.pid, { ...opts, duration: S.echoWarmupS });
    const f = await cannon("echo", echo.pid, { ...opts, duration: S.echoS });
    log(`    ${describe(f)}`);
    if (f.non2xx + f.errors > 0) problems.push("echo answered non-2xx or errors");
    return f;
  } finally {
    await echo.stop();
  }
}

function serverEnv(dataDir: string): Record<string, string> {
  // UPLOAD_RATE_LIMIT=0: every request comes from 127.0.0.1; the per-client limiter is not what is measured.
  return { NODE_ENV: "production", LOG_LEVEL: "warn", DATA_DIR: dataDir, UPLOAD_RATE_LIMIT: "0" };
}

interface IngestStep {
  warmup: Figures;
  ingest: Figures;
  memory: Memory;
  startMemory: Memory;
  runsStored: number;
}

/**
 * The upload load: `S.uploadWarmup` then `S.uploads` distinct realistic reports at c=CONNECTIONS against `url`. The
 * bodies are made before the runs: building a 7.6 KB body per request in the load generator cost ~10 µs of its CPU
 * each, on the cores the server needs (the echo sends one body, built once). autocannon may ask for a few more bodies
 * than it sends (one prepared per connection): those are made on the spot.
 */
async function uploadLoad(
  url: string,
  pid: number,
  template: UploadBodyTemplate,
  baseMs: number,
): Promise<{ warmup: Figures; ingest: Figures }> {
  let next = 0; // global report counter: every request body is a different (server, job, begin time)
  const makeBody = (i: number) => Buffer.from(template.body(i, S.uploadServers, S.uploadJobs, baseMs));
  const bodies = Array.from({ length: S.uploadWarmup + S.uploads }, (_, i) => makeBody(i));
  const bodyFor = (i: number) => bodies[i] ?? makeBody(i);
  const uploadOpts = (amount: number): autocannon.Options => ({
    url: `${url}/api/upload`,
    connections: CONNECTIONS,
    amount,
    requests: [
      {
        method: "POST",
        path: "/api/upload",
        headers: { "content-type": "application/json" },
        setupRequest: (req) => {
          req.body = bodyFor(next++);
          return req;
        },
      },
    ],
  });
  const warmup = await cannon("ingest warm-up", pid, uploadOpts(S.uploadWarmup));
  const ingest = await cannon("ingest", pid, uploadOpts(S.uploads));
  return { warmup, ingest };
}

/** `pair`: which echo/ingestion pair this is (each ingests into a fresh database of its own). */
async function stepIngest(template: UploadBodyTemplate, baseMs: number, pair: number): Promise<IngestStep> {
  const dataDir = path.join(tmpRoot, `ingest-data-${pair}`);
  log(
    `\n[2] real server: ${S.uploadWarmup.toLocaleString("en")} warm-up + ${S.uploads.toLocaleString("en")} measured distinct uploads, c=${CONNECTIONS}, ${S.uploadServers} servers × ${S.uploadJobs} jobs`,
  );
  const server = await startHttpChild("ingest-server", serverArgs(), serverEnv(dataDir), "/api/health");
  try {
    const { warmup, ingest } = await uploadLoad(server.url, server.pid, template, baseMs);
    log(`    ${describe(ingest)}`);
    const summary = (await (await fetch(`${server.url}/api/summary`)).json()) as { totalBackupsRuns: number };
    const memory = memoryOf(server.pid);
    log(
      `    runs stored: ${summary.totalBackupsRuns.toLocaleString("en")}; server peak RSS ${fmt(memory.peakRssMb, 1)} MB (${fmt(server.startMemory.peakRssMb, 1)} MB after start-up)`,
    );
    if (ingest.non2xx + ingest.errors + warmup.non2xx + warmup.errors > 0) {
      problems.push(
        `ingestion answered non-2xx/errors: ${JSON.stringify({ ...warmup.statusCodes, ...ingest.statusCodes })}`,
      );
    }
    const expected = warmup.ok + ingest.ok;
    if (summary.totalBackupsRuns !== expected)
      problems.push(`stored ${summary.totalBackupsRuns} runs, expected ${expected}`);
    return { warmup, ingest, memory, startMemory: server.startMemory, runsStored: summary.totalBackupsRuns };
  } finally {
    await server.stop();
    reportServerLog(server);
  }
}

/**
 * The floor (bench/floor-server.ts): the echo plus one durable INSERT per report into the original's `backups` table,
 * nothing else; `mode` "autocommit" (a transaction per upload), "group" (one COMMIT per event-loop turn) or "thread"
 * (group commits on a writer thread). An ingestion that stores more per report (validation, server and job rows,
 * audit, roll-ups, events) costs at least this much: the floor bounds what it can reach on this machine.
 */
async function stepFloor(
  template: UploadBodyTemplate,
  baseMs: number,
  pair: number,
  mode: FloorMode,
): Promise<Figures> {
  const dataDir = path.join(tmpRoot, `floor-data-${mode}-${pair}`);
  log(`\n[2b] floor (${mode}): bare Koa + koa-body + one INSERT per report, the same uploads`);
  const floor = await startHttpChild(
    `floor-${mode}`,
    compiledHelperArgs("bench/floor-server.ts"),
    { NODE_ENV: "production", DATA_DIR: dataDir, FLOOR_MODE: mode },
    "/",
  );
  try {
    const { warmup, ingest } = await uploadLoad(floor.url, floor.pid, template, baseMs);
    log(`    ${describe(ingest)}`);
    if (ingest.non2xx + ingest.errors + warmup.non2xx + warmup.errors > 0) {
      problems.push(`floor (${mode}) answered non-2xx/errors: ${JSON.stringify(ingest.statusCodes)}`);
    }
    return ingest;
  } finally {
    await floor.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function runLoader(args: Omit<LoadArgs, "out">): Promise<LoadResult> {
  const out = path.join(tmpRoot, `load-${args.fromRun}-${args.toRun}.json`);
  const { exited } = nodeChild(
    "loader",
    ["--import", "tsx", "bench/load-runs.ts", JSON.stringify({ ...args, out })],
    {},
    "inherit",
  );
  const code = await exited;
  if (code !== 0) throw new Error(`loader exited with ${code}`);
  return JSON.parse(fs.readFileSync(out, "utf8")) as LoadResult;
}

interface ReadFigures {
  runs: number;
  jobs: number;
  figures: Record<string, Figures>;
  memory: Memory;
  startMemory: Memory;
}

async function stepReads(label: string, dataDir: string, servers: number): Promise<ReadFigures> {
  log(`\n[4] reads on the ${label} database: c=${CONNECTIONS} and c=1, ${S.readS} s each`);
  const server = await startHttpChild(`read-server-${label}`, serverArgs(), serverEnv(dataDir), "/api/health");
  try {
    const summary = (await (await fetch(`${server.url}/api/summary`)).json()) as {
      totalBackupsRuns: number;
      totalBackupJobs: number;
    };
    const ids = Array.from({ length: servers }, (_, s) => serverId(s));
    const rotating = (prefix: string): autocannon.Request[] => {
      let i = 0;
      return [{ method: "GET", setupRequest: (req) => ((req.path = `${prefix}${ids[i++ % ids.length]}`), req) }];
    };
    const endpoints: Array<[string, () => Partial<autocannon.Options>]> = [
      ["summary", () => ({ requests: [{ method: "GET", path: "/api/summary" }] })],
      ["lastbackups", () => ({ requests: rotating("/api/lastbackups/") })],
      ["lastbackup", () => ({ requests: rotating("/api/lastbackup/") })],
    ];
    // One short mixed warm-up so the first measured endpoint does not pay for JIT and a cold page cache.
    for (const [name, make] of endpoints) {
      await cannon(`${name} warm-up`, server.pid, {
        url: server.url,
        connections: CONNECTIONS,
        duration: S.readWarmupS,
        ...make(),
      });
    }
    const figures: Record<string, Figures> = {};
    for (const c of [CONNECTIONS, 1]) {
      for (const [name, make] of endpoints) {
        const f = await cannon(`${name} c=${c}`, server.pid, {
          url: server.url,
          connections: c,
          duration: S.readS,
          ...make(),
        });
        figures[`${name} c=${c}`] = f;
        log(`    ${describe(f)}`);
        if (f.non2xx + f.errors > 0)
          problems.push(`${label} ${name} c=${c}: non-2xx/errors ${JSON.stringify(f.statusCodes)}`);
      }
    }
    const memory = memoryOf(server.pid);
    log(
      `    server peak RSS ${fmt(memory.peakRssMb, 1)} MB (${fmt(server.startMemory.peakRssMb, 1)} MB after start-up)`,
    );
    return {
      runs: summary.totalBackupsRuns,
      jobs: summary.totalBackupJobs,
      figures,
      memory,
      startMemory: server.startMemory,
    };
  } finally {
    await server.stop();
    reportServerLog(server);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Output

function fmt(v: number, digits: number): string {
  return Number.isFinite(v)
    ? v.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "–";
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "))
    .join("\n");
}

function mark(ok: boolean): string {
  return ok ? "ok" : "MISS";
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = performance.now();
  const loadAtStart = os.loadavg();
  log(
    `duplistatus benchmark (${S.mode}) — ${os.cpus().length} CPUs, Node ${process.version}, load average ${loadAtStart.map((l) => l.toFixed(2)).join(" ")}, temp ${tmpRoot}`,
  );
  const fixtureBody = JSON.stringify(loadFixture());
  const template = new UploadBodyTemplate();
  const serverCommand = ["node", ...serverArgs()]; // builds dist/ first when stale (the `prestart` script)
  log(`server command (as \`npm start\`): ${serverCommand.join(" ")}`);

  // 1 + 2, as PAIRS interleaved pairs; the figures are the median pair's (by ratio).
  const ingestBase = recentBase(Math.ceil((S.uploadWarmup + S.uploads) / (S.uploadServers * S.uploadJobs)));
  const pairs: Array<{ echo: Figures; ing: IngestStep; pct: number; floor: Partial<Record<FloorMode, Figures>> }> = [];
  for (let k = 0; k < PAIRS; k++) {
    if (PAIRS > 1) log(`\n--- echo / ingestion pair ${k + 1} of ${PAIRS}`);
    const pairEcho = await stepEcho(fixtureBody);
    const floor: Partial<Record<FloorMode, Figures>> = {};
    for (const mode of FLOOR ? FLOOR_MODES : []) {
      const f = (floor[mode] = await stepFloor(template, ingestBase, k, mode));
      log(`    floor (${mode}) = ${fmt((f.rps / pairEcho.rps) * 100, 1)} % of echo`);
    }
    const pairIng = await stepIngest(template, ingestBase, k);
    const pairPct = (pairIng.ingest.rps / pairEcho.rps) * 100;
    log(`    ingestion = ${fmt(pairPct, 1)} % of echo`);
    pairs.push({ echo: pairEcho, ing: pairIng, pct: pairPct, floor });
  }
  const { echo, ing, pct, floor } = [...pairs].sort((a, b) => a.pct - b.pct)[Math.floor((pairs.length - 1) / 2)]!;
  const floorPct = (mode: FloorMode, p: { echo: Figures; floor: Partial<Record<FloorMode, Figures>> }) => {
    const f = p.floor[mode];
    return f === undefined ? undefined : (f.rps / p.echo.rps) * 100;
  };
  const ingestPeakRssMb = Math.max(...pairs.map((p) => p.ing.memory.peakRssMb));
  if (PAIRS > 1) {
    log(
      `\n    ingestion over ${PAIRS} pairs: ${pairs.map((p) => fmt(p.pct, 1)).join(" / ")} % of echo; the median pair: ${fmt(pct, 1)} %`,
    );
    for (const mode of FLOOR ? FLOOR_MODES : []) {
      log(
        `    floor (${mode}) over ${PAIRS} pairs: ${pairs.map((p) => fmt(floorPct(mode, p) ?? NaN, 1)).join(" / ")} %`,
      );
    }
  }
  if (INGEST_ONLY) {
    log(
      `    server CPU per upload ${fmt(cpuPerRequestUs(ing.ingest), 0)} µs (event loop ${fmt(eventLoopCpuPerRequestUs(ing.ingest), 0)}), per echo request ${fmt(cpuPerRequestUs(echo), 0)} µs`,
    );
    if (problems.length > 0) {
      log(`problems: ${problems.join("; ")}`);
      process.exitCode = 1;
    }
    return;
  }

  // 3 + 4: the small database (the same 10,000 jobs, one run each) for comparison, then the 1M-run database. Both
  // fleets end now, so no job is overdue (see recentBase).
  // The loader is a bulk import in its own process: a 512 MB page cache holds the indexes of 1M runs (random inserts
  // into the id and (server, job, date) indexes). The server runs with its default cache.
  const fleet = { servers: S.loadServers, jobs: S.loadJobs, batchSize: S.batchSize, cacheMb: 512 };
  const jobs = S.loadServers * S.loadJobs;
  const smallDir = path.join(tmpRoot, "small-data");
  log(`\n[3a] small database: ${jobs.toLocaleString("en")} jobs × 1 run, loaded the same way`);
  const loadSmall = await runLoader({
    ...fleet,
    dataDir: smallDir,
    fromRun: 0,
    toRun: 1,
    baseMs: recentBase(1),
    explain: false,
  });
  log(
    `    ${loadSmall.runs.toLocaleString("en")} runs in ${fmt(loadSmall.seconds, 1)} s (${fmt(loadSmall.runsPerSecond, 0)} runs/s)`,
  );
  const small = await stepReads("small", smallDir, S.loadServers);
  fs.rmSync(smallDir, { recursive: true, force: true });

  const loadDir = path.join(tmpRoot, "bulk-data");
  const totalRuns = jobs * S.loadRuns;
  log(
    `\n[3] bulk load via IngestService.ingestBatch (${S.batchSize.toLocaleString("en")} reports per call): ${S.loadServers.toLocaleString("en")} servers × ${S.loadJobs} jobs × ${S.loadRuns} runs = ${totalRuns.toLocaleString("en")} runs, day by day`,
  );
  const load = await runLoader({
    ...fleet,
    dataDir: loadDir,
    fromRun: 0,
    toRun: S.loadRuns,
    baseMs: recentBase(S.loadRuns),
    explain: true,
  });
  const loadRuns = load.runs;
  const loadSeconds = load.seconds;
  log(
    `    ${loadRuns.toLocaleString("en")} runs in ${fmt(loadSeconds, 1)} s (${fmt(load.runsPerSecond, 0)} runs/s); database ${fmt(load.dbBytes / 1048576, 0)} MB`,
  );
  if (loadSmall.duplicates + load.duplicates > 0) {
    problems.push(`bulk load hit ${loadSmall.duplicates + load.duplicates} duplicates`);
  }

  log(`\nEXPLAIN QUERY PLAN (the SQL the reporting service runs, captured at ${loadRuns.toLocaleString("en")} runs):`);
  for (const [endpoint, statements] of Object.entries(load.plans ?? {})) {
    log(`  ${endpoint}`);
    for (const st of statements as PlanStatement[]) {
      log(`    ${st.sql.length > 150 ? `${st.sql.slice(0, 147)}...` : st.sql}`);
      for (const line of st.plan) log(`      ${line}`);
    }
  }
  const scans = load.scansOfBackups ?? [];
  log(scans.length === 0 ? "  → no SCAN of backups in any plan" : `  → SCANS OF backups: ${scans.join("; ")}`);
  if (scans.length > 0) problems.push("a read plan scans backups");

  const large = await stepReads("1M", loadDir, S.loadServers);
  const totalSeconds = (performance.now() - t0) / 1000;

  // 6: the figures
  const readRows: string[][] = [
    [
      "reads (req/s | p50 ms | p99 ms)",
      `small: ${small.runs.toLocaleString("en")} runs`,
      "",
      "",
      `large: ${large.runs.toLocaleString("en")} runs`,
      "",
      "",
      `p99<${TARGETS.readP99Ms}ms`,
    ],
  ];
  for (const key of Object.keys(large.figures)) {
    const a = small.figures[key]!;
    const b = large.figures[key]!;
    readRows.push([
      `  ${key}`,
      fmt(a.rps, 0),
      fmt(a.p50, 2),
      fmt(a.p99, 2),
      fmt(b.rps, 0),
      fmt(b.p50, 2),
      fmt(b.p99, 2),
      mark(b.p99 < TARGETS.readP99Ms),
    ]);
  }
  const maxPeak = Math.max(ingestPeakRssMb, small.memory.peakRssMb, large.memory.peakRssMb);
  const measured = [echo, ing.ingest, ...Object.values(small.figures), ...Object.values(large.figures)];
  const otherAvg =
    measured.reduce((sum, f) => sum + f.cpu.other * f.seconds, 0) / measured.reduce((sum, f) => sum + f.seconds, 0);
  const otherMax = Math.max(...measured.map((f) => f.cpu.other));
  const mainRows: string[][] = [
    ["figure", "value", "p50 ms", "p99 ms", "target"],
    [
      `echo (bare Koa + koa-body), c=${CONNECTIONS}`,
      `${fmt(echo.rps, 0)} req/s`,
      fmt(echo.p50, 2),
      fmt(echo.p99, 2),
      "",
    ],
    [
      `ingest ${ing.ingest.ok.toLocaleString("en")} distinct uploads, c=${CONNECTIONS}`,
      `${fmt(ing.ingest.rps, 0)} uploads/s`,
      fmt(ing.ingest.p50, 2),
      fmt(ing.ingest.p99, 2),
      "",
    ],
    [
      `  ingest as % of echo`,
      `${fmt(pct, 1)} %`,
      "",
      "",
      `≥${TARGETS.ingestPctOfEcho}% ${mark(pct >= TARGETS.ingestPctOfEcho)}`,
    ],
    ...FLOOR_MODES.flatMap((mode) => {
      const f = floor[mode];
      if (f === undefined) return [];
      const label = {
        autocommit: "a transaction per upload",
        group: "one COMMIT per event-loop turn",
        thread: "group commits on a writer thread",
      }[mode];
      return [
        [
          `  floor: echo + one INSERT, ${label}`,
          `${fmt(f.rps, 0)} uploads/s, ${fmt(floorPct(mode, { echo, floor })!, 1)} %`,
          fmt(f.p50, 2),
          fmt(f.p99, 2),
          `${fmt(cpuPerRequestUs(f), 0)} µs CPU`,
        ],
      ];
    }),
    [
      `  server CPU per request: echo / upload`,
      `${fmt(cpuPerRequestUs(echo), 0)} / ${fmt(cpuPerRequestUs(ing.ingest), 0)} µs`,
      "",
      "",
      `(${fmt((cpuPerRequestUs(echo) / cpuPerRequestUs(ing.ingest)) * 100, 1)} %)`,
    ],
    [
      `  upload CPU: event loop / other threads`,
      `${fmt(eventLoopCpuPerRequestUs(ing.ingest), 0)} / ${fmt(cpuPerRequestUs(ing.ingest) - eventLoopCpuPerRequestUs(ing.ingest), 0)} µs`,
      "",
      "",
      "",
    ],
    [
      `  non-2xx / errors`,
      `${ing.ingest.non2xx + ing.warmup.non2xx} / ${ing.ingest.errors + ing.warmup.errors}`,
      "",
      "",
      `0 ${mark(ing.ingest.non2xx + ing.warmup.non2xx + ing.ingest.errors === 0)}`,
    ],
    [
      `bulk load ${loadRuns.toLocaleString("en")} runs / ${(S.loadServers * S.loadJobs).toLocaleString("en")} jobs`,
      `${fmt(loadSeconds, 1)} s`,
      "",
      "",
      "",
    ],
    [`  bulk load rate`, `${fmt(loadRuns / loadSeconds, 0)} runs/s`, "", "", ""],
    [
      `peak RSS: ingest / small-DB / 1M-DB server`,
      `${fmt(ingestPeakRssMb, 0)} / ${fmt(small.memory.peakRssMb, 0)} / ${fmt(large.memory.peakRssMb, 0)} MB`,
      "",
      "",
      `<${TARGETS.peakRssMb}MB ${mark(maxPeak < TARGETS.peakRssMb)}`,
    ],
    [
      `  of which reached during start-up`,
      `${fmt(ing.startMemory.peakRssMb, 0)} / ${fmt(small.startMemory.peakRssMb, 0)} / ${fmt(large.startMemory.peakRssMb, 0)} MB`,
      "",
      "",
      "",
    ],
    [`EXPLAIN: scans of backups`, `${scans.length}`, "", "", `0 ${mark(scans.length === 0)}`],
  ];
  const out = [
    "",
    `=== duplistatus benchmark (${S.mode}), ${os.cpus().length} CPUs, Node ${process.version}, commit ${gitCommit()}, ${fmt(totalSeconds, 0)} s, load average ${loadAtStart[0]!.toFixed(2)} → ${os.loadavg()[0]!.toFixed(2)} ===`,
    table(mainRows),
    "",
    table(readRows),
    "",
    `CPU used by other processes during the measurements: ${fmt(otherAvg, 2)} cores on average, ${fmt(otherMax, 2)} at most` +
      (otherMax > OTHER_LOAD_WARN ? " — the machine was not idle, figures are pessimistic" : ""),
  ].join("\n");
  process.stdout.write(`${out}\n`);
  if (problems.length > 0) process.stdout.write(`\nINVALID RUN:\n  ${problems.join("\n  ")}\n`);

  Object.assign(results, {
    when: new Date().toISOString(),
    mode: S.mode,
    settings: S,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      node: process.version,
      commit: gitCommit(),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: os.loadavg(),
    },
    serverCommand,
    totalSeconds,
    echo,
    ingest: {
      ...ing.ingest,
      pctOfEcho: pct,
      cpuPerUploadUs: cpuPerRequestUs(ing.ingest),
      eventLoopCpuPerUploadUs: eventLoopCpuPerRequestUs(ing.ingest),
      echoCpuPerRequestUs: cpuPerRequestUs(echo),
      warmup: ing.warmup,
      runsStored: ing.runsStored,
      memory: { ...ing.memory, peakRssMb: ingestPeakRssMb },
      startMemory: ing.startMemory,
      /** The floor server of the median pair (bench/floor-server.ts), by mode. */
      floor,
      /** Every echo/ingestion pair; the figures above are the median pair's. */
      pairs: pairs.map((p) => ({
        echoRps: p.echo.rps,
        ingestRps: p.ing.ingest.rps,
        pctOfEcho: p.pct,
        echoCpuPerRequestUs: cpuPerRequestUs(p.echo),
        cpuPerUploadUs: cpuPerRequestUs(p.ing.ingest),
        eventLoopCpuPerUploadUs: eventLoopCpuPerRequestUs(p.ing.ingest),
        floorPctOfEcho: Object.fromEntries(FLOOR_MODES.map((m) => [m, floorPct(m, p) ?? null])),
      })),
    },
    smallLoad: loadSmall,
    bulkLoad: {
      runs: loadRuns,
      jobs: S.loadServers * S.loadJobs,
      seconds: loadSeconds,
      runsPerSecond: loadRuns / loadSeconds,
      generateSeconds: load.generateSeconds,
      dbBytes: load.dbBytes,
    },
    reads: { small, large },
    plans: load.plans,
    scansOfBackups: scans,
    otherCpu: { averageCores: otherAvg, maxCores: otherMax },
    targets: TARGETS,
    problems,
  });
  const resultsDir = path.join(REPO_ROOT, "bench", "results");
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
  log(`\nwritten: bench/results/latest.json`);
  if (problems.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
  cleanupSync();
});
