import type { Clock } from "../core/clock";
import type { Database, Queryable } from "../db/database";
import { dataVersionSql } from "../db/dialect";
import { findServersByName, getServerById, type ServerPublicRow } from "../store/servers-store";
import { parseWeekdays } from "../core/job-state";
import {
  type ChartQuery,
  type ChartRequest,
  type Metric,
  lastBucketStartMs,
  notFoundError,
  parseChartQuery,
  validationError,
} from "./params";
import {
  type BucketRow,
  type JobBreakdownRow,
  type LatestTotals,
  bucketsFromRollups,
  bucketsFromRuns,
  getJobInfo,
  jobBreakdown,
  jobRangeFilter,
  latestTotalsAllJobs,
  rangeFilter,
  serverRangeFilter,
} from "./queries";
import type {
  AggregatedChartData,
  ChartPoint,
  JobChartData,
  JobChartPoint,
  MetricSeries,
  ServerChartData,
  Statistics,
  Summary,
  JobBreakdown,
  Trend,
} from "./schemas";

/** How each metric is named, measured and aggregated (see the README section "Chart data"). */
export const METRIC_INFO: Readonly<
  Record<
    Metric,
    {
      label: string;
      unit: string;
      grafanaUnit: string;
      aggregation: "sum" | "last";
      value: (r: BucketRow) => number;
    }
  >
> = {
  duration: {
    label: "Backup Duration (seconds)",
    unit: "seconds",
    grafanaUnit: "s",
    aggregation: "sum",
    value: (r) => r.duration_ms / 1000,
  },
  size: {
    label: "Backup Size (bytes)",
    unit: "bytes",
    grafanaUnit: "bytes",
    aggregation: "last",
    value: (r) => r.size,
  },
  files: { label: "File Count", unit: "files", grafanaUnit: "short", aggregation: "last", value: (r) => r.files },
  storage: {
    label: "Storage Usage (bytes)",
    unit: "bytes",
    grafanaUnit: "bytes",
    aggregation: "last",
    value: (r) => r.storage,
  },
  uploaded: {
    label: "Uploaded Data (bytes)",
    unit: "bytes",
    grafanaUnit: "bytes",
    aggregation: "sum",
    value: (r) => r.uploaded,
  },
  versions: {
    label: "Backup Versions",
    unit: "versions",
    grafanaUnit: "short",
    aggregation: "last",
    value: (r) => r.versions,
  },
};

/** A relative change of the fitted line over the range beyond ±5 % of the mean is a trend. */
export const TREND_THRESHOLD = 0.05;

const round = (x: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
const percent = (part: number, whole: number): number | null => (whole > 0 ? round((part / whole) * 100, 2) : null);
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Direction of a series: least-squares line through (bucket time, value); its change from the first to the last
 * point relative to the mean value. Fewer than two points: null.
 */
export function trendOf(points: ReadonlyArray<{ time: number; value: number }>): Trend | null {
  if (points.length < 2) return null;
  const n = points.length;
  const meanT = points.reduce((s, p) => s + p.time, 0) / n;
  const meanV = points.reduce((s, p) => s + p.value, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.time - meanT) * (p.value - meanV);
    sxx += (p.time - meanT) ** 2;
  }
  const first = points[0] as { time: number };
  const last = points[n - 1] as { time: number };
  const change = sxx === 0 ? 0 : (sxy / sxx) * (last.time - first.time);
  const relative = meanV === 0 ? (change === 0 ? 0 : Math.sign(change)) : change / Math.abs(meanV);
  if (relative > TREND_THRESHOLD) return "increasing";
  if (relative < -TREND_THRESHOLD) return "decreasing";
  return "stable";
}

/** min, max, avg (2 decimals) and total of the point values, and the trend. Null figures when there are no points. */
export function statisticsOf(points: ReadonlyArray<{ time: number; value: number }>): Statistics {
  if (points.length === 0) return { min: null, max: null, avg: null, total: 0, trend: null };
  const values = points.map((p) => p.value);
  const total = values.reduce((s, v) => s + v, 0);
  return {
    min: Math.min(...values),
    max: Math.max(...values),
    avg: round(total / values.length, 2),
    total: round(total, 3),
    trend: trendOf(points),
  };
}

function seriesOf<P extends { time: number; value: number }>(
  metric: Metric,
  rows: readonly BucketRow[],
  point: (r: BucketRow, time: number) => P,
) {
  const info = METRIC_INFO[metric];
  const data = rows.map((r) => point(r, r.time ?? (r.time = Date.parse(r.bucket))));
  const series: MetricSeries<P> = {
    label: info.label,
    unit: info.unit,
    grafanaUnit: info.grafanaUnit,
    aggregation: info.aggregation,
    data,
    statistics: statisticsOf(data),
  };
  return series;
}

function basePoint(metric: Metric, r: BucketRow, time: number): ChartPoint {
  return { timestamp: r.bucket, time, value: METRIC_INFO[metric].value(r), count: r.runs, jobs: r.jobs };
}

/** Job scope: each point also carries the bucket's last status and the other basic figures (seed document). */
function jobPoint(metric: Metric, r: BucketRow, time: number): JobChartPoint {
  const point: JobChartPoint = {
    timestamp: r.bucket,
    time,
    value: METRIC_INFO[metric].value(r),
    count: r.runs,
    status: r.last_status ?? null,
  };
  if (metric !== "duration") point.duration = METRIC_INFO.duration.value(r);
  if (metric !== "size") point.size = r.size;
  if (metric !== "files") point.files = r.files;
  return point;
}

function summaryOf(rows: readonly BucketRow[], latest: LatestTotals): Summary {
  const runs = rows.reduce((s, r) => s + r.runs, 0);
  const ok = rows.reduce((s, r) => s + r.ok_runs, 0);
  const failed = rows.reduce((s, r) => s + r.failed_runs, 0);
  const durationMs = rows.reduce((s, r) => s + r.duration_ms, 0);
  return {
    totalBackups: runs,
    successfulBackups: ok,
    failedBackups: failed,
    successRate: percent(ok, runs),
    averageDuration: runs > 0 ? round(durationMs / 1000 / runs, 2) : null,
    totalDuration: durationMs / 1000,
    totalUploaded: rows.reduce((s, r) => s + r.uploaded, 0),
    totalData: latest.size,
    totalStorage: latest.storage,
    totalVersions: latest.versions,
    jobs: latest.jobs,
  };
}

const latestFromBreakdown = (jobs: readonly JobBreakdownRow[]): LatestTotals => ({
  jobs: jobs.length,
  size: jobs.reduce((s, j) => s + j.size, 0),
  storage: jobs.reduce((s, j) => s + j.storage, 0),
  versions: jobs.reduce((s, j) => s + j.versions, 0),
});

/** Percentage change of the source size from the first to the last run of a job in the range. */
const growthRate = (j: JobBreakdownRow | undefined): number | null =>
  j && j.runs >= 2 && j.first_size > 0 ? round(((j.size - j.first_size) / j.first_size) * 100, 2) : null;

function toJobBreakdown(j: JobBreakdownRow): JobBreakdown {
  return {
    name: j.backup_name,
    count: j.runs,
    successfulBackups: j.ok_runs,
    failedBackups: j.failed_runs,
    successRate: percent(j.ok_runs, j.runs),
    averageDuration: j.runs > 0 ? round(j.duration_ms / 1000 / j.runs, 2) : null,
    totalDuration: j.duration_ms / 1000,
    totalUploaded: j.uploaded,
    totalSize: j.size,
    totalStorage: j.storage,
    versions: j.versions,
    firstRun: j.first_date,
    lastRun: j.last_date,
    lastStatus: j.last_status,
    growthRate: growthRate(j),
  };
}

const SERVER_ID_MAX = 255;
const NAME_MAX = 1024;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A server by id, else by name; a name shared by several servers is ambiguous (400). */
async function findServer(q: Queryable, identifier: string): Promise<ServerPublicRow> {
  const byId = await getServerById(q, identifier);
  if (byId) return byId;
  const byName = await findServersByName(q, identifier);
  if (byName.length === 1 && byName[0]) return byName[0];
  if (byName.length > 1) {
    throw validationError(
      `Multiple servers found with name "${identifier}"; use the server ID instead (${byName.map((s) => s.id).join(", ")})`,
    );
  }
  throw notFoundError("Server not found");
}

function checkServerId(serverId: string): void {
  if (serverId.length === 0 || serverId.length > SERVER_ID_MAX || CONTROL.test(serverId)) {
    throw validationError("Invalid server ID format");
  }
}

interface CachedAggregate {
  version: string | null;
  rows: BucketRow[];
  summary: Summary;
  /** Filled as metrics are asked for; never mutated once made. */
  series: Map<Metric, MetricSeries<ChartPoint>>;
  seriesJson: Map<Metric, string>;
  summaryJson?: string;
}

function seriesFor(entry: CachedAggregate, m: Metric): MetricSeries<ChartPoint> {
  let series = entry.series.get(m);
  if (!series) entry.series.set(m, (series = seriesOf(m, entry.rows, (r, time) => basePoint(m, r, time))));
  return series;
}

const rangeOf = (req: ChartRequest) => ({
  from: iso(req.fromMs),
  to: iso(req.toMs),
  start: iso(req.startMs),
  end: iso(req.endMs),
});

/**
 * GET /api/chart-data/…: buckets come from SQL (roll-ups for the aggregated scope by hour/day/week, the runs
 * through an index otherwise); this class only resolves the request and shapes the response.
 */
export class ChartService {
  /**
   * Aggregated answers by (granularity, bucket range), reused while the database's data version (dialect.ts) has not
   * moved: any write, an upload or a clean-up, invalidates them. Dashboards asking the same thing again between
   * uploads (Grafana refreshes) then cost no SQL beyond the version check. The objects are never mutated.
   */
  private readonly cache = new Map<string, CachedAggregate>();
  private readonly cacheSize: number;

  constructor(private readonly deps: { db: Database; clock: Clock; cacheEntries?: number }) {
    this.cacheSize = deps.cacheEntries ?? 32;
  }

  async aggregated(query: ChartQuery): Promise<AggregatedChartData> {
    const req = parseChartQuery(query, this.deps.clock.now());
    const entry = await this.aggregatedEntry(req);
    const metrics: AggregatedChartData["metrics"] = {};
    for (const m of req.metrics) metrics[m] = seriesFor(entry, m);
    return {
      scope: "aggregated",
      period: req.period,
      granularity: req.granularity,
      range: rangeOf(req),
      metrics,
      summary: entry.summary,
    };
  }

  /**
   * The same answer as `aggregated`, inside its envelope, as JSON text. The series of a cached answer are
   * serialized once: a dashboard asking again between uploads costs string joins instead of serializing thousands
   * of points (at a year by the day, serialization was most of the request's CPU time).
   */
  async aggregatedJson(query: ChartQuery): Promise<string> {
    const req = parseChartQuery(query, this.deps.clock.now());
    const entry = await this.aggregatedEntry(req);
    const metrics = req.metrics.map((m) => {
      let text = entry.seriesJson.get(m);
      if (text === undefined) entry.seriesJson.set(m, (text = JSON.stringify(seriesFor(entry, m))));
      return `${JSON.stringify(m)}:${text}`;
    });
    return (
      `{"status":"success","data":{"scope":"aggregated","period":${JSON.stringify(req.period)},` +
      `"granularity":${JSON.stringify(req.granularity)},"range":${JSON.stringify(rangeOf(req))},` +
      `"metrics":{${metrics.join(",")}},"summary":${(entry.summaryJson ??= JSON.stringify(entry.summary))}}}`
    );
  }

  /** The buckets and summary of an aggregated request, from the cache while the data version has not moved. */
  private aggregatedEntry(req: ChartRequest): Promise<CachedAggregate> {
    const start = iso(req.startMs);
    const end = iso(req.endMs);
    const kind = this.deps.db.dialect.kind;
    const key = `${req.granularity}|${start}|${end}`;
    // Only the reads hold the database; the response is shaped after.
    return this.deps.db.read(async (q) => {
      const versionSql = this.cacheSize > 0 ? dataVersionSql(kind) : null;
      const version = versionSql ? String((await q.get<{ version: unknown }>(versionSql))?.version) : null;
      const cached = this.cache.get(key);
      if (cached && version !== null && cached.version === version) return cached;
      const rows =
        req.granularity === "minute"
          ? await bucketsFromRuns(q, kind, "minute", rangeFilter(start, end))
          : await bucketsFromRollups(q, req.granularity, start, iso(lastBucketStartMs(req)));
      const latest = await latestTotalsAllJobs(q, start, end);
      const fresh: CachedAggregate = {
        version,
        rows,
        summary: summaryOf(rows, latest),
        series: new Map(),
        seriesJson: new Map(),
      };
      if (version !== null) this.remember(key, fresh);
      return fresh;
    });
  }

  /** Keeps the newest entries (a Map iterates in insertion order: the first key is the oldest). */
  private remember(key: string, entry: CachedAggregate): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
  }

  async server(serverId: string, query: ChartQuery): Promise<ServerChartData> {
    checkServerId(serverId);
    const req = parseChartQuery(query, this.deps.clock.now());
    const start = iso(req.startMs);
    const end = iso(req.endMs);
    const { server, rows, jobs } = await this.deps.db.read(async (q) => {
      const server = await findServer(q, serverId);
      const filter = serverRangeFilter(server.id, start, end);
      return {
        server,
        rows: await bucketsFromRuns(q, this.deps.db.dialect.kind, req.granularity, filter),
        jobs: await jobBreakdown(q, filter),
      };
    });
    return {
      scope: "server",
      server: { id: server.id, name: server.name, alias: server.alias },
      period: req.period,
      granularity: req.granularity,
      range: rangeOf(req),
      metrics: Object.fromEntries(req.metrics.map((m) => [m, seriesOf(m, rows, (r, time) => basePoint(m, r, time))])),
      backups: jobs.map(toJobBreakdown),
      summary: summaryOf(rows, latestFromBreakdown(jobs)),
    };
  }

  async job(serverId: string, backupName: string, query: ChartQuery): Promise<JobChartData> {
    checkServerId(serverId);
    if (backupName.length === 0 || backupName.length > NAME_MAX || CONTROL.test(backupName)) {
      throw validationError("Invalid backup name format");
    }
    const req = parseChartQuery(query, this.deps.clock.now());
    const start = iso(req.startMs);
    const end = iso(req.endMs);
    const { server, info, rows, job } = await this.deps.db.read(async (q) => {
      const server = await findServer(q, serverId);
      const info = await getJobInfo(q, server.id, backupName);
      if (!info) throw notFoundError("Backup job not found");
      const filter = jobRangeFilter(server.id, backupName, start, end);
      const rows = await bucketsFromRuns(q, this.deps.db.dialect.kind, req.granularity, filter, { lastStatus: true });
      const [job] = await jobBreakdown(q, filter);
      return { server, info, rows, job };
    });
    return {
      scope: "job",
      server: { id: server.id, name: server.name, alias: server.alias },
      backup: {
        name: info.backup_name,
        schedule: info.expected_interval,
        allowedWeekdays: parseWeekdays(info.allowed_weekdays),
        runCount: Number(info.run_count),
        lastRun: info.latest_date,
        lastStatus: info.latest_status,
        nextRun: info.next_scheduled_run ?? info.next_expected_at,
      },
      period: req.period,
      granularity: req.granularity,
      range: rangeOf(req),
      metrics: Object.fromEntries(req.metrics.map((m) => [m, seriesOf(m, rows, (r, time) => jobPoint(m, r, time))])),
      summary: {
        ...summaryOf(rows, latestFromBreakdown(job ? [job] : [])),
        growthRate: growthRate(job),
        reliability: job ? percent(job.clean_runs, job.runs) : null,
      },
    };
  }
}
