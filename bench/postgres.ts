/**
 * `npm run bench:postgres` — the ingestion and summary benchmarks on PostgreSQL, with one and with two server
 * instances on the same database, beside the same figures on SQLite (a command that prints numbers, not a test).
 *
 * For each setup — SQLite × 1, PostgreSQL × 1, PostgreSQL × 2 — on fresh storage:
 *   1. distinct realistic uploads (the LogLines fixture, bench/lib/reports.ts) at a total concurrency of 16, spread
 *      evenly over the instances: uploads/s, p50/p99 latency, non-2xx;
 *   2. GET /api/summary and GET /api/lastbackups/:id on the database just filled, at a total concurrency of 16;
 *   3. the CPU each server process and PostgreSQL used (in cores).
 * The servers run as `npm start` runs them (the compiled dist/ build, see lib/server-command.ts).
 * Then a side-by-side table, also written to bench/results/postgres.json.
 *
 * PostgreSQL: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names a server where the
 * user may CREATE DATABASE; a database is made per setup and dropped after it.
 * Flags: --quick (2,000 uploads, 3 s reads).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { Client } from "pg";
import { cpuWindow } from "./lib/cpu";
import { REPO_ROOT, UploadBodyTemplate, recentBase, serverId } from "./lib/reports";
import { serverArgs } from "./lib/server-command";
import { freePort } from "./lib/free-port";

const QUICK = process.argv.includes("--quick");
const S = QUICK
  ? { warmup: 300, uploads: 2_000, readS: 3, servers: 250, jobs: 4 }
  : { warmup: 1_000, uploads: 10_000, readS: 8, servers: 500, jobs: 4 };
const CONNECTIONS = 16;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const children = new Set<ChildProcess>();
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "duplistatus-bench-pg-"));
const databases = new Set<string>();
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void dropAll().finally(() => process.exit(130));
  });
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–";

async function admin<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

async function createDatabase(): Promise<string> {
  const name = `dsbench_${randomBytes(5).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`));
  databases.add(name);
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function dropAll(): Promise<void> {
  for (const name of [...databases]) {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    databases.delete(name);
  }
}

/** PIDs of the PostgreSQL backends serving a database (their CPU counts as the database's). */
async function backendPids(database: string): Promise<number[]> {
  const rows = await admin((c) => c.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, [database]));
  return rows.rows.map((r: { pid: number }) => r.pid);
}

interface Instance {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startServer(name: string, env: Record<string, string>): Promise<Instance> {
  const port = await freePort();
  const logFile = path.join(tmpRoot, `${name}.log`);
  const out = fs.openSync(logFile, "a");
  const child = spawn(process.execPath, serverArgs(), {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      HOST: "127.0.0.1",
      PORT: String(port),
      UPLOAD_RATE_LIMIT: "0",
      ...env,
    },
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited:\n${fs.readFileSync(logFile, "utf8")}`);
    try {
      const r = await fetch(`${url}/api/ping`);
      await r.arrayBuffer();
      if (r.ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not start:\n${fs.readFileSync(logFile, "utf8")}`);
    await sleep(50);
  }
  return {
    url,
    pid: child.pid as number,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      children.delete(child);
    },
  };
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
  /** Cores used: every server process together, and the database backends (PostgreSQL). */
  cpu: { servers: number; database: number };
}

/**
 * One load, spread over the instances (each gets CONNECTIONS / n connections, all at once); latencies from every
 * response, as float milliseconds.
 */
async function load(
  instances: Instance[],
  dbPids: number[],
  options: (i: number) => Omit<autocannon.Options, "url" | "connections">,
): Promise<Figures> {
  const lat: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const window = cpuWindow([...instances.map((i) => i.pid), ...dbPids]);
  const started = performance.now();
  await Promise.all(
    instances.map(async (inst, i) => {
      const run = autocannon({
        url: inst.url,
        connections: CONNECTIONS / instances.length,
        timeout: 30,
        ...options(i),
      } as autocannon.Options);
      run.on("response", (_c: unknown, status: number, _b: number, ms: number) => {
        if (status >= 200 && status < 300) ok++;
        else non2xx++;
        lat.push(ms);
      });
      const result = await run;
      errors += result.errors + result.timeouts;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = window.end();
  lat.sort((a, b) => a - b);
  const pct = (q: number) => lat[Math.min(lat.length - 1, Math.max(0, Math.ceil(q * lat.length) - 1))] ?? NaN;
  const sum = (pids: number[]) => pids.reduce((n, pid) => n + (cpu.perPid[pid] ?? 0), 0);
  return {
    rps: ok / seconds,
    p50: pct(0.5),
    p99: pct(0.99),
    ok,
    non2xx,
    errors,
    seconds,
    cpu: { servers: sum(instances.map((i) => i.pid)), database: sum(dbPids) },
  };
}

interface SetupResult {
  setup: string;
  ingest: Figures;
  summary: Figures;
  lastbackups: Figures;
  runsStored: number;
}

async function runSetup(setup: string, kind: "sqlite" | "postgres", count: number): Promise<SetupResult> {
  log(`\n== ${setup}`);
  const databaseUrl = kind === "postgres" ? await createDatabase() : undefined;
  const key = randomBytes(32);
  const instances: Instance[] = [];
  try {
    for (let n = 0; n < count; n++) {
      const dataDir = path.join(tmpRoot, `${setup.replace(/\W+/g, "-")}-${n}`);
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(path.join(dataDir, ".duplistatus.key"), key);
      instances.push(
        await startServer(`${setup}-${n}`, {
          DATA_DIR: dataDir,
          ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
        }),
      );
    }
    // Backends of this database (the pools grow during the load; those opened later are counted from then on).
    const dbPids = async () => (databaseUrl ? backendPids(new URL(databaseUrl).pathname.slice(1)) : []);
    const template = new UploadBodyTemplate();
    const baseMs = recentBase(Math.ceil((S.warmup + S.uploads) / (S.servers * S.jobs)) + 1);
    let next = 0;
    const uploads = (amount: number) => () => ({
      amount: Math.floor(amount / instances.length),
      requests: [
        {
          method: "POST" as const,
          path: "/api/upload",
          headers: { "content-type": "application/json" },
          // Every instance draws from one shared counter: every body is a different (server, job, begin time).
          setupRequest: (req: autocannon.Request) => {
            req.body = template.body(next++, S.servers, S.jobs, baseMs);
            return req;
          },
        },
      ],
    });
    await load(instances, await dbPids(), uploads(S.warmup));
    const ingest = await load(instances, await dbPids(), uploads(S.uploads));
    log(
      `   ingest: ${fmt(ingest.rps)} uploads/s  p50 ${fmt(ingest.p50, 2)} ms  p99 ${fmt(ingest.p99, 2)} ms  non-2xx ${ingest.non2xx}`,
    );
    const summaryBody = (await (await fetch(`${instances[0]!.url}/api/summary`)).json()) as {
      totalBackupsRuns: number;
    };
    const reads = (p: string) => () => ({ duration: S.readS, requests: [{ method: "GET" as const, path: p }] });
    await load(instances, await dbPids(), () => ({
      duration: 1,
      requests: [{ method: "GET" as const, path: "/api/summary" }],
    }));
    const summary = await load(instances, await dbPids(), reads("/api/summary"));
    log(`   GET /api/summary: ${fmt(summary.rps)} req/s  p50 ${fmt(summary.p50, 2)} ms  p99 ${fmt(summary.p99, 2)} ms`);
    const lastbackups = await load(instances, await dbPids(), reads(`/api/lastbackups/${serverId(7)}`));
    log(
      `   GET /api/lastbackups/:id: ${fmt(lastbackups.rps)} req/s  p50 ${fmt(lastbackups.p50, 2)} ms  p99 ${fmt(lastbackups.p99, 2)} ms`,
    );
    return { setup, ingest, summary, lastbackups, runsStored: summaryBody.totalBackupsRuns };
  } finally {
    for (const i of instances) await i.stop();
    await dropAll();
  }
}

async function main(): Promise<void> {
  log(
    `bench:postgres (${QUICK ? "quick" : "full"}): ${S.uploads.toLocaleString("en")} uploads after ${S.warmup} warm-up, reads ${S.readS} s, c=${CONNECTIONS} in total; ${os.cpus().length} cores`,
  );
  const results: SetupResult[] = [];
  results.push(await runSetup("SQLite × 1", "sqlite", 1));
  results.push(await runSetup("PostgreSQL × 1", "postgres", 1));
  results.push(await runSetup("PostgreSQL × 2", "postgres", 2));

  const rows: string[][] = [
    ["", ...results.map((r) => r.setup)],
    ["uploads/s", ...results.map((r) => fmt(r.ingest.rps))],
    ["upload p50 / p99 ms", ...results.map((r) => `${fmt(r.ingest.p50, 1)} / ${fmt(r.ingest.p99, 1)}`)],
    ["upload non-2xx", ...results.map((r) => String(r.ingest.non2xx + r.ingest.errors))],
    [
      "upload CPU: servers / database",
      ...results.map((r) => `${fmt(r.ingest.cpu.servers, 2)} / ${fmt(r.ingest.cpu.database, 2)}`),
    ],
    ["runs stored", ...results.map((r) => fmt(r.runsStored))],
    ["summary req/s", ...results.map((r) => fmt(r.summary.rps))],
    ["summary p50 / p99 ms", ...results.map((r) => `${fmt(r.summary.p50, 2)} / ${fmt(r.summary.p99, 2)}`)],
    ["lastbackups req/s", ...results.map((r) => fmt(r.lastbackups.rps))],
    ["lastbackups p50 / p99 ms", ...results.map((r) => `${fmt(r.lastbackups.p50, 2)} / ${fmt(r.lastbackups.p99, 2)}`)],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  console.log("");
  for (const r of rows)
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  const out = path.join(REPO_ROOT, "bench", "results", "postgres.json");
  fs.writeFileSync(
    out,
    `${JSON.stringify({ mode: QUICK ? "quick" : "full", date: new Date().toISOString(), cores: os.cpus().length, settings: S, results }, null, 2)}\n`,
  );
  log(`\nwritten to ${path.relative(process.cwd(), out)}`);
  const bad = results.filter((r) => r.ingest.non2xx + r.ingest.errors > 0 || r.runsStored < S.uploads);
  if (bad.length > 0) {
    log(`problems: ${bad.map((r) => r.setup).join(", ")} answered non-2xx or stored fewer runs than uploaded`);
    process.exitCode = 1;
  }
}

main().catch(async (err: unknown) => {
  log(`bench:postgres failed: ${err instanceof Error ? err.stack : String(err)}`);
  await dropAll();
  process.exit(1);
});
