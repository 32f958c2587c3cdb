import type { JobState, RunRecord } from "../core/domain";
import type { Queryable } from "../db/database";
import type { Dialect, DialectKind } from "../db/dialect";
import { isoString as iso } from "../ingest/dates";
import { BUCKET_MS, type Granularity, bucketStartMs } from "./buckets";
import { FAILED_STATUSES, OK_STATUSES, ROLLUP_COLUMNS, bucketAggregateSql, durationMsSql } from "./queries";

/**
 * Roll-ups of the aggregated chart scope: table `chart_rollups`, one row per (granularity, bucket start) for hours,
 * days and weeks, holding the sums (runs, successful/failed runs, duration in ms, uploaded bytes, jobs that ran) and
 * the gauge sums (size, files, storage, versions: Σ over jobs of each job's last run in the bucket). The aggregated
 * endpoint then reads a few hundred rows instead of every run. Minutes are not rolled up (a minute range is short:
 * it reads the runs).
 *
 * They are maintained inside the upload transaction (`addRunToChartRollups`) and can be recomputed from `backups`
 * (`rebuildChartRollups`) after anything that deletes, moves or rewrites runs.
 */

export type RollupGranularity = Exclude<Granularity, "minute">;
export const ROLLUP_GRANULARITIES: readonly RollupGranularity[] = ["hour", "day", "week"];

/** What the roll-ups need of a run. */
export type RollupRun = Pick<
  RunRecord,
  | "server_id"
  | "backup_name"
  | "date"
  | "status"
  | "duration_seconds"
  | "uploaded_size"
  | "size"
  | "examined_files"
  | "known_file_size"
  | "backup_list_count"
>;

interface NeighbourRow {
  date: string;
  size: number;
  examined_files: number;
  known_file_size: number;
  backup_list_count: number;
}

const ROW_SQL = `(?, ?, 1, ?, ?, ${durationMsSql("CAST(? AS DOUBLE PRECISION)")}, ?, ?, ?, ?, ?, ?)`;
const UPSERT_SQL = `INSERT INTO chart_rollups (granularity, bucket_start, ${ROLLUP_COLUMNS.join(", ")})
VALUES ${ROLLUP_GRANULARITIES.map(() => ROW_SQL).join(", ")}
ON CONFLICT (granularity, bucket_start) DO UPDATE SET
${ROLLUP_COLUMNS.map((c) => `  ${c} = chart_rollups.${c} + excluded.${c}`).join(",\n")}`;

/** The job's run just before and just after a date: two seeks on the unique index (server_id, backup_name, date). */
const NEIGHBOURS_SQL = `SELECT * FROM (SELECT date, size, examined_files, known_file_size, backup_list_count
                 FROM backups WHERE server_id = ? AND backup_name = ? AND date < ?
                ORDER BY date DESC LIMIT 1) before_run
UNION ALL
SELECT * FROM (SELECT date, 0 AS size, 0 AS examined_files, 0 AS known_file_size, 0 AS backup_list_count
                 FROM backups WHERE server_id = ? AND backup_name = ? AND date > ?
                ORDER BY date LIMIT 1) after_run`;

const n = (v: unknown) => Number(v ?? 0);

/** A run known to be its job's newest: the job's run before it (the previous latest), if any. */
export interface NewestRun {
  previous: NeighbourRow | undefined;
}

/**
 * What the job row says about a run about to be stored: `NewestRun` when the run is newer than the job's latest
 * (or the job has no run yet), undefined otherwise (a late report: the roll-ups look its neighbours up).
 */
export function newestRunOf(job: JobLatest | undefined, runDate: string): NewestRun | undefined {
  if (job === undefined || job.latest_date === null) return { previous: undefined };
  if (runDate <= job.latest_date) return undefined;
  return {
    previous: {
      date: job.latest_date,
      size: job.latest_size,
      examined_files: job.latest_examined_files,
      known_file_size: job.latest_known_file_size,
      backup_list_count: job.latest_backup_list_count,
    },
  };
}

type JobLatest = Pick<
  JobState,
  "latest_date" | "latest_size" | "latest_examined_files" | "latest_known_file_size" | "latest_backup_list_count"
>;

/**
 * Folds a run that was just inserted into `backups` (same transaction) into the hour, day and week roll-ups, with
 * at most two statements whatever the granularities: one lookup of the job's previous and next runs (skipped for the
 * job's newest run, see `newest`), one upsert of three rows. Sums grow by the run. Buckets nest (an hour lies in
 * one day, a day in one week), so the neighbours answer for every granularity: the new run is the job's last in a
 * bucket unless its next run falls in the same bucket; the job's previous last there is the previous run if that
 * falls in the bucket. The gauges then move by (new − previous last), or by the new values when it is the job's
 * first run in the bucket, and `jobs` counts the job once per bucket. A late report of an earlier run leaves the
 * gauges alone. Order of arrival does not matter: the result equals a rebuild (test/api/chart-data.spec.ts checks
 * it).
 *
 * `newest`: the caller already knows the run is newer than every other run of its job (the job row's latest_date is
 * older), so it has no next run and its previous run is the job's latest, whose gauges the job row holds
 * (`newestRunOf`): the lookup is skipped. That is nearly every upload.
 */
export async function addRunToChartRollups(q: Queryable, run: RollupRun, newest?: NewestRun): Promise<void> {
  const at = Date.parse(run.date);
  const ok = (OK_STATUSES as readonly string[]).includes(run.status) ? 1 : 0;
  const failed = (FAILED_STATUSES as readonly string[]).includes(run.status) ? 1 : 0;
  let prev: NeighbourRow | undefined;
  let next: NeighbourRow | undefined;
  if (newest !== undefined) {
    prev = newest.previous;
  } else {
    const around = await q.all<NeighbourRow>(NEIGHBOURS_SQL, [
      run.server_id,
      run.backup_name,
      run.date,
      run.server_id,
      run.backup_name,
      run.date,
    ]);
    prev = around.find((r) => r.date < run.date);
    next = around.find((r) => r.date > run.date);
  }
  const params: unknown[] = [];
  for (const granularity of ROLLUP_GRANULARITIES) {
    const start = iso(bucketStartMs(granularity, at));
    const end = iso(bucketStartMs(granularity, at) + BUCKET_MS[granularity]);
    const prevIn = prev !== undefined && prev.date >= start ? prev : undefined;
    const isLast = !(next !== undefined && next.date < end);
    const delta = (value: unknown, before: unknown) => (isLast ? n(value) - n(before) : 0);
    params.push(
      granularity,
      start,
      ok,
      failed,
      run.duration_seconds,
      run.uploaded_size,
      prevIn === undefined && isLast ? 1 : 0,
      delta(run.size, prevIn?.size),
      delta(run.examined_files, prevIn?.examined_files),
      delta(run.known_file_size, prevIn?.known_file_size),
      delta(run.backup_list_count, prevIn?.backup_list_count),
    );
  }
  await q.run(UPSERT_SQL, params);
}

/** Whole jobs: every job of a server, or one job. */
export interface JobScope {
  serverId: string;
  backupName?: string;
}

/**
 * Takes whole jobs out of the roll-ups: call it in the same transaction BEFORE deleting (or moving away) all the
 * runs of those jobs. A job's share of a bucket is its sums and its last run's gauges, and jobs add up, so
 * subtracting it is exact, and it reads only those jobs' runs (a full rebuild reads every run). For some runs of a
 * job only (retention), delete them and then rebuild the range they covered instead.
 */
export function removeJobsFromChartRollups(
  q: Queryable,
  dialect: DialectKind | Pick<Dialect, "kind">,
  scope: JobScope,
): Promise<void> {
  return shiftJobs(q, typeof dialect === "string" ? dialect : dialect.kind, scope, -1);
}

/**
 * Adds whole jobs to the roll-ups: call it AFTER moving runs to a job (e.g. a server merge: remove both servers'
 * jobs before the move, add the target's after it).
 */
export function addJobsToChartRollups(
  q: Queryable,
  dialect: DialectKind | Pick<Dialect, "kind">,
  scope: JobScope,
): Promise<void> {
  return shiftJobs(q, typeof dialect === "string" ? dialect : dialect.kind, scope, 1);
}

async function shiftJobs(q: Queryable, kind: DialectKind, scope: JobScope, sign: 1 | -1): Promise<void> {
  const filter =
    scope.backupName === undefined
      ? { where: "server_id = ?", params: [scope.serverId] }
      : { where: "server_id = ? AND backup_name = ?", params: [scope.serverId, scope.backupName] };
  for (const granularity of ROLLUP_GRANULARITIES) {
    const select = bucketAggregateSql(kind, granularity, filter);
    // "WHERE 1 = 1": SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT (else it reads ON as a join's).
    await q.run(
      `INSERT INTO chart_rollups (granularity, bucket_start, ${ROLLUP_COLUMNS.join(", ")})
       SELECT ?, bucket, ${ROLLUP_COLUMNS.map((c) => `${sign} * ${c}`).join(", ")} FROM (${select.sql}) buckets WHERE 1 = 1
       ON CONFLICT (granularity, bucket_start) DO UPDATE SET
       ${ROLLUP_COLUMNS.map((c) => `${c} = chart_rollups.${c} + excluded.${c}`).join(", ")}`,
      [granularity, ...select.params],
    );
  }
  if (sign < 0) await q.run(`DELETE FROM chart_rollups WHERE runs = 0`);
}

export interface RebuildRange {
  /** ISO 8601 or epoch ms: the first bucket rebuilt is the one containing it (default: the beginning). */
  from?: string | number;
  /** ISO 8601 or epoch ms: the last bucket rebuilt is the one containing it (default: the end). */
  to?: string | number;
}

const toMs = (v: string | number): number => (typeof v === "number" ? v : Date.parse(v));

/**
 * Recomputes the roll-ups from `backups`: all of them, or only the buckets that overlap `range` (buckets are
 * independent, so a partial rebuild is exact). Call it in the same transaction after deleting, moving or editing
 * runs, e.g. `db.write(async (q) => { …delete runs…; await rebuildChartRollups(q, db.dialect); })`, or with the
 * time span of the runs touched, `rebuildChartRollups(q, db.dialect, { from: oldestDate, to: newestDate })`.
 * Returns the number of roll-up rows written.
 */
export async function rebuildChartRollups(
  q: Queryable,
  dialect: DialectKind | Pick<Dialect, "kind">,
  range: RebuildRange = {},
): Promise<number> {
  const kind = typeof dialect === "string" ? dialect : dialect.kind;
  let written = 0;
  for (const granularity of ROLLUP_GRANULARITIES) {
    const start = range.from === undefined ? null : iso(bucketStartMs(granularity, toMs(range.from)));
    const end =
      range.to === undefined ? null : iso(bucketStartMs(granularity, toMs(range.to)) + BUCKET_MS[granularity]);
    // The same bounds on the roll-up keys and on the runs' dates.
    const keyBounds = ["granularity = ?"];
    const dateBounds: string[] = [];
    const bounds: string[] = [];
    if (start !== null) {
      keyBounds.push("bucket_start >= ?");
      dateBounds.push("date >= ?");
      bounds.push(start);
    }
    if (end !== null) {
      keyBounds.push("bucket_start < ?");
      dateBounds.push("date < ?");
      bounds.push(end);
    }
    await q.run(`DELETE FROM chart_rollups WHERE ${keyBounds.join(" AND ")}`, [granularity, ...bounds]);
    const filter = { where: dateBounds.length > 0 ? dateBounds.join(" AND ") : "1 = 1", params: bounds };
    const select = bucketAggregateSql(kind, granularity, filter);
    const { changes } = await q.run(
      `INSERT INTO chart_rollups (granularity, bucket_start, ${ROLLUP_COLUMNS.join(", ")})
       SELECT ?, bucket, ${ROLLUP_COLUMNS.join(", ")} FROM (${select.sql}) buckets`,
      [granularity, ...select.params],
    );
    written += changes;
  }
  return written;
}
