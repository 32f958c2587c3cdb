import type { BackupStatus, JobStateView, PluginEvents, Summary } from "../../server/src/plugins/api";

/**
 * The JSON documents the bridge publishes. States hold no publish time, so the same database state always gives
 * the same bytes: the bridge publishes a state only when it changed, and a test can compare what is retained with
 * what the API answers.
 */

export const STATUS_OPTIONS = ["success", "warning", "error", "fatal", "unknown"] as const;
export type StatusOption = (typeof STATUS_OPTIONS)[number];

const SEVERITY: Record<StatusOption, number> = { success: 0, unknown: 1, warning: 2, error: 3, fatal: 4 };

export function statusOption(status: BackupStatus | null | undefined): StatusOption {
  const s = (status ?? "Unknown").toLowerCase();
  return (STATUS_OPTIONS as readonly string[]).includes(s) ? (s as StatusOption) : "unknown";
}

export const isFailed = (s: StatusOption): boolean => s === "error" || s === "fatal";

/** ISO 8601 in UTC with milliseconds (a time zone is what HA's timestamp sensors require), or null. */
export function isoOrNull(value: string | null | undefined): string | null {
  if (!value) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

export const displayName = (name: string, alias: string): string => alias.trim() || name;

/** `<base>/server/<serverId>/backup/<job>/state` */
export interface JobStatePayload {
  serverId: string;
  /** Alias, else name. */
  server: string;
  serverName: string;
  serverAlias: string;
  job: string;
  status: StatusOption;
  /** status is error or fatal */
  failed: boolean;
  lastBackupAt: string | null;
  lastSuccessAt: string | null;
  durationSeconds: number | null;
  uploadedBytes: number | null;
  sizeBytes: number | null;
  storageBytes: number | null;
  versions: number | null;
  warnings: number | null;
  errors: number | null;
  runCount: number;
  monitoringEnabled: boolean;
  overdue: boolean;
  overdueSince: string | null;
  nextExpectedAt: string | null;
}

export function jobState(j: JobStateView): JobStatePayload {
  const status = statusOption(j.status);
  return {
    serverId: j.serverId,
    server: displayName(j.serverName, j.serverAlias),
    serverName: j.serverName,
    serverAlias: j.serverAlias,
    job: j.backupName,
    status,
    failed: isFailed(status),
    lastBackupAt: isoOrNull(j.lastRunAt),
    lastSuccessAt: isoOrNull(j.lastSuccessAt),
    durationSeconds: j.durationSeconds,
    uploadedBytes: j.uploadedBytes,
    sizeBytes: j.sizeBytes,
    storageBytes: j.storageBytes,
    versions: j.versions,
    warnings: j.warnings,
    errors: j.errors,
    runCount: j.runCount,
    monitoringEnabled: j.monitoringEnabled,
    overdue: j.overdue,
    overdueSince: j.overdue ? isoOrNull(j.overdueSince) : null,
    nextExpectedAt: isoOrNull(j.nextExpectedAt),
  };
}

/** `<base>/server/<serverId>/state` */
export interface ServerStatePayload {
  serverId: string;
  server: string;
  name: string;
  alias: string;
  jobs: number;
  /** The worst latest status over the server's jobs. */
  status: StatusOption;
  failed: boolean;
  /** Any job overdue. */
  overdue: boolean;
  overdueJobs: number;
  failedJobs: number;
  lastBackupAt: string | null;
}

const later = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a > b ? a : b);

/** One server's state from its jobs (at least one). */
export function serverState(jobs: JobStatePayload[]): ServerStatePayload {
  const first = jobs[0];
  if (!first) throw new Error("serverState needs at least one job");
  let status: StatusOption = "success";
  let lastBackupAt: string | null = null;
  for (const j of jobs) {
    if (SEVERITY[j.status] > SEVERITY[status]) status = j.status;
    lastBackupAt = later(lastBackupAt, j.lastBackupAt);
  }
  const overdueJobs = jobs.filter((j) => j.overdue).length;
  const failedJobs = jobs.filter((j) => j.failed).length;
  return {
    serverId: first.serverId,
    server: first.server,
    name: first.serverName,
    alias: first.serverAlias,
    jobs: jobs.length,
    status,
    failed: failedJobs > 0,
    overdue: overdueJobs > 0,
    overdueJobs,
    failedJobs,
    lastBackupAt,
  };
}

/** `<base>/summary`: the fields of GET /api/summary, plus lastBackupAt and two flags for binary sensors. */
export type SummaryPayload = Summary & { lastBackupAt: string | null; anyOverdue: boolean; anyFailed: boolean };

export function summaryState(summary: Summary, jobs: JobStatePayload[]): SummaryPayload {
  let lastBackupAt: string | null = null;
  for (const j of jobs) lastBackupAt = later(lastBackupAt, j.lastBackupAt);
  return {
    ...summary,
    lastBackupAt,
    anyOverdue: summary.overdueBackupsCount > 0,
    anyFailed: summary.failedBackups > 0,
  };
}

export const EVENT_TYPES = ["backup_received", "backup_failed", "backup_overdue", "overdue_cleared"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One message on `<base>/events` and on the job's `.../event` topic (HA `event` entity: `event_type` picks the
 * event, the other keys become its attributes). `type` repeats `event_type` for other consumers.
 */
export interface EventPayload {
  event_type: EventType;
  type: EventType;
  serverId: string;
  server: string;
  job: string;
  status: StatusOption | null;
  /** When the bridge saw the event. */
  at: string;
  /** The run's time (received, cleared) or the last run's time (overdue). */
  backupAt: string | null;
  [key: string]: string | number | boolean | null;
}

type ServerRefLike = { id: string; name: string; alias: string };
const ref = (s: ServerRefLike) => ({ serverId: s.id, server: displayName(s.name, s.alias) });

export function receivedEvent(e: PluginEvents["backupReceived"], at: Date): EventPayload {
  const status = statusOption(e.run.status);
  const type: EventType = isFailed(status) ? "backup_failed" : "backup_received";
  return {
    event_type: type,
    type,
    ...ref(e.server),
    job: e.job.backupName,
    status,
    at: at.toISOString(),
    backupAt: isoOrNull(e.run.date),
    durationSeconds: Number(e.run.duration_seconds),
    warnings: Number(e.run.warnings),
    errors: Number(e.run.errors),
    isLatest: e.isLatest,
    nextExpectedAt: isoOrNull(e.nextExpectedAt),
  };
}

export function overdueEvent(e: PluginEvents["backupOverdue"], at: Date): EventPayload {
  return {
    event_type: "backup_overdue",
    type: "backup_overdue",
    ...ref(e.server),
    job: e.job.backupName,
    status: e.lastStatus ? statusOption(e.lastStatus) : null,
    at: at.toISOString(),
    backupAt: isoOrNull(e.lastRunDate),
    expectedAt: isoOrNull(e.expectedAt),
    toleranceMinutes: e.toleranceMinutes,
    notice: e.notice,
  };
}

export function clearedEvent(e: PluginEvents["overdueCleared"], at: Date): EventPayload {
  return {
    event_type: "overdue_cleared",
    type: "overdue_cleared",
    ...ref(e.server),
    job: e.job.backupName,
    status: e.run ? statusOption(e.run.status) : null,
    at: at.toISOString(),
    backupAt: isoOrNull(e.run?.date),
    overdueSince: isoOrNull(e.overdueSince),
  };
}
