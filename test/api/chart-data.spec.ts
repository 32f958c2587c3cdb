import fs from "node:fs";
import { expect } from "chai";
import { ChartService } from "../../server/src/charts/chart-service";
import { rebuildChartRollups } from "../../server/src/charts/rollups";
import { ManualClock } from "../../server/src/core/clock";
import { type RunSpec, getJson, makeReport, upload, uploadOk } from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { postgresMode } from "../support/postgres";
import { startTestServer, tempDataDir, type TestServer } from "../support/server";

/**
 * GET /api/chart-data/* (seed document chart-data-apis.md, contract §3) against a small dataset whose every bucket
 * is computed by hand below. Sums (runs, duration, uploaded) add up in a bucket; gauges (size, files, storage,
 * versions) take each job's LAST run in the bucket and add those up over jobs.
 */

const NOW = Date.parse("2025-06-11T12:00:00.000Z"); // a Wednesday
const A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const G1 = "11111111111111111111111111111111";
const G2 = "22222222222222222222222222222222";

type Run = RunSpec & { key: string };
const run = (key: string, spec: RunSpec): Run => ({ key, ...spec });

// machine alpha (A): jobs Docs and Photos; machine beta (B): job Docs; two machines both named gamma.
const RUNS: Run[] = [
  run("r1", {
    machineId: A,
    machineName: "alpha",
    backupName: "Docs",
    begin: "2025-06-10T01:10:00Z",
    durationSeconds: 100,
    size: 1000,
    files: 10,
    known: 500,
    versions: 1,
    uploaded: 50,
  }),
  run("r2", {
    machineId: A,
    machineName: "alpha",
    backupName: "Docs",
    begin: "2025-06-10T01:40:00Z",
    durationSeconds: 200,
    size: 1100,
    files: 11,
    known: 550,
    versions: 2,
    uploaded: 60,
    status: "Warning",
  }),
  run("r3", {
    machineId: A,
    machineName: "alpha",
    backupName: "Photos",
    begin: "2025-06-10T01:20:00Z",
    durationSeconds: 300,
    size: 5000,
    files: 50,
    known: 2500,
    versions: 3,
    uploaded: 70,
    status: "Error",
  }),
  run("r4", {
    machineId: B,
    machineName: "beta",
    backupName: "Docs",
    begin: "2025-06-10T02:05:00Z",
    durationSeconds: 400,
    size: 2000,
    files: 20,
    known: 1000,
    versions: 4,
    uploaded: 80,
  }),
  run("r5", {
    machineId: A,
    machineName: "alpha",
    backupName: "Docs",
    begin: "2025-06-11T09:00:00Z",
    durationSeconds: 150,
    size: 1200,
    files: 12,
    known: 600,
    versions: 3,
    uploaded: 90,
  }),
  // Sunday evening: its week is the one starting Monday 2 June.
  run("r6", {
    machineId: A,
    machineName: "alpha",
    backupName: "Photos",
    begin: "2025-06-08T23:30:00Z",
    durationSeconds: 250,
    size: 4800,
    files: 48,
    known: 2400,
    versions: 2,
    uploaded: 40,
    status: "Fatal",
  }),
  // 41 days before NOW: outside 30d, inside 90d.
  run("r7", {
    machineId: B,
    machineName: "beta",
    backupName: "Docs",
    begin: "2025-05-01T12:00:00Z",
    durationSeconds: 500,
    size: 1500,
    files: 15,
    known: 700,
    versions: 1,
    uploaded: 30,
  }),
  run("g1", {
    machineId: G1,
    machineName: "gamma",
    backupName: "X",
    begin: "2025-01-15T00:00:00Z",
    durationSeconds: 60,
  }),
  run("g2", {
    machineId: G2,
    machineName: "gamma",
    backupName: "X",
    begin: "2025-01-16T00:00:00Z",
    durationSeconds: 60,
  }),
];
// Deliberately not in time order: the roll-ups must not depend on the order of arrival.
const UPLOAD_ORDER = ["r5", "r2", "g2", "r7", "r3", "r1", "r6", "g1", "r4"];

interface Point {
  timestamp: string;
  time: number;
  value: number;
  count: number;
  jobs?: number;
  status?: string | null;
  duration?: number;
  size?: number;
  files?: number;
}
interface Series {
  label: string;
  unit: string;
  grafanaUnit: string;
  aggregation: "sum" | "last";
  data: Point[];
  statistics: { min: number | null; max: number | null; avg: number | null; total: number; trend: string | null };
}
interface ChartBody {
  status: string;
  data: {
    scope: string;
    period: string;
    granularity: string;
    range: { from: string; to: string; start: string; end: string };
    server?: { id: string; name: string; alias: string };
    backup?: Record<string, unknown>;
    metrics: Record<string, Series>;
    backups?: Array<Record<string, unknown>>;
    summary: Record<string, number | null>;
  };
}
interface ErrorBody {
  status: string;
  error: string;
  message: string;
}

/** A bucket by hand: [bucket start, value, runs in it, jobs in it]. */
type Expected = Array<[string, number, number, number?]>;
const points = (series: Series | undefined) =>
  (series?.data ?? []).map((p) =>
    p.jobs === undefined ? [p.timestamp, p.value, p.count] : [p.timestamp, p.value, p.count, p.jobs],
  );

describe("chart data API (/api/chart-data/*)", function () {
  let s: TestServer;
  let admin: BrowserSession;
  const clock = new ManualClock(NOW);

  const get = async <T = ChartBody>(path: string) => {
    const r = await admin.request(path);
    const body = (await r.json()) as T;
    return { status: r.status, body };
  };
  const ok = async (path: string): Promise<ChartBody["data"]> => {
    const r = await get(path);
    expect(r.status, `${path}: ${JSON.stringify(r.body)}`).to.equal(200);
    expect(r.body.status).to.equal("success");
    return r.body.data;
  };
  const fails = async (path: string, status: number, error: string, message: string | RegExp) => {
    const r = await get<ErrorBody>(path);
    expect(r.status, `${path}: ${JSON.stringify(r.body)}`).to.equal(status);
    expect(r.body.status).to.equal("error");
    expect(r.body.error).to.equal(error);
    if (typeof message === "string") expect(r.body).to.deep.equal({ status: "error", error, message });
    else expect(r.body.message).to.match(message);
  };

  before(async () => {
    s = await startTestServer({ LOGIN_RATE_LIMIT: "1000" }, { clock });
    for (const key of UPLOAD_ORDER) await uploadOk(s, makeReport(RUNS.find((r) => r.key === key) as Run));
    admin = await login(s);
  });
  after(async () => {
    await s?.close();
  });

  describe("aggregated scope", () => {
    it("by day over 7d: every metric, empty days omitted, gauges = each job's last run summed over jobs", async () => {
      const d = await ok("/api/chart-data/aggregated?period=7d&granularity=day&metric=all");
      expect(d.scope).to.equal("aggregated");
      expect(d.period).to.equal("7d");
      expect(d.granularity).to.equal("day");
      expect(d.range).to.deep.equal({
        from: "2025-06-04T12:00:00.000Z",
        to: "2025-06-11T12:00:00.000Z",
        start: "2025-06-04T00:00:00.000Z",
        end: "2025-06-12T00:00:00.000Z",
      });
      expect(Object.keys(d.metrics)).to.deep.equal(["duration", "size", "files", "storage", "uploaded", "versions"]);
      // 8 June: r6. 10 June: r1 r2 (alpha/Docs, last r2), r3 (alpha/Photos), r4 (beta/Docs). 11 June: r5.
      const expected: Record<string, Expected> = {
        duration: [
          ["2025-06-08T00:00:00.000Z", 250, 1, 1],
          ["2025-06-10T00:00:00.000Z", 1000, 4, 3],
          ["2025-06-11T00:00:00.000Z", 150, 1, 1],
        ],
        uploaded: [
          ["2025-06-08T00:00:00.000Z", 40, 1, 1],
          ["2025-06-10T00:00:00.000Z", 260, 4, 3],
          ["2025-06-11T00:00:00.000Z", 90, 1, 1],
        ],
        size: [
          ["2025-06-08T00:00:00.000Z", 4800, 1, 1],
          ["2025-06-10T00:00:00.000Z", 1100 + 5000 + 2000, 4, 3],
          ["2025-06-11T00:00:00.000Z", 1200, 1, 1],
        ],
        files: [
          ["2025-06-08T00:00:00.000Z", 48, 1, 1],
          ["2025-06-10T00:00:00.000Z", 11 + 50 + 20, 4, 3],
          ["2025-06-11T00:00:00.000Z", 12, 1, 1],
        ],
        storage: [
          ["2025-06-08T00:00:00.000Z", 2400, 1, 1],
          ["2025-06-10T00:00:00.000Z", 550 + 2500 + 1000, 4, 3],
          ["2025-06-11T00:00:00.000Z", 600, 1, 1],
        ],
        versions: [
          ["2025-06-08T00:00:00.000Z", 2, 1, 1],
          ["2025-06-10T00:00:00.000Z", 2 + 3 + 4, 4, 3],
          ["2025-06-11T00:00:00.000Z", 3, 1, 1],
        ],
      };
      for (const [metric, want] of Object.entries(expected))
        expect(points(d.metrics[metric]), metric).to.deep.equal(want);
      for (const p of d.metrics.duration?.data ?? []) expect(p.time).to.equal(Date.parse(p.timestamp));

      expect(d.metrics.duration).to.include({
        label: "Backup Duration (seconds)",
        unit: "seconds",
        grafanaUnit: "s",
        aggregation: "sum",
      });
      expect(d.metrics.size).to.include({
        label: "Backup Size (bytes)",
        unit: "bytes",
        grafanaUnit: "bytes",
        aggregation: "last",
      });
      expect(d.metrics.files).to.include({
        label: "File Count",
        unit: "files",
        grafanaUnit: "short",
        aggregation: "last",
      });
      expect(d.metrics.storage).to.include({ label: "Storage Usage (bytes)", unit: "bytes", aggregation: "last" });
      expect(d.metrics.uploaded).to.include({ unit: "bytes", aggregation: "sum" });
      expect(d.metrics.versions).to.include({ unit: "versions", grafanaUnit: "short", aggregation: "last" });
      expect(d.metrics.duration?.statistics).to.deep.include({ min: 150, max: 1000, avg: 466.67, total: 1400 });
      expect(d.metrics.size?.statistics).to.deep.include({ min: 1200, max: 8100, avg: 4700, total: 14100 });

      expect(d.summary).to.deep.equal({
        totalBackups: 6,
        successfulBackups: 4, // r1 Success, r2 Warning, r4, r5
        failedBackups: 2, // r3 Error, r6 Fatal
        successRate: 66.67,
        averageDuration: 233.33,
        totalDuration: 1400,
        totalUploaded: 390,
        // each job's last run in the range: alpha/Docs r5, alpha/Photos r3, beta/Docs r4
        totalData: 1200 + 5000 + 2000,
        totalStorage: 600 + 2500 + 1000,
        totalVersions: 3 + 3 + 4,
        jobs: 3,
      });
    });

    it("by hour: two runs of one job in a bucket add to the sums, and only the last one counts for the gauges", async () => {
      const d = await ok(
        "/api/chart-data/aggregated?period=7d&granularity=hour&metric=duration,uploaded,size,versions",
      );
      expect(Object.keys(d.metrics)).to.deep.equal(["duration", "size", "uploaded", "versions"]);
      const hours = [
        "2025-06-08T23:00:00.000Z",
        "2025-06-10T01:00:00.000Z",
        "2025-06-10T02:00:00.000Z",
        "2025-06-11T09:00:00.000Z",
      ];
      expect(points(d.metrics.duration)).to.deep.equal([
        [hours[0], 250, 1, 1],
        [hours[1], 600, 3, 2],
        [hours[2], 400, 1, 1],
        [hours[3], 150, 1, 1],
      ]);
      expect(points(d.metrics.uploaded)).to.deep.equal([
        [hours[0], 40, 1, 1],
        [hours[1], 180, 3, 2],
        [hours[2], 80, 1, 1],
        [hours[3], 90, 1, 1],
      ]);
      // 01:00: alpha/Docs r1 (1000) then r2 (1100): 1100, not 2100; plus alpha/Photos r3 (5000).
      expect(points(d.metrics.size)).to.deep.equal([
        [hours[0], 4800, 1, 1],
        [hours[1], 6100, 3, 2],
        [hours[2], 2000, 1, 1],
        [hours[3], 1200, 1, 1],
      ]);
      expect(points(d.metrics.versions)).to.deep.equal([
        [hours[0], 2, 1, 1],
        [hours[1], 5, 3, 2],
        [hours[2], 4, 1, 1],
        [hours[3], 3, 1, 1],
      ]);
    });

    it("by week: weeks start on Monday 00:00 UTC (a Sunday run belongs to the week before)", async () => {
      const d = await ok(
        "/api/chart-data/aggregated?from=2025-04-28&to=2025-06-11T12:00:00Z&granularity=week&metric=size,duration",
      );
      expect(d.range.start).to.equal("2025-04-28T00:00:00.000Z");
      expect(d.range.end).to.equal("2025-06-16T00:00:00.000Z");
      expect(points(d.metrics.duration)).to.deep.equal([
        ["2025-04-28T00:00:00.000Z", 500, 1, 1], // r7, Thursday 1 May
        ["2025-06-02T00:00:00.000Z", 250, 1, 1], // r6, Sunday 8 June 23:30
        ["2025-06-09T00:00:00.000Z", 1150, 5, 3], // r1…r5
      ]);
      // week of 9 June: alpha/Docs last = r5 (1200), alpha/Photos r3 (5000), beta/Docs r4 (2000)
      expect(points(d.metrics.size)).to.deep.equal([
        ["2025-04-28T00:00:00.000Z", 1500, 1, 1],
        ["2025-06-02T00:00:00.000Z", 4800, 1, 1],
        ["2025-06-09T00:00:00.000Z", 8200, 5, 3],
      ]);
    });

    it("by minute (read from the runs): one bucket per minute with runs", async () => {
      const d = await ok(
        "/api/chart-data/aggregated?from=2025-06-10T01:00:00Z&to=2025-06-10T02:30:00Z&granularity=minute&metric=size,duration",
      );
      expect(points(d.metrics.duration)).to.deep.equal([
        ["2025-06-10T01:10:00.000Z", 100, 1, 1],
        ["2025-06-10T01:20:00.000Z", 300, 1, 1],
        ["2025-06-10T01:40:00.000Z", 200, 1, 1],
        ["2025-06-10T02:05:00.000Z", 400, 1, 1],
      ]);
      expect(points(d.metrics.size).map((p) => p[1])).to.deep.equal([1000, 5000, 1100, 2000]);
      expect(d.summary).to.include({ totalBackups: 4, totalDuration: 1000, jobs: 3, totalData: 1100 + 5000 + 2000 });
    });

    it("the ready-made JSON text the route sends is the service's answer, cached or not", async () => {
      const service = new ChartService({ db: s.app.db, clock });
      const queries: Array<Record<string, string>> = [
        { period: "7d", granularity: "day" },
        { period: "7d", granularity: "day", metric: "size,versions" },
        { from: "2025-06-10T01:00:00Z", to: "2025-06-10T02:30:00Z", granularity: "minute" },
      ];
      for (const query of queries) {
        const object = { status: "success", data: await service.aggregated(query) };
        const first = await service.aggregatedJson(query);
        const again = await service.aggregatedJson(query);
        expect(JSON.parse(first)).to.deep.equal(JSON.parse(JSON.stringify(object)));
        expect(again).to.equal(first);
        const http = await get(`/api/chart-data/aggregated?${new URLSearchParams(query).toString()}`);
        expect(http.body).to.deep.equal(JSON.parse(first));
      }
    });

    it("defaults: period 7d, metric all, granularity hour", async () => {
      const d = await ok("/api/chart-data/aggregated");
      expect(d.period).to.equal("7d");
      expect(d.granularity).to.equal("hour");
      expect(Object.keys(d.metrics)).to.have.length(6);
      expect(d.summary.totalBackups).to.equal(6);
    });

    it("periods: 1d, 30d, 90d and 1y end now", async () => {
      expect((await ok("/api/chart-data/aggregated?period=1d&granularity=hour")).summary.totalBackups).to.equal(1); // r5
      expect((await ok("/api/chart-data/aggregated?period=30d&granularity=day")).summary.totalBackups).to.equal(6);
      expect((await ok("/api/chart-data/aggregated?period=90d&granularity=day")).summary.totalBackups).to.equal(7); // + r7
      const year = await ok("/api/chart-data/aggregated?period=1y&granularity=week&metric=versions");
      expect(year.summary.totalBackups).to.equal(9); // + the two gamma runs
      expect(year.summary.jobs).to.equal(5);
      expect(year.range.from).to.equal(new Date(NOW - 365 * 86_400_000).toISOString());
    });

    it("a range with no runs answers empty series and a zero summary", async () => {
      const d = await ok("/api/chart-data/aggregated?from=2020-01-01&to=2020-01-31&metric=size");
      expect(d.granularity).to.equal("hour"); // auto: 30 days → 721 hourly buckets
      expect(d.metrics.size?.data).to.deep.equal([]);
      expect(d.metrics.size?.statistics).to.deep.equal({ min: null, max: null, avg: null, total: 0, trend: null });
      expect(d.summary).to.deep.equal({
        totalBackups: 0,
        successfulBackups: 0,
        failedBackups: 0,
        successRate: null,
        averageDuration: null,
        totalDuration: 0,
        totalUploaded: 0,
        totalData: 0,
        totalStorage: 0,
        totalVersions: 0,
        jobs: 0,
      });
    });

    it("a range that ends in the past takes each job's last run before its end (not the job's latest)", async () => {
      const d = await ok(
        "/api/chart-data/aggregated?from=2025-06-08&to=2025-06-10T23:59:59Z&granularity=day&metric=size",
      );
      expect(d.summary).to.include({
        totalBackups: 5,
        jobs: 3,
        totalData: 1100 + 5000 + 2000,
        totalStorage: 550 + 2500 + 1000,
      });
    });
  });

  describe("explicit ranges", () => {
    const FROM = "2025-06-09T00:00:00.000Z";
    const TO = "2025-06-11T00:00:00.000Z";

    it("from/to as ISO 8601, as epoch milliseconds and as startDate/endDate give the same answer, and override period", async () => {
      const iso = await ok(`/api/chart-data/aggregated?from=${FROM}&to=${TO}&granularity=hour`);
      const epoch = await ok(
        `/api/chart-data/aggregated?from=${Date.parse(FROM)}&to=${Date.parse(TO)}&granularity=hour`,
      );
      const upstream = await ok(`/api/chart-data/aggregated?startDate=${FROM}&endDate=${TO}&granularity=hour`);
      const overridden = await ok(`/api/chart-data/aggregated?period=1y&from=${FROM}&to=${TO}&granularity=hour`);
      expect(iso.period).to.equal("custom");
      expect(iso.range).to.deep.equal({ from: FROM, to: TO, start: FROM, end: "2025-06-11T01:00:00.000Z" });
      expect(iso.summary.totalBackups).to.equal(4);
      expect(epoch).to.deep.equal(iso);
      expect(upstream).to.deep.equal(iso);
      expect(overridden).to.deep.equal(iso);
    });

    it("from wins over startDate; a time without an offset is UTC; an offset is honoured", async () => {
      const both = await ok(`/api/chart-data/aggregated?from=${FROM}&startDate=2020-01-01&to=${TO}&granularity=hour`);
      expect(both.range.from).to.equal(FROM);
      const noZone = await ok(
        `/api/chart-data/aggregated?from=2025-06-09T00:00:00&to=2025-06-11T00:00&granularity=hour`,
      );
      expect(noZone.range).to.include({ from: FROM, to: TO });
      const offset = await ok(
        `/api/chart-data/aggregated?from=${encodeURIComponent("2025-06-09T02:00:00+02:00")}&to=${TO}&granularity=hour`,
      );
      expect(offset.range.from).to.equal(FROM);
    });

    it("from alone ends now; to alone starts one period earlier", async () => {
      const fromOnly = await ok(`/api/chart-data/aggregated?from=${FROM}&granularity=day`);
      expect(fromOnly.range).to.include({ from: FROM, to: new Date(NOW).toISOString() });
      expect(fromOnly.summary.totalBackups).to.equal(5);
      const toOnly = await ok(`/api/chart-data/aggregated?to=${TO}&period=1d&granularity=hour`);
      expect(toOnly.range).to.include({ from: "2025-06-10T00:00:00.000Z", to: TO });
      expect(toOnly.summary.totalBackups).to.equal(4);
    });

    it("a range is widened to whole buckets, the same way for every scope", async () => {
      const d = await ok(
        `/api/chart-data/aggregated?from=2025-06-10T01:30:00Z&to=2025-06-10T01:31:00Z&granularity=hour`,
      );
      expect(d.range).to.include({ start: "2025-06-10T01:00:00.000Z", end: "2025-06-10T02:00:00.000Z" });
      expect(points(d.metrics.duration)).to.deep.equal([["2025-06-10T01:00:00.000Z", 600, 3, 2]]);
      const srv = await ok(
        `/api/chart-data/server/${A}?from=2025-06-10T01:30:00Z&to=2025-06-10T01:31:00Z&granularity=hour`,
      );
      expect(points(srv.metrics.duration)).to.deep.equal([["2025-06-10T01:00:00.000Z", 600, 3, 2]]);
    });

    it("without granularity, an explicit range picks one automatically (≤ 1000 buckets); granularity=auto too", async () => {
      const g = async (q: string) => (await ok(`/api/chart-data/aggregated?metric=size&${q}`)).granularity;
      expect(await g("from=2025-06-11T00:00:00Z&to=2025-06-11T06:00:00Z")).to.equal("minute");
      expect(await g("from=2025-06-01&to=2025-06-11")).to.equal("hour");
      expect(await g("from=2024-06-11&to=2025-06-11")).to.equal("day");
      expect(await g("from=2020-01-01&to=2025-06-11")).to.equal("week");
      expect(await g("period=1y&granularity=auto")).to.equal("day");
      expect(await g("period=1y")).to.equal("hour"); // no range given: the seed document's default
    });
  });

  describe("server scope", () => {
    const expectAlpha = (d: ChartBody["data"]) => {
      expect(d.scope).to.equal("server");
      expect(d.server).to.deep.equal({ id: A, name: "alpha", alias: "" });
      expect(points(d.metrics.duration)).to.deep.equal([
        ["2025-06-08T00:00:00.000Z", 250, 1, 1],
        ["2025-06-10T00:00:00.000Z", 600, 3, 2],
        ["2025-06-11T00:00:00.000Z", 150, 1, 1],
      ]);
      expect(points(d.metrics.storage)).to.deep.equal([
        ["2025-06-08T00:00:00.000Z", 2400, 1, 1],
        ["2025-06-10T00:00:00.000Z", 550 + 2500, 3, 2],
        ["2025-06-11T00:00:00.000Z", 600, 1, 1],
      ]);
      expect(d.backups).to.deep.equal([
        {
          name: "Docs",
          count: 3,
          successfulBackups: 3,
          failedBackups: 0,
          successRate: 100,
          averageDuration: 150,
          totalDuration: 450,
          totalUploaded: 200,
          totalSize: 1200,
          totalStorage: 600,
          versions: 3,
          firstRun: "2025-06-10T01:10:00.000Z",
          lastRun: "2025-06-11T09:00:00.000Z",
          lastStatus: "Success",
          growthRate: 20,
        },
        {
          name: "Photos",
          count: 2,
          successfulBackups: 0,
          failedBackups: 2,
          successRate: 0,
          averageDuration: 275,
          totalDuration: 550,
          totalUploaded: 110,
          totalSize: 5000,
          totalStorage: 2500,
          versions: 3,
          firstRun: "2025-06-08T23:30:00.000Z",
          lastRun: "2025-06-10T01:20:00.000Z",
          lastStatus: "Error",
          growthRate: 4.17, // 4800 → 5000
        },
      ]);
      expect(d.summary).to.deep.equal({
        totalBackups: 5,
        successfulBackups: 3,
        failedBackups: 2,
        successRate: 60,
        averageDuration: 200,
        totalDuration: 1000,
        totalUploaded: 310,
        totalData: 6200,
        totalStorage: 3100,
        totalVersions: 6,
        jobs: 2,
      });
    };

    it("by id and by name give the same answer", async () => {
      const byId = await ok(`/api/chart-data/server/${A}?period=7d&granularity=day`);
      expectAlpha(byId);
      const byName = await ok(`/api/chart-data/server/alpha?period=7d&granularity=day`);
      expect(byName).to.deep.equal(byId);
    });

    it("only its own runs: beta by hour and by week", async () => {
      const d = await ok(`/api/chart-data/server/beta?period=90d&granularity=hour&metric=size`);
      expect(points(d.metrics.size)).to.deep.equal([
        ["2025-05-01T12:00:00.000Z", 1500, 1, 1],
        ["2025-06-10T02:00:00.000Z", 2000, 1, 1],
      ]);
      expect(d.metrics.size?.statistics.trend).to.equal("increasing");
      const w = await ok(`/api/chart-data/server/${B}?period=90d&granularity=week&metric=uploaded`);
      expect(points(w.metrics.uploaded)).to.deep.equal([
        ["2025-04-28T00:00:00.000Z", 30, 1, 1],
        ["2025-06-09T00:00:00.000Z", 80, 1, 1],
      ]);
    });

    it("by minute", async () => {
      const d = await ok(`/api/chart-data/server/alpha?period=1d&granularity=minute&metric=files`);
      expect(points(d.metrics.files)).to.deep.equal([["2025-06-11T09:00:00.000Z", 12, 1, 1]]);
    });

    it("a server without runs in the range has empty series and no backups", async () => {
      const d = await ok(`/api/chart-data/server/${G1}?period=7d`);
      expect(d.backups).to.deep.equal([]);
      expect(d.metrics.duration?.data).to.deep.equal([]);
      expect(d.summary.totalBackups).to.equal(0);
    });
  });

  describe("job scope", () => {
    it("alpha/Docs by hour: per-bucket last status and the other figures on every point; growthRate and reliability", async () => {
      const d = await ok(`/api/chart-data/server/${A}/backup/Docs?period=7d&granularity=hour`);
      expect(d.scope).to.equal("job");
      expect(d.server).to.deep.equal({ id: A, name: "alpha", alias: "" });
      expect(d.backup).to.deep.include({
        name: "Docs",
        schedule: "1D",
        runCount: 3,
        lastRun: "2025-06-11T09:00:00.000Z",
        lastStatus: "Success",
      });
      expect(d.metrics.duration?.data).to.deep.equal([
        {
          timestamp: "2025-06-10T01:00:00.000Z",
          time: Date.parse("2025-06-10T01:00:00.000Z"),
          value: 300,
          count: 2,
          status: "Warning",
          size: 1100,
          files: 11,
        },
        {
          timestamp: "2025-06-11T09:00:00.000Z",
          time: Date.parse("2025-06-11T09:00:00.000Z"),
          value: 150,
          count: 1,
          status: "Success",
          size: 1200,
          files: 12,
        },
      ]);
      expect(d.metrics.size?.data.map((p) => [p.value, p.duration, p.files, p.size])).to.deep.equal([
        [1100, 300, 11, undefined],
        [1200, 150, 12, undefined],
      ]);
      expect(d.metrics.files?.data.map((p) => [p.value, p.duration, p.size])).to.deep.equal([
        [11, 300, 1100],
        [12, 150, 1200],
      ]);
      expect(d.metrics.size?.statistics).to.deep.equal({
        min: 1100,
        max: 1200,
        avg: 1150,
        total: 2300,
        trend: "increasing",
      });
      expect(d.summary).to.deep.equal({
        totalBackups: 3,
        successfulBackups: 3,
        failedBackups: 0,
        successRate: 100,
        averageDuration: 150,
        totalDuration: 450,
        totalUploaded: 200,
        totalData: 1200,
        totalStorage: 600,
        totalVersions: 3,
        jobs: 1,
        growthRate: 20, // 1000 → 1200
        reliability: 66.67, // r1 and r5 Success, r2 Warning
      });
    });

    it("by day, week and minute; the server by name; the job name URL-encoded", async () => {
      const day = await ok(`/api/chart-data/server/alpha/backup/Docs?period=7d&granularity=day&metric=storage`);
      expect(points(day.metrics.storage)).to.deep.equal([
        ["2025-06-10T00:00:00.000Z", 550, 2],
        ["2025-06-11T00:00:00.000Z", 600, 1],
      ]);
      const week = await ok(
        `/api/chart-data/server/alpha/backup/Docs?period=7d&granularity=week&metric=versions,uploaded`,
      );
      expect(points(week.metrics.versions)).to.deep.equal([["2025-06-09T00:00:00.000Z", 3, 3]]);
      expect(points(week.metrics.uploaded)).to.deep.equal([["2025-06-09T00:00:00.000Z", 200, 3]]);
      const minute = await ok(
        `/api/chart-data/server/${A}/backup/Photos?from=2025-06-08T23:00Z&to=2025-06-10T02:00Z&granularity=minute&metric=duration`,
      );
      expect(points(minute.metrics.duration)).to.deep.equal([
        ["2025-06-08T23:30:00.000Z", 250, 1],
        ["2025-06-10T01:20:00.000Z", 300, 1],
      ]);
      expect(minute.metrics.duration?.data.map((p) => p.status)).to.deep.equal(["Fatal", "Error"]);
    });

    it("a job name with a slash, spaces and non-ASCII characters", async () => {
      const name = "Mes fichiers/été 2025";
      await uploadOk(
        s,
        makeReport({
          machineId: "cccccccccccccccccccccccccccccccc",
          machineName: "delta",
          backupName: name,
          begin: "2025-06-11T10:00:00Z",
          size: 77,
        }),
      );
      const d = await ok(
        `/api/chart-data/server/delta/backup/${encodeURIComponent(name)}?period=1d&granularity=hour&metric=size`,
      );
      expect(d.backup?.name).to.equal(name);
      expect(points(d.metrics.size)).to.deep.equal([["2025-06-11T10:00:00.000Z", 77, 1]]);
    });
  });

  describe("errors", () => {
    it("bad query values answer 400 ValidationError with the seed document's bodies", async () => {
      const base = "/api/chart-data/aggregated";
      await fails(`${base}?period=2w`, 400, "ValidationError", "Invalid period format");
      await fails(`${base}?period=1d&period=7d`, 400, "ValidationError", "Invalid period format");
      await fails(`${base}?metric=bogus`, 400, "ValidationError", "Invalid metric format");
      await fails(`${base}?metric=size,bogus`, 400, "ValidationError", "Invalid metric format");
      await fails(`${base}?granularity=month`, 400, "ValidationError", "Invalid granularity format");
      await fails(`${base}?from=yesterday`, 400, "ValidationError", "Invalid date format");
      await fails(`${base}?from=2025-02-30`, 400, "ValidationError", "Invalid date format");
      await fails(`${base}?startDate=2025-06-01&endDate=soon`, 400, "ValidationError", "Invalid date format");
      await fails(`${base}?from=2025-06-11&to=2025-06-01`, 400, "ValidationError", "Invalid date range");
      await fails(
        `${base}?period=1y&granularity=minute`,
        400,
        "ValidationError",
        /^Too many data points: 525\d{3} minute buckets/,
      );
      for (const scope of [`/api/chart-data/server/${A}`, `/api/chart-data/server/${A}/backup/Docs`]) {
        await fails(`${scope}?period=2w`, 400, "ValidationError", "Invalid period format");
      }
    });

    it("unknown server or job: 404 NotFoundError; a name shared by two servers: 400; malformed ids: 400", async () => {
      await fails("/api/chart-data/server/nope", 404, "NotFoundError", "Server not found");
      await fails("/api/chart-data/server/nope/backup/Docs", 404, "NotFoundError", "Server not found");
      await fails(`/api/chart-data/server/${A}/backup/Nope`, 404, "NotFoundError", "Backup job not found");
      await fails(`/api/chart-data/server/beta/backup/Photos`, 404, "NotFoundError", "Backup job not found");
      await fails(
        "/api/chart-data/server/gamma",
        400,
        "ValidationError",
        new RegExp(
          `^Multiple servers found with name "gamma"; use the server ID instead \\((${G1}, ${G2}|${G2}, ${G1})\\)$`,
        ),
      );
      expect((await ok(`/api/chart-data/server/${G1}?period=1y`)).summary.totalBackups).to.equal(1);
      await fails("/api/chart-data/server/a%01b", 400, "ValidationError", "Invalid server ID format");
      await fails(`/api/chart-data/server/${"x".repeat(256)}`, 400, "ValidationError", "Invalid server ID format");
      await fails(`/api/chart-data/server/${A}/backup/a%0Ab`, 400, "ValidationError", "Invalid backup name format");
      await fails(
        `/api/chart-data/server/${A}/backup/${"x".repeat(1025)}`,
        400,
        "ValidationError",
        "Invalid backup name format",
      );
    });
  });

  describe("access", () => {
    it("a read token may call every chart endpoint; anonymous callers get 401; an upload token 403", async () => {
      const paths = [
        "/api/chart-data/aggregated?period=7d",
        `/api/chart-data/server/${A}?period=7d`,
        `/api/chart-data/server/${A}/backup/Docs?period=7d`,
      ];
      const token = async (scope: string) => {
        const r = await admin.json("POST", "/api/tokens", { name: `charts-${scope}`, scope });
        expect(r.status).to.equal(201);
        return ((await r.json()) as { token: string }).token;
      };
      const read = await token("read");
      const up = await token("upload");
      for (const path of paths) {
        const withToken = await s.request(path, { headers: { authorization: `Bearer ${read}` } });
        expect(withToken.status, path).to.equal(200);
        expect(((await withToken.json()) as ChartBody).status).to.equal("success");
        const viaQuery = await s.request(`${path}&api_key=${read}`);
        expect(viaQuery.status, `${path} with ?api_key`).to.equal(200);
        const anonymous = await getJson<{ error: string }>(s, path);
        expect(anonymous.status, path).to.equal(401);
        const uploader = await s.request(path, { headers: { authorization: `Bearer ${up}` } });
        expect(uploader.status, path).to.equal(403);
      }
    });
  });

  describe("roll-ups", () => {
    type RollupRow = Record<string, string | number>;
    const rollups = () =>
      s.app.db.read((q) => q.all<RollupRow>(`SELECT * FROM chart_rollups ORDER BY granularity, bucket_start`));

    it("hold the hand-computed buckets", async () => {
      const rows = await rollups();
      const hour = rows.find((r) => r.granularity === "hour" && r.bucket_start === "2025-06-10T01:00:00.000Z");
      expect(hour).to.deep.equal({
        granularity: "hour",
        bucket_start: "2025-06-10T01:00:00.000Z",
        runs: 3,
        ok_runs: 2,
        failed_runs: 1,
        duration_ms: 600_000,
        uploaded: 180,
        jobs: 2,
        size: 6100,
        files: 61,
        storage: 3050,
        versions: 5,
      });
      expect(rows.filter((r) => r.granularity === "minute")).to.deep.equal([]);
    });

    it("built incrementally from out-of-order uploads equal a rebuild from scratch, whole or by range", async () => {
      // More out-of-order arrivals into buckets that already have runs: earlier, later and in between.
      const late: RunSpec[] = [
        {
          machineId: A,
          machineName: "alpha",
          backupName: "Docs",
          begin: "2025-06-10T01:05:00Z",
          size: 900,
          files: 9,
          known: 450,
          versions: 9,
        },
        {
          machineId: A,
          machineName: "alpha",
          backupName: "Docs",
          begin: "2025-06-10T01:50:00Z",
          size: 1300,
          files: 13,
          known: 650,
          versions: 7,
          status: "Error",
        },
        {
          machineId: A,
          machineName: "alpha",
          backupName: "Docs",
          begin: "2025-06-10T01:45:00Z",
          size: 1250,
          files: 12,
          known: 625,
          versions: 6,
        },
        {
          machineId: B,
          machineName: "beta",
          backupName: "Docs",
          begin: "2025-06-09T00:00:00Z",
          size: 1900,
          files: 19,
          known: 950,
          versions: 3,
        },
        {
          machineId: B,
          machineName: "beta",
          backupName: "Docs",
          begin: "2025-06-08T23:59:59.999Z",
          size: 1800,
          files: 18,
          known: 900,
          versions: 2,
        },
      ];
      for (const spec of late) await uploadOk(s, makeReport(spec));
      // A duplicate changes nothing.
      const before = await rollups();
      expect((await upload(s, makeReport(late[0] as RunSpec))).status).to.equal(409);
      expect(await rollups()).to.deep.equal(before);

      const hour = before.find((r) => r.granularity === "hour" && r.bucket_start === "2025-06-10T01:00:00.000Z");
      expect(hour).to.include({ runs: 6, jobs: 2, size: 1300 + 5000, versions: 7 + 3, failed_runs: 2 });

      await s.app.db.write((q) => rebuildChartRollups(q, s.app.db.dialect));
      expect(await rollups()).to.deep.equal(before);
      await s.app.db.write(async (q) => {
        // Spoil exactly the buckets the range covers: 8 June 12:00 to 10 June 01:00 by the hour, 8 to 10 June by the
        // day, the weeks of 2 and 9 June.
        await q.run(
          `UPDATE chart_rollups SET size = size + 1
            WHERE (granularity = 'hour' AND bucket_start >= '2025-06-08T12' AND bucket_start <= '2025-06-10T01:00:00.000Z')
               OR (granularity = 'day' AND bucket_start >= '2025-06-08' AND bucket_start < '2025-06-11')
               OR (granularity = 'week' AND bucket_start >= '2025-06-02')`,
        );
        await rebuildChartRollups(q, s.app.db.dialect, {
          from: "2025-06-08T12:00:00Z",
          to: Date.parse("2025-06-10T01:30:00Z"),
        });
      });
      expect(await rollups()).to.deep.equal(before);
    });

    it("aggregated answers are reused between writes only: an upload or any change shows at once", async () => {
      const path = "/api/chart-data/aggregated?period=1d&granularity=hour&metric=uploaded";
      const first = await ok(path);
      expect(await ok(path)).to.deep.equal(first);
      await uploadOk(
        s,
        makeReport({
          machineId: B,
          machineName: "beta",
          backupName: "Docs",
          begin: "2025-06-11T11:10:00Z",
          uploaded: 5,
        }),
      );
      const second = await ok(path);
      expect(second.summary.totalBackups).to.equal(Number(first.summary.totalBackups) + 1);
      expect(second.summary.totalUploaded).to.equal(Number(first.summary.totalUploaded) + 5);
      await s.app.db.write((q) =>
        q.run(`UPDATE chart_rollups SET uploaded = uploaded + 1000 WHERE granularity = 'hour'`),
      );
      expect((await ok(path)).summary.totalUploaded).to.equal(
        Number(second.summary.totalUploaded) + 1000 * (second.metrics.uploaded?.data.length ?? 0),
      );
      await s.app.db.write((q) => rebuildChartRollups(q, s.app.db.dialect));
      expect(await ok(path)).to.deep.equal(second);
    });

    it("after deleting runs, a rebuild brings the aggregated answer back in line with the server scope", async () => {
      await s.app.db.write(async (q) => {
        await q.run(`DELETE FROM backups WHERE server_id = ? AND date >= ? AND date < ?`, [
          A,
          "2025-06-10T01:40:00Z",
          "2025-06-10T01:41:00Z",
        ]);
        await rebuildChartRollups(q, s.app.db.dialect, { from: "2025-06-10T01:40:00Z", to: "2025-06-10T01:40:00Z" });
      });
      const all = await ok(`/api/chart-data/aggregated?period=7d&granularity=week&metric=size`);
      const alpha = await ok(`/api/chart-data/server/alpha?period=7d&granularity=week&metric=size`);
      const beta = await ok(`/api/chart-data/server/beta?period=7d&granularity=week&metric=size`);
      const delta = await ok(`/api/chart-data/server/delta?period=7d&granularity=week&metric=size`);
      const sum = (d: ChartBody["data"], i: number) => d.metrics.size?.data[i]?.value ?? 0;
      expect(all.metrics.size?.data.map((p) => p.timestamp)).to.deep.equal([
        "2025-06-02T00:00:00.000Z",
        "2025-06-09T00:00:00.000Z",
      ]);
      expect(sum(all, 1)).to.equal(sum(alpha, 1) + sum(beta, 1) + sum(delta, 0));
      const runs = (d: ChartBody["data"]) => Number(d.summary.totalBackups);
      expect(runs(all)).to.equal(runs(alpha) + runs(beta) + runs(delta));
    });
  });
});

describe("chart roll-ups migration", () => {
  it("builds the roll-ups of runs stored before it existed", async function () {
    if (postgresMode) this.skip(); // it rewinds the SQLite file by hand
    const dataDir = tempDataDir();
    try {
      let s = await startTestServer({}, { dataDir, clock: new ManualClock(NOW) });
      for (const r of RUNS) await uploadOk(s, makeReport(r));
      const want = await s.app.db.read((q) => q.all(`SELECT * FROM chart_rollups ORDER BY granularity, bucket_start`));
      // Back to the schema before the migration, with the runs kept (portable SQL: SQLite or PostgreSQL).
      await s.app.db.write(async (q) => {
        await q.run(`DROP TABLE chart_rollups`);
        await q.run(`DROP INDEX idx_backups_chart`);
        await q.run(`DELETE FROM migrations WHERE name = ?`, ["ChartRollups1764460800000"]);
      });
      await s.close();
      s = await startTestServer({}, { dataDir, clock: new ManualClock(NOW) });
      const got = await s.app.db.read((q) => q.all(`SELECT * FROM chart_rollups ORDER BY granularity, bucket_start`));
      expect(want).to.have.length.greaterThan(10);
      expect(got).to.deep.equal(want);
      await s.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
