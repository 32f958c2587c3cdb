import { createDataFrame, FieldType, type DataFrame, type Field, type Labels } from '@grafana/data';

import type {
  BackupRun,
  BackupStatus,
  ChartData,
  ChartSummary,
  DashboardResponse,
  EventKind,
  Metric,
  MetricSeries,
} from './types';

/**
 * Pure functions from duplistatus answers to Grafana data frames. Kept apart from the transport so that they can be
 * tested with plain JSON, and so that units and field names are decided in one place.
 */

/** Grafana unit and a readable name per metric. Bytes are IEC ('bytes' = KiB/MiB/GiB), as Duplicati shows them. */
export const METRIC_INFO: Readonly<Record<Metric, { unit: string; title: string }>> = {
  duration: { unit: 's', title: 'Duration' },
  size: { unit: 'bytes', title: 'Source size' },
  files: { unit: 'short', title: 'Files' },
  storage: { unit: 'bytes', title: 'Storage used' },
  uploaded: { unit: 'bytes', title: 'Uploaded' },
  versions: { unit: 'short', title: 'Versions' },
};

/** ISO text → epoch ms; "N/A", empty or unparsable → null (a missing value, not 1970). */
export function timeOf(text: string | null | undefined): number | null {
  if (!text || text === 'N/A') {
    return null;
  }
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * A metric's points as numbers in the plugin's unit. duplistatus sends durations in seconds (contract §3); a server
 * that says its series is in minutes (the original's bare-array charts did) is converted rather than shown 60× off.
 */
function pointsOf(metric: Metric, series: MetricSeries | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (!series || !Array.isArray(series.data)) {
    return out;
  }
  const factor = metric === 'duration' && /^min/i.test(series.unit ?? '') ? 60 : 1;
  for (const p of series.data) {
    const t = timeOf(p.timestamp);
    if (t !== null && typeof p.value === 'number' && Number.isFinite(p.value)) {
      out.set(t, p.value * factor);
    }
  }
  return out;
}

export interface SeriesOptions {
  refId: string;
  /** Frame name and legend prefix when a query returns one series per server or job. */
  seriesName?: string;
  labels?: Labels;
}

/**
 * Chart data → one frame: `time` plus one number field per metric. Buckets with no runs are absent from the API
 * (not zero), so the time field is the union of the metrics' buckets and a metric without a point there is null.
 */
export function chartFrame(data: ChartData, metrics: Metric[], options: SeriesOptions): DataFrame {
  const perMetric = metrics.map((m) => ({ metric: m, points: pointsOf(m, data.metrics?.[m]) }));
  const times = new Set<number>();
  perMetric.forEach(({ points }) => points.forEach((_v, t) => times.add(t)));
  const sorted = [...times].sort((a, b) => a - b);
  const fields: Array<Partial<Field>> = [{ name: 'time', type: FieldType.time, values: sorted }];
  for (const { metric, points } of perMetric) {
    const info = METRIC_INFO[metric];
    fields.push({
      name: metric,
      type: FieldType.number,
      values: sorted.map((t) => points.get(t) ?? null),
      labels: options.labels,
      config: {
        unit: info.unit,
        // Without this, a split query's legend reads `uploaded {server="…"}`.
        displayNameFromDS: options.seriesName ? `${options.seriesName} ${info.title.toLowerCase()}` : info.title,
      },
    });
  }
  return createDataFrame({ refId: options.refId, name: options.seriesName, fields });
}

/** Display label of a server: its alias when set (what the duplistatus UI shows), else its Duplicati name. */
export const serverLabel = (s: { name: string; alias?: string }): string =>
  s.alias && s.alias.trim() !== '' ? s.alias : s.name;

/** Restricts status rows to some servers (by id or name) and/or job names; an absent list means all. */
export interface StatusFilter {
  serverIds?: string[];
  backupNames?: string[];
  onlyOverdue?: boolean;
}

const serverMatches = (filter: StatusFilter, s: { id: string; name: string }) =>
  !filter.serverIds || filter.serverIds.includes(s.id) || filter.serverIds.includes(s.name);
const jobMatches = (filter: StatusFilter, name: string) => !filter.backupNames || filter.backupNames.includes(name);

const statusOf = (s: BackupStatus | 'N/A'): string => (s === 'N/A' ? 'Unknown' : s);

/** /api/dashboard → one row per job: server, job, latest status, last run, next expected run, overdue. */
export function statusFrame(dashboard: DashboardResponse, refId: string, filter: StatusFilter = {}): DataFrame {
  const rows: Array<{
    server: string;
    serverId: string;
    job: string;
    status: string;
    lastRun: number | null;
    nextExpected: number | null;
    overdue: boolean;
    warnings: number | null;
    errors: number | null;
  }> = [];
  for (const server of dashboard.serversSummary ?? []) {
    if (!serverMatches(filter, server)) {
      continue;
    }
    for (const job of server.backupInfo ?? []) {
      if (!jobMatches(filter, job.name) || (filter.onlyOverdue && !job.isBackupOverdue)) {
        continue;
      }
      rows.push({
        server: serverLabel(server),
        serverId: server.id,
        job: job.name,
        status: statusOf(job.lastBackupStatus),
        lastRun: timeOf(job.lastBackupDate),
        nextExpected: timeOf(job.expectedBackupDate),
        overdue: job.isBackupOverdue === true,
        warnings: typeof job.warnings === 'number' ? job.warnings : null,
        errors: typeof job.errors === 'number' ? job.errors : null,
      });
    }
  }
  const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
  return createDataFrame({
    refId,
    name: 'Backup status',
    fields: [
      { name: 'server', type: FieldType.string, values: col('server'), config: { displayName: 'Server' } },
      { name: 'job', type: FieldType.string, values: col('job'), config: { displayName: 'Job' } },
      { name: 'status', type: FieldType.string, values: col('status'), config: { displayName: 'Status' } },
      { name: 'lastRun', type: FieldType.time, values: col('lastRun'), config: { displayName: 'Last run' } },
      {
        name: 'nextExpected',
        type: FieldType.time,
        values: col('nextExpected'),
        config: { displayName: 'Next expected' },
      },
      { name: 'overdue', type: FieldType.boolean, values: col('overdue'), config: { displayName: 'Overdue' } },
      { name: 'warnings', type: FieldType.number, values: col('warnings'), config: { displayName: 'Warnings' } },
      { name: 'errors', type: FieldType.number, values: col('errors'), config: { displayName: 'Errors' } },
      // For data links to the per-server dashboard (var-server=${__data.fields.serverId}).
      { name: 'serverId', type: FieldType.string, values: col('serverId'), config: { displayName: 'Server id' } },
    ],
  });
}

/**
 * One row of counts. Job counts are by each job's latest run (/api/dashboard, "now"); runs and success rate are
 * over the panel's time range (chart summary). Failed = Error or Fatal.
 */
export function summaryFrame(
  dashboard: DashboardResponse,
  range: ChartSummary | undefined,
  refId: string,
  filter: StatusFilter = {}
): DataFrame {
  const status = statusFrame(dashboard, refId, filter);
  const statuses = (status.fields.find((f) => f.name === 'status')?.values ?? []) as string[];
  const overdue = (status.fields.find((f) => f.name === 'overdue')?.values ?? []) as boolean[];
  const servers = new Set(status.fields.find((f) => f.name === 'serverId')?.values ?? []);
  const count = (pred: (s: string) => boolean) => statuses.filter(pred).length;
  const num = (name: string, displayName: string, value: number | null, unit = 'short'): Partial<Field> => ({
    name,
    type: FieldType.number,
    values: [value],
    config: { displayName, unit, decimals: unit === 'percent' ? 1 : 0 },
  });
  return createDataFrame({
    refId,
    name: 'Backup summary',
    fields: [
      num('servers', 'Servers', servers.size),
      num('jobs', 'Jobs', statuses.length),
      num(
        'success',
        'Success',
        count((s) => s === 'Success')
      ),
      num(
        'warning',
        'Warning',
        count((s) => s === 'Warning')
      ),
      num(
        'failed',
        'Failed',
        count((s) => s === 'Error' || s === 'Fatal')
      ),
      num(
        'unknown',
        'No runs',
        count((s) => s === 'Unknown')
      ),
      num('overdue', 'Overdue', overdue.filter(Boolean).length),
      num('runs', 'Runs in range', range?.totalBackups ?? null),
      num('failedRuns', 'Failed runs in range', range?.failedBackups ?? null),
      num('successRate', 'Success rate in range', range?.successRate ?? null, 'percent'),
    ],
  });
}

/** An annotation event (Grafana's standard annotation fields: time, timeEnd, title, text, tags). */
export interface BackupEvent {
  kind: EventKind;
  time: number;
  timeEnd: number;
  title: string;
  text: string;
  tags: string[];
  server: string;
  job: string;
}

const FAILED: ReadonlySet<string> = new Set(['Error', 'Fatal']);

/** First error (or warning) message of a run, shortened: the annotation tooltip should stay readable. */
function firstMessage(list: unknown[] | null | undefined): string | undefined {
  const first = Array.isArray(list) ? list.find((m) => typeof m === 'string' && m.trim() !== '') : undefined;
  if (typeof first !== 'string') {
    return undefined;
  }
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}

/** Runs → events: Error/Fatal runs as "failed", Warning runs as "warning" (when asked), inside [from, to]. */
export function runEvents(
  server: { name: string; alias?: string },
  runs: BackupRun[],
  kinds: EventKind[],
  from: number,
  to: number
): BackupEvent[] {
  const label = serverLabel(server);
  const out: BackupEvent[] = [];
  for (const run of runs) {
    const kind: EventKind | null = FAILED.has(run.status) ? 'failed' : run.status === 'Warning' ? 'warning' : null;
    const time = timeOf(run.date);
    if (kind === null || !kinds.includes(kind) || time === null || time < from || time > to) {
      continue;
    }
    const seconds = typeof run.duration_seconds === 'number' && run.duration_seconds > 0 ? run.duration_seconds : 0;
    const counts = `${run.errors ?? 0} error(s), ${run.warnings ?? 0} warning(s)`;
    const message = kind === 'failed' ? firstMessage(run.errors_array) : firstMessage(run.warnings_array);
    out.push({
      kind,
      time,
      // The run as a region: Grafana draws start to end when timeEnd > time.
      timeEnd: time + Math.round(seconds * 1000),
      title: `Backup ${run.status.toLowerCase()}: ${label} / ${run.name}`,
      text: message ? `${counts}. ${message}` : counts,
      tags: ['duplistatus', kind, run.status.toLowerCase()],
      server: label,
      job: run.name,
    });
  }
  return out;
}

/**
 * Open overdue episodes (the jobs /api/dashboard marks overdue) → events from the expected run time to `now`.
 * duplistatus keeps no history of closed episodes in its API, so past episodes cannot be shown.
 */
export function overdueEvents(
  dashboard: DashboardResponse,
  from: number,
  to: number,
  now: number,
  filter: StatusFilter = {}
): BackupEvent[] {
  const out: BackupEvent[] = [];
  for (const server of dashboard.serversSummary ?? []) {
    if (!serverMatches(filter, server)) {
      continue;
    }
    for (const job of server.backupInfo ?? []) {
      if (!job.isBackupOverdue || !jobMatches(filter, job.name)) {
        continue;
      }
      const expected = timeOf(job.expectedBackupDate);
      // Due after the range ends, or never expected: nothing to draw in this range.
      if (expected === null || expected > to || now < from) {
        continue;
      }
      const label = serverLabel(server);
      const last = job.lastBackupDate && job.lastBackupDate !== 'N/A' ? job.lastBackupDate : 'never';
      out.push({
        kind: 'overdue',
        time: expected,
        timeEnd: Math.max(expected, now),
        title: `Backup overdue: ${label} / ${job.name}`,
        text: `Expected at ${job.expectedBackupDate}; last run ${last}${
          job.expectedBackupElapsed ? ` (${job.expectedBackupElapsed} late)` : ''
        }`,
        tags: ['duplistatus', 'overdue'],
        server: label,
        job: job.name,
      });
    }
  }
  return out;
}

export function eventsFrame(events: BackupEvent[], refId: string): DataFrame {
  const sorted = [...events].sort((a, b) => a.time - b.time);
  const col = <K extends keyof BackupEvent>(k: K) => sorted.map((e) => e[k]);
  return createDataFrame({
    refId,
    name: 'Backup events',
    fields: [
      { name: 'time', type: FieldType.time, values: col('time') },
      { name: 'timeEnd', type: FieldType.time, values: col('timeEnd') },
      { name: 'title', type: FieldType.string, values: col('title') },
      { name: 'text', type: FieldType.string, values: col('text') },
      { name: 'tags', type: FieldType.other, values: col('tags') },
      { name: 'kind', type: FieldType.string, values: col('kind') },
      { name: 'server', type: FieldType.string, values: col('server') },
      { name: 'job', type: FieldType.string, values: col('job') },
    ],
  });
}
