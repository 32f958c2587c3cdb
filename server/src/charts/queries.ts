import type { Queryable } from "../db/database";
import { type DialectKind, bucketStartSql } from "../db/dialect";
import type { Granularity } from "./buckets";

/**
 * The SQL of the chart data. Every aggregation happens here, in the database: runs are bucketed with the dialect's
 * `bucketStartSql` and grouped; the service only shapes the (few) bucket rows into the response.
 *
 * One rule for every scope and every bucket (contract §3):
 * - sums: run count, successful/failed run counts, duration (integer milliseconds, so sums are exact), uploaded
 *   bytes;
 * - gauges: size, examined files, storage (known file size) and versions (backup list count) take each job's LAST
 *   run in the bucket (latest `date`), summed over the jobs that ran in the bucket.
 */

/** A bucket as the database returns it (numbers may arrive as strings from some drivers: see `toBucketRow`). */
export interface BucketRow {
  bucket: string;
  /** The bucket start in epoch ms, filled in once by the service. */
  time?: number;
  runs: number;
  ok_runs: number;
  failed_runs: number;
  duration_ms: number;
  uploaded: number;
  jobs: number;
  size: number;
  files: number;
  storage: number;
  versions: number;
  /** Status of the last run in the bucket (meaningful for a single job). */
  last_status?: string | null;
}

export const SUM_COLUMNS = ["runs", "ok_runs", "failed_runs", "duration_ms", "uploaded", "jobs"] as const;
export const GAUGE_COLUMNS = ["size", "files", "storage", "versions"] as const;
export const ROLLUP_COLUMNS = [...SUM_COLUMNS, ...GAUGE_COLUMNS] as const;

export const OK_STATUSES = ["Success", "Warning"] as const;
export const FAILED_STATUSES = ["Error", "Fatal"] as const;
const inList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(", ");
const OK_SQL = `status IN (${inList(OK_STATUSES)})`;
const FAILED_SQL = `status IN (${inList(FAILED_STATUSES)})`;

/** Duration in integer milliseconds: the same expression on the ingest path and in every aggregation. */
export const durationMsSql = (expr: string) => `CAST(ROUND(${expr} * 1000) AS BIGINT)`;

/** Where a bucketed aggregation reads runs from: a WHERE clause over `backups` and its parameters. */
export interface RunFilter {
  where: string;
  params: unknown[];
}

export const rangeFilter = (start: string, end: string): RunFilter => ({
  where: "date >= ? AND date < ?",
  params: [start, end],
});

export const serverRangeFilter = (serverId: string, start: string, end: string): RunFilter => ({
  where: "server_id = ? AND date >= ? AND date < ?",
  params: [serverId, start, end],
});

export const jobRangeFilter = (serverId: string, backupName: string, start: string, end: string): RunFilter => ({
  where: "server_id = ? AND backup_name = ? AND date >= ? AND date < ?",
  params: [serverId, backupName, start, end],
});

/**
 * SELECT bucket, <sums>, jobs, <gauges> [, last_status] FROM backups WHERE <filter> GROUP BY bucket ORDER BY bucket.
 * The window numbers each job's runs in a bucket newest first; row 1 is the job's last run there, the gauge value.
 */
export function bucketAggregateSql(
  dialect: DialectKind,
  granularity: Granularity,
  filter: RunFilter,
  options: { lastStatus?: boolean } = {},
): { sql: string; params: unknown[] } {
  const bucket = bucketStartSql(dialect, granularity, "date");
  const sql = `SELECT bucket,
       COUNT(*) AS runs,
       SUM(CASE WHEN ${OK_SQL} THEN 1 ELSE 0 END) AS ok_runs,
       SUM(CASE WHEN ${FAILED_SQL} THEN 1 ELSE 0 END) AS failed_runs,
       SUM(duration_ms) AS duration_ms,
       SUM(uploaded_size) AS uploaded,
       SUM(CASE WHEN rn = 1 THEN 1 ELSE 0 END) AS jobs,
       SUM(CASE WHEN rn = 1 THEN size ELSE 0 END) AS size,
       SUM(CASE WHEN rn = 1 THEN examined_files ELSE 0 END) AS files,
       SUM(CASE WHEN rn = 1 THEN known_file_size ELSE 0 END) AS storage,
       SUM(CASE WHEN rn = 1 THEN backup_list_count ELSE 0 END) AS versions${
         options.lastStatus ? ",\n       MAX(CASE WHEN rn = 1 THEN status END) AS last_status" : ""
       }
  FROM (SELECT ${bucket} AS bucket, status, ${durationMsSql("duration_seconds")} AS duration_ms, uploaded_size,
               size, examined_files, known_file_size, backup_list_count,
               ROW_NUMBER() OVER (PARTITION BY server_id, backup_name, ${bucket} ORDER BY date DESC) AS rn
          FROM backups WHERE ${filter.where}) runs
 GROUP BY bucket
 ORDER BY bucket`;
  return { sql, params: filter.params };
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** Normalises a row (PostgreSQL returns BIGINT sums as strings). */
export function toBucketRow(r: Record<string, unknown>): BucketRow {
  const row: BucketRow = {
    bucket: String(r.bucket),
    runs: num(r.runs),
    ok_runs: num(r.ok_runs),
    failed_runs: num(r.failed_runs),
    duration_ms: num(r.duration_ms),
    uploaded: num(r.uploaded),
    jobs: num(r.jobs),
    size: num(r.size),
    files: num(r.files),
    storage: num(r.storage),
    versions: num(r.versions),
  };
  if ("last_status" in r) row.last_status = r.last_status === null ? null : String(r.last_status);
  return row;
}

/** Buckets computed from the runs themselves (server and job scopes, and the aggregated scope by the minute). */
export async function bucketsFromRuns(
  q: Queryable,
  dialect: DialectKind,
  granularity: Granularity,
  filter: RunFilter,
  options: { lastStatus?: boolean } = {},
): Promise<BucketRow[]> {
  const { sql, params } = bucketAggregateSql(dialect, granularity, filter, options);
  return (await q.all<Record<string, unknown>>(sql, params)).map(toBucketRow);
}

/** Buckets of the aggregated scope from the roll-up table: bucket starts in [firstBucket, lastBucket]. */
export async function bucketsFromRollups(
  q: Queryable,
  granularity: Exclude<Granularity, "minute">,
  firstBucket: string,
  lastBucket: string,
): Promise<BucketRow[]> {
  const rows = await q.all<Record<string, unknown>>(
    `SELECT bucket_start AS bucket, ${ROLLUP_COLUMNS.join(", ")}
       FROM chart_rollups
      WHERE granularity = ? AND bucket_start >= ? AND bucket_start <= ? AND runs > 0
      ORDER BY bucket_start`,
    [granularity, firstBucket, lastBucket],
  );
  return rows.map(toBucketRow);
}

/** Each job's last run in a range, summed: the "as of the end of the range" figures of a summary. */
export interface LatestTotals {
  jobs: number;
  size: number;
  storage: number;
  versions: number;
}

const toLatestTotals = (r: Record<string, unknown> | undefined): LatestTotals => ({
  jobs: num(r?.jobs),
  size: num(r?.size),
  storage: num(r?.storage),
  versions: num(r?.versions),
});

/**
 * Σ over all jobs of their last run in [start, end). When no job has a run at or after `end` (the usual case: the
 * range ends now), each job's last run in the range is its latest run, which the maintained `jobs` table holds: one
 * pass over the jobs, no run read. Otherwise one index lookup per job finds its last run before `end`.
 */
export async function latestTotalsAllJobs(q: Queryable, start: string, end: string): Promise<LatestTotals> {
  const fast = await q.get<Record<string, unknown>>(
    `SELECT MAX(latest_date) AS max_latest,
            SUM(CASE WHEN latest_date >= ? THEN 1 ELSE 0 END) AS jobs,
            SUM(CASE WHEN latest_date >= ? THEN latest_size ELSE 0 END) AS size,
            SUM(CASE WHEN latest_date >= ? THEN latest_known_file_size ELSE 0 END) AS storage,
            SUM(CASE WHEN latest_date >= ? THEN latest_backup_list_count ELSE 0 END) AS versions
       FROM jobs WHERE run_count > 0`,
    [start, start, start, start],
  );
  const maxLatest = fast?.max_latest;
  if (maxLatest === null || maxLatest === undefined || String(maxLatest) < end) return toLatestTotals(fast);
  // Jobs first, then per job one seek for its last date in the range (covering index) and one for that run: the
  // CROSS JOIN keeps SQLite from turning it around into a scan of the runs (PostgreSQL reads it as an inner join).
  const row = await q.get<Record<string, unknown>>(
    `SELECT COUNT(*) AS jobs, SUM(b.size) AS size, SUM(b.known_file_size) AS storage,
            SUM(b.backup_list_count) AS versions
       FROM (SELECT j.server_id, j.backup_name,
                    (SELECT MAX(l.date) FROM backups l
                      WHERE l.server_id = j.server_id AND l.backup_name = j.backup_name
                        AND l.date >= ? AND l.date < ?) AS last_date
               FROM jobs j WHERE j.first_run_date < ? AND j.latest_date >= ?) job_last
      CROSS JOIN backups b
      WHERE b.server_id = job_last.server_id AND b.backup_name = job_last.backup_name AND b.date = job_last.last_date`,
    [start, end, end, start],
  );
  return toLatestTotals(row);
}

/** One job's figures over a range, for the server scope's `backups` breakdown. */
export interface JobBreakdownRow {
  backup_name: string;
  runs: number;
  ok_runs: number;
  failed_runs: number;
  clean_runs: number;
  duration_ms: number;
  uploaded: number;
  first_date: string;
  last_date: string;
  last_status: string;
  size: number;
  files: number;
  storage: number;
  versions: number;
  first_size: number;
}

/**
 * Per job of a scope (one server, or one job): totals over the range (one GROUP BY over the runs, read from the
 * covering index idx_backups_chart) and the figures of its first and last runs (two unique-index lookups per job).
 */
export async function jobBreakdown(q: Queryable, filter: RunFilter): Promise<JobBreakdownRow[]> {
  const rows = await q.all<Record<string, unknown>>(
    `SELECT g.backup_name, g.runs, g.ok_runs, g.failed_runs, g.clean_runs, g.duration_ms, g.uploaded, g.first_date,
            g.last_date, l.status AS last_status, l.size, l.examined_files AS files, l.known_file_size AS storage,
            l.backup_list_count AS versions, f.size AS first_size
       FROM (SELECT server_id, backup_name,
                    COUNT(*) AS runs,
                    SUM(CASE WHEN ${OK_SQL} THEN 1 ELSE 0 END) AS ok_runs,
                    SUM(CASE WHEN ${FAILED_SQL} THEN 1 ELSE 0 END) AS failed_runs,
                    SUM(CASE WHEN status = 'Success' THEN 1 ELSE 0 END) AS clean_runs,
                    SUM(${durationMsSql("duration_seconds")}) AS duration_ms,
                    SUM(uploaded_size) AS uploaded,
                    MIN(date) AS first_date,
                    MAX(date) AS last_date
               FROM backups WHERE ${filter.where}
              GROUP BY server_id, backup_name) g
       JOIN backups l ON l.server_id = g.server_id AND l.backup_name = g.backup_name AND l.date = g.last_date
       JOIN backups f ON f.server_id = g.server_id AND f.backup_name = g.backup_name AND f.date = g.first_date
      ORDER BY g.backup_name`,
    filter.params,
  );
  return rows.map((r) => ({
    backup_name: String(r.backup_name),
    runs: num(r.runs),
    ok_runs: num(r.ok_runs),
    failed_runs: num(r.failed_runs),
    clean_runs: num(r.clean_runs),
    duration_ms: num(r.duration_ms),
    uploaded: num(r.uploaded),
    first_date: String(r.first_date),
    last_date: String(r.last_date),
    last_status: String(r.last_status),
    size: num(r.size),
    files: num(r.files),
    storage: num(r.storage),
    versions: num(r.versions),
    first_size: num(r.first_size),
  }));
}

/** The job row the job scope describes (schedule and latest run). */
export interface JobInfoRow {
  backup_name: string;
  run_count: number;
  latest_date: string | null;
  latest_status: string | null;
  expected_interval: string;
  allowed_weekdays: string;
  next_expected_at: string | null;
  next_scheduled_run: string | null;
}

export function getJobInfo(q: Queryable, serverId: string, backupName: string): Promise<JobInfoRow | undefined> {
  return q.get<JobInfoRow>(
    `SELECT backup_name, run_count, latest_date, latest_status, expected_interval, allowed_weekdays,
            next_expected_at, next_scheduled_run
       FROM jobs WHERE server_id = ? AND backup_name = ?`,
    [serverId, backupName],
  );
}
