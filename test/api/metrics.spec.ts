import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { ManualClock } from "../../server/src/core/clock";
import {
  FIXTURES,
  type LastBackupsBody,
  type RunSpec,
  fixture,
  getJson,
  makeReport,
  readJson,
  summary,
  upload,
  uploadOk,
} from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { startTestServer, tempDataDir, type TestServer } from "../support/server";

/**
 * GET /metrics: the Prometheus text format, its values against the JSON API, the run counters kept in the database
 * (upload, cleanup, the migration that fills them), who may scrape, label escaping, and `promtool check metrics`.
 */

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
const STATUSES = ["Success", "Warning", "Error", "Fatal", "Unknown"] as const;
const NOW = Date.parse("2025-11-21T12:00:00.000Z");
const HOUR = 3600_000;
const DAY = 24 * HOUR;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  text: string;
  samples: Sample[];
  /** metric name → TYPE */
  types: Map<string, string>;
}

/** A small reader of the text format 0.0.4, written here so the test does not share the code under test. */
function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (m) types.set(m[1] as string, m[2] as string);
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    const name = line.slice(0, nameEnd);
    const labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === "{") {
      i++;
      while (line[i] !== "}") {
        const eq = line.indexOf("=", i);
        const key = line.slice(i, eq);
        expect(line[eq + 1], `label ${key} of: ${line}`).to.equal('"');
        i = eq + 2;
        let value = "";
        for (;;) {
          const c = line[i];
          if (c === undefined) throw new Error(`unterminated label value: ${line}`);
          if (c === '"') break;
          if (c === "\\") {
            const next = line[i + 1];
            if (next === "n") value += "\n";
            else if (next === "\\" || next === '"') value += next;
            else throw new Error(`bad escape \\${String(next)} in: ${line}`);
            i += 2;
          } else {
            value += c;
            i++;
          }
        }
        labels[key] = value;
        i++; // closing quote
        if (line[i] === ",") i++;
      }
      i++; // closing brace
    }
    expect(line[i], `space before the value of: ${line}`).to.equal(" ");
    samples.push({ name, labels, value: Number(line.slice(i + 1)) });
  }
  return { text, samples, types };
}

/** The series of `name` whose labels include `labels`. */
function series(s: Scrape, name: string, labels: Record<string, string> = {}): Sample[] {
  return s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
}

/** The value of the one series of `name` matching `labels` (undefined when there is none). */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = series(s, name, labels);
  expect(found.length, `${name} ${JSON.stringify(labels)}: series`).to.be.at.most(1);
  return found[0]?.value;
}

async function scrape(server: TestServer, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await server.request("/metrics", { headers });
  const text = await res.text();
  expect(res.status, text.slice(0, 300)).to.equal(200);
  expect(res.headers.get("content-type")).to.equal(CONTENT_TYPE);
  return parseExposition(text);
}

async function createToken(admin: BrowserSession, name: string, scope: "read" | "upload" | "admin"): Promise<string> {
  const r = await readJson<{ token: string }>(await admin.json("POST", "/api/tokens", { name, scope }));
  expect(r.status, r.text).to.equal(201);
  return r.body.token;
}

const secs = (iso: string) => Date.parse(iso) / 1000;

/** `promtool check metrics` on `text`: its exit status and findings. Pending (failing in CI) without promtool. */
function promtool(ctx: Mocha.Context, text: string): { status: number | null; findings: string } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    const reason = "promtool is not on PATH (Debian: apt-get install prometheus)";
    if (process.env.CI === "true") expect.fail(`${reason}; CI must provide it (.ci/run installs it)`);
    if (ctx.test) ctx.test.title += ` — pending: ${reason}`;
    ctx.skip();
  }
  expect(run.error, String(run.error)).to.equal(undefined);
  return { status: run.status, findings: `${run.stdout}${run.stderr}`.trim() };
}

function promtoolCheck(ctx: Mocha.Context, text: string): void {
  const { status, findings } = promtool(ctx, text);
  expect(findings, "promtool findings").to.equal("");
  expect(status).to.equal(0);
}

describe("GET /metrics", function () {
  let server: TestServer;
  let admin: BrowserSession;
  let readToken: string;
  let adminToken: string;
  let uploadToken: string;
  const clock = new ManualClock(NOW);
  const auth = () => ({ authorization: `Bearer ${readToken}` });
  /** Server names with characters the text format must escape. */
  const oddServer = 'Rack "A" \\ shelf\n2';
  const oddJob = 'Job "x"\\y\nz';

  before(async () => {
    server = await startTestServer({ UPLOAD_RATE_LIMIT: "0" }, { clock });
    admin = await login(server);
    readToken = await createToken(admin, "prometheus", "read");
    adminToken = await createToken(admin, "prom-admin", "admin");
    uploadToken = await createToken(admin, "prom-upload", "upload");

    // The fixtures as they are, then copies under other machine ids, names and times.
    for (const name of FIXTURES) await uploadOk(server, fixture(name));
    for (const [i, name] of FIXTURES.entries()) {
      const r = fixture(name);
      const begin = new Date(NOW - (i + 1) * 5 * HOUR);
      r.Extra["machine-id"] = `copy-${i}`;
      r.Extra["machine-name"] = `Copy ${i}`;
      r.Extra["backup-name"] = `Copied job ${i}`;
      r.Data.BeginTime = begin.toISOString();
      r.Data.EndTime = new Date(begin.getTime() + 90_000).toISOString();
      delete r.Extra["next-scheduled-run"];
      await uploadOk(server, r);
    }
    // A job that ran an hour ago (not overdue yet), and one whose names need escaping.
    await uploadOk(
      server,
      makeReport({ machineId: "fresh", backupName: "Hourly", begin: new Date(NOW - HOUR).toISOString() }),
    );
    await uploadOk(
      server,
      makeReport({
        machineId: "odd",
        machineName: oddServer,
        backupName: oddJob,
        begin: new Date(NOW - 2 * HOUR).toISOString(),
      }),
    );
  });
  after(() => server.close());

  it("answers the text format 0.0.4 with HELP/TYPE lines and build info", async () => {
    const s = await scrape(server, auth());
    expect(s.text).to.match(/^# HELP duplistatus_/);
    expect(s.text.endsWith("\n")).to.equal(true);
    for (const name of new Set(s.samples.map((x) => x.name))) {
      expect(s.types.has(name), `TYPE of ${name}`).to.equal(true);
      expect(s.text, `HELP of ${name}`).to.include(`# HELP ${name} `);
    }
    expect(s.types.get("duplistatus_backup_runs_total")).to.equal("counter");
    expect(s.types.get("duplistatus_backup_last_run_timestamp_seconds")).to.equal("gauge");
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as {
      version: string;
    };
    expect(series(s, "duplistatus_build_info")).to.deep.equal([
      { name: "duplistatus_build_info", labels: { version: pkg.version, node: process.versions.node }, value: 1 },
    ]);
    // Process metrics are off by default.
    expect(s.samples.filter((x) => x.name.startsWith("process_") || x.name.startsWith("nodejs_"))).to.deep.equal([]);
  });

  it("gives per-job values equal to /api/lastbackups and totals equal to /api/summary", async () => {
    const s = await scrape(server, auth());
    const sum = await summary(server);
    expect(value(s, "duplistatus_servers")).to.equal(sum.totalServers);
    expect(value(s, "duplistatus_backup_jobs")).to.equal(sum.totalBackupJobs);
    expect(value(s, "duplistatus_overdue_backups")).to.equal(sum.overdueBackupsCount);
    const runsTotal = series(s, "duplistatus_backup_runs_total").reduce((n, x) => n + x.value, 0);
    expect(runsTotal).to.equal(sum.totalBackupsRuns);

    const serverIds = [
      ...new Set(series(s, "duplistatus_backup_last_run_timestamp_seconds").map((x) => x.labels.server_id)),
    ];
    expect(serverIds).to.have.length(sum.totalServers);
    let jobs = 0;
    for (const serverId of serverIds) {
      const r = await getJson<LastBackupsBody>(server, `/api/lastbackups/${encodeURIComponent(serverId as string)}`);
      expect(r.status, r.text).to.equal(200);
      for (const b of r.body.latest_backups) {
        jobs++;
        const labels = { server_id: b.server_id, server_name: r.body.server.name, backup_name: b.name };
        const where = JSON.stringify(labels);
        expect(value(s, "duplistatus_backup_last_run_timestamp_seconds", labels), where).to.equal(secs(b.date));
        expect(value(s, "duplistatus_backup_last_duration_seconds", labels), where).to.equal(b.duration_seconds);
        expect(value(s, "duplistatus_backup_last_uploaded_bytes", labels), where).to.equal(b.uploadedSize);
        expect(value(s, "duplistatus_backup_last_size_bytes", labels), where).to.equal(b.fileSize);
        expect(value(s, "duplistatus_backup_storage_bytes", labels), where).to.equal(b.knownFileSize);
        expect(value(s, "duplistatus_backup_versions", labels), where).to.equal(b.backup_list_count);
        expect(value(s, "duplistatus_backup_last_warnings", labels), where).to.equal(b.warnings);
        expect(value(s, "duplistatus_backup_last_errors", labels), where).to.equal(b.errors);
        for (const status of STATUSES) {
          expect(value(s, "duplistatus_backup_last_status", { ...labels, status }), `${where} ${status}`).to.equal(
            b.status === status ? 1 : 0,
          );
          // One run per job here: its status has the one count.
          expect(value(s, "duplistatus_backup_runs_total", { ...labels, status }), `${where} ${status}`).to.equal(
            b.status === status ? 1 : 0,
          );
        }
        // One run per job: the last success is that run, when it succeeded.
        const ok = b.status === "Success" || b.status === "Warning";
        expect(value(s, "duplistatus_backup_last_success_timestamp_seconds", labels), where).to.equal(
          ok ? secs(b.date) : undefined,
        );
      }
    }
    expect(jobs).to.equal(sum.totalBackupJobs);

    // The next expected run is the one the monitoring settings show.
    const settings = await readJson<{ backupSettings: Record<string, { time: string }> }>(
      await admin.request("/api/configuration/backup-settings"),
    );
    for (const x of series(s, "duplistatus_backup_expected_timestamp_seconds")) {
      const time = settings.body.backupSettings[`${x.labels.server_id}:${x.labels.backup_name}`]?.time;
      expect(x.value, JSON.stringify(x.labels)).to.equal(secs(time as string));
    }
    expect(series(s, "duplistatus_backup_expected_timestamp_seconds")).to.have.length(sum.totalBackupJobs);
  });

  it("flags overdue jobs as the overdue check and /api/summary do, as the clock moves", async () => {
    const fresh = { server_id: "fresh", backup_name: "Hourly" };
    let s = await scrape(server, auth());
    expect(value(s, "duplistatus_backup_overdue", fresh)).to.equal(0);
    expect(value(s, "duplistatus_backup_monitoring_enabled", fresh)).to.equal(1);
    const before = value(s, "duplistatus_overdue_backups") as number;
    expect(before).to.equal((await summary(server)).overdueBackupsCount);

    clock.advance(3 * DAY);
    await server.app.services.overdue.check();
    s = await scrape(server, auth());
    expect(value(s, "duplistatus_backup_overdue", fresh)).to.equal(1);
    const sum = await summary(server);
    expect(sum.overdueBackupsCount).to.be.greaterThan(before);
    expect(value(s, "duplistatus_overdue_backups")).to.equal(sum.overdueBackupsCount);
    const flagged = series(s, "duplistatus_backup_overdue").filter((x) => x.value === 1);
    expect(flagged).to.have.length(sum.overdueBackupsCount);
    // A deadline passed is the reason: every overdue job's expected time (plus the 2h tolerance) is behind the clock.
    for (const x of flagged) {
      const expected = value(s, "duplistatus_backup_expected_timestamp_seconds", x.labels) as number;
      expect(expected * 1000 + 2 * HOUR, JSON.stringify(x.labels)).to.be.below(clock.now().getTime());
    }
  });

  it("escapes quotes, backslashes and newlines in label values", async () => {
    const s = await scrape(server, auth());
    expect(s.text).to.include('server_name="Rack \\"A\\" \\\\ shelf\\n2",backup_name="Job \\"x\\"\\\\y\\nz"');
    // Every line is one sample or one comment: no raw newline leaked out of a label.
    for (const line of s.text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      expect(line, line).to.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+$/);
    }
    // Read back, the labels are the names as uploaded.
    expect(
      value(s, "duplistatus_backup_last_run_timestamp_seconds", { server_name: oddServer, backup_name: oddJob }),
    ).to.be.a("number");
    expect(
      value(s, "duplistatus_backup_runs_total", { server_id: "odd", backup_name: oddJob, status: "Success" }),
    ).to.equal(1);
  });

  it("passes `promtool check metrics`", async function () {
    const res = await server.request("/metrics", { headers: auth() });
    promtoolCheck(this, await res.text());
    // The check is live: it does reject what breaks the naming rules.
    const bad = promtool(this, "# HELP x_total A gauge.\n# TYPE x_total gauge\nx_total 1\n");
    expect(bad.status).to.not.equal(0);
    expect(bad.findings).to.include("_total");
  });

  describe("access (METRICS_ACCESS=token, the default)", () => {
    it("answers 401 to anonymous callers and to an unknown token", async () => {
      const callers: Array<Record<string, string>> = [{}, { authorization: "Bearer not-a-token" }];
      for (const headers of callers) {
        const res = await server.request("/metrics", { headers });
        expect(res.status).to.equal(401);
        expect(((await res.json()) as { error: string }).error).to.be.a("string");
      }
    });

    it("accepts a read token as Bearer, X-Api-Key or ?api_key, an admin token and a logged-in user", async () => {
      await scrape(server, { "x-api-key": readToken });
      const q = await server.request(`/metrics?api_key=${encodeURIComponent(readToken)}`);
      expect(q.status).to.equal(200);
      await scrape(server, { authorization: `Bearer ${adminToken}` });
      // A fresh login: the clock has moved on since the first one.
      await scrape(server, { cookie: (await login(server)).cookie });
    });

    it("answers 403 to an upload-only token", async () => {
      const res = await server.request("/metrics", { headers: { authorization: `Bearer ${uploadToken}` } });
      expect(res.status).to.equal(403);
    });

    it("is documented in the OpenAPI document with its access level and content type", async () => {
      const doc = await getJson<{ paths: Record<string, Record<string, Record<string, unknown>>> }>(
        server,
        "/api/openapi.json",
      );
      const op = doc.body.paths["/metrics"]?.get;
      expect(op?.["x-access"]).to.equal("user");
      expect(JSON.stringify(op?.responses)).to.include(CONTENT_TYPE);
    });
  });
});

describe("GET /metrics with METRICS_ACCESS=open and METRICS_PROCESS=true", function () {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ METRICS_ACCESS: "open", METRICS_PROCESS: "true" });
    await uploadOk(server, fixture("03-warning-generator-style.json"));
  });
  after(() => server.close());

  it("answers anonymous callers, with the process metrics", async () => {
    const s = await scrape(server);
    expect(value(s, "duplistatus_backup_jobs")).to.equal(1);
    expect(s.types.get("process_cpu_user_seconds_total")).to.equal("counter");
    expect(series(s, "nodejs_heap_size_used_bytes")).to.have.length(1);
  });

  it("passes `promtool check metrics` with the process metrics", async function () {
    const res = await server.request("/metrics");
    promtoolCheck(this, await res.text());
  });
});

describe("duplistatus_backup_runs_total", function () {
  const clock = new ManualClock(NOW);
  const job = { server_id: "counted", backup_name: "Nightly" };
  const run = (begin: string, status: RunSpec["status"]) =>
    makeReport({ machineId: job.server_id, backupName: job.backup_name, begin, status });
  const counts = (s: Scrape) =>
    Object.fromEntries(
      STATUSES.map((status) => [status, value(s, "duplistatus_backup_runs_total", { ...job, status })]),
    );

  let server: TestServer;
  let admin: BrowserSession;

  before(async () => {
    server = await startTestServer({ UPLOAD_RATE_LIMIT: "0", METRICS_ACCESS: "open" }, { clock });
    admin = await login(server);
  });
  after(async () => {
    await server.close();
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  });

  it("counts the runs of each status as they are uploaded, and ignores a duplicate", async () => {
    const runs: Array<[string, RunSpec["status"]]> = [
      ["2025-03-01T02:00:00.000Z", "Error"],
      ["2025-04-01T02:00:00.000Z", "Fatal"],
      ["2025-11-15T02:00:00.000Z", "Success"],
      ["2025-11-16T02:00:00.000Z", "Warning"],
      ["2025-11-17T02:00:00.000Z", "Success"],
    ];
    for (const [begin, status] of runs) await uploadOk(server, run(begin, status));
    let s = await scrape(server);
    expect(counts(s)).to.deep.equal({ Success: 2, Warning: 1, Error: 1, Fatal: 1, Unknown: 0 });

    // Late reports of older runs count too; a report already stored does not.
    await uploadOk(server, run("2025-11-18T02:00:00.000Z", "Error"));
    await uploadOk(server, run("2025-11-19T02:00:00.000Z", "Unknown"));
    await uploadOk(server, run("2025-11-14T02:00:00.000Z", "Success"));
    expect((await upload(server, run("2025-11-17T02:00:00.000Z", "Success"))).status).to.equal(409);
    s = await scrape(server);
    expect(counts(s)).to.deep.equal({ Success: 3, Warning: 1, Error: 2, Fatal: 1, Unknown: 1 });
    expect((await summary(server)).totalBackupsRuns).to.equal(8);
    expect(value(s, "duplistatus_backup_last_status", { ...job, status: "Unknown" })).to.equal(1);
    expect(value(s, "duplistatus_backup_last_success_timestamp_seconds", job)).to.equal(
      secs("2025-11-17T02:00:00.000Z"),
    );
  });

  it("recounts after a retention cleanup deletes old runs", async () => {
    const res = await admin.json("POST", "/api/backups/cleanup", { retentionPeriod: "6 months" });
    expect(res.status, await res.clone().text()).to.equal(200);
    const s = await scrape(server);
    expect(counts(s)).to.deep.equal({ Success: 3, Warning: 1, Error: 1, Fatal: 0, Unknown: 1 });
    expect((await summary(server)).totalBackupsRuns).to.equal(6);
  });

  it("is read from the database: the same after a restart", async () => {
    const before = counts(await scrape(server));
    await server.app.close();
    server = await startTestServer({ METRICS_ACCESS: "open" }, { clock, dataDir: server.dataDir });
    expect(counts(await scrape(server))).to.deep.equal(before);
  });
});

describe("run counters migration", () => {
  it("fills the counters of jobs stored before it existed, unknown statuses as Unknown", async () => {
    const dataDir = tempDataDir();
    const clock = new ManualClock(NOW);
    try {
      let s = await startTestServer({ UPLOAD_RATE_LIMIT: "0", METRICS_ACCESS: "open" }, { clock, dataDir });
      const statuses = ["Success", "Success", "Warning", "Error", "Fatal", "Fatal", "Unknown", "Success"] as const;
      for (const [i, status] of statuses.entries()) {
        await uploadOk(
          s,
          makeReport({ machineId: "m1", backupName: "A", status, begin: new Date(NOW - (i + 1) * DAY).toISOString() }),
        );
      }
      await uploadOk(
        s,
        makeReport({ machineId: "m2", backupName: "B", status: "Warning", begin: new Date(NOW - DAY).toISOString() }),
      );
      // Back to the schema before the migration, with a run whose status the migration must count as Unknown
      // (portable SQL: SQLite or PostgreSQL).
      await s.app.db.write(async (q) => {
        for (const c of ["runs_success", "runs_warning", "runs_error", "runs_fatal", "runs_unknown"]) {
          await q.run(`ALTER TABLE jobs DROP COLUMN ${c}`);
        }
        await q.run(`UPDATE backups SET status = 'Odd' WHERE server_id = 'm1' AND status = 'Error'`);
        await q.run(`DELETE FROM migrations WHERE name = ?`, ["JobRunCounters1764554400000"]);
      });
      await s.close();

      s = await startTestServer({ METRICS_ACCESS: "open" }, { clock, dataDir });
      try {
        const m = await scrape(s);
        const of = (labels: Record<string, string>) =>
          Object.fromEntries(
            STATUSES.map((status) => [status, value(m, "duplistatus_backup_runs_total", { ...labels, status })]),
          );
        expect(of({ server_id: "m1", backup_name: "A" })).to.deep.equal({
          Success: 3,
          Warning: 1,
          Error: 0,
          Fatal: 2,
          Unknown: 2,
        });
        expect(of({ server_id: "m2", backup_name: "B" })).to.deep.equal({
          Success: 0,
          Warning: 1,
          Error: 0,
          Fatal: 0,
          Unknown: 0,
        });
        // An upload after the migration adds to the filled counters.
        await uploadOk(
          s,
          makeReport({ machineId: "m1", backupName: "A", status: "Error", begin: new Date(NOW).toISOString() }),
        );
        expect(
          value(await scrape(s), "duplistatus_backup_runs_total", {
            server_id: "m1",
            backup_name: "A",
            status: "Error",
          }),
        ).to.equal(1);
      } finally {
        await s.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
