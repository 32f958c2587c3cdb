import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/**
 * Query model, data source options and the shapes of the duplistatus API answers the plugin reads.
 * The API shapes list only the fields used here: duplistatus may add fields, and the plugin must not break on them.
 */

/** What a panel query returns. */
export type QueryKind =
  /** Chart data over the panel's time range: one time field + one number field per metric. */
  | 'timeseries'
  /** One row per backup job with its latest status, for table / status panels. */
  | 'status'
  /** One row of counts (jobs by latest status, overdue jobs, runs and success rate in the range), for stat panels. */
  | 'summary'
  /** Failed runs and open overdue episodes as events (annotation queries). */
  | 'events';

export const QUERY_KINDS: readonly QueryKind[] = ['timeseries', 'status', 'summary', 'events'];

/** Which part of the fleet a query covers. */
export type Scope = 'all' | 'server' | 'job';

/** For time series: one series for the whole scope, or one per server / per job. */
export type SplitBy = 'none' | 'server' | 'job';

/** The chart-data metrics (server names; contract §3). */
export type Metric = 'duration' | 'size' | 'files' | 'storage' | 'uploaded' | 'versions';
export const METRICS: readonly Metric[] = ['duration', 'size', 'files', 'storage', 'uploaded', 'versions'];

/** Bucket sizes the chart endpoints accept; 'auto' derives one from the panel interval. */
export type Granularity = 'auto' | 'minute' | 'hour' | 'day' | 'week';
export const GRANULARITIES: readonly Granularity[] = ['auto', 'minute', 'hour', 'day', 'week'];

/** Event kinds an annotation query can ask for. */
export type EventKind = 'failed' | 'warning' | 'overdue';
export const EVENT_KINDS: readonly EventKind[] = ['failed', 'warning', 'overdue'];

export interface DuplistatusQuery extends DataQuery {
  queryType?: QueryKind;
  scope?: Scope;
  /** Server id (or a unique server name); may hold a template variable such as `$server`. */
  serverId?: string;
  /** Backup job name; may hold a template variable such as `$job`. */
  backupName?: string;
  metrics?: Metric[];
  granularity?: Granularity;
  splitBy?: SplitBy;
  events?: EventKind[];
  /** Status query: only the jobs that are overdue now (an "overdue list" panel). */
  onlyOverdue?: boolean;
}

export const DEFAULT_QUERY: Partial<DuplistatusQuery> = {
  queryType: 'timeseries',
  scope: 'all',
  metrics: ['uploaded'],
  granularity: 'auto',
  splitBy: 'none',
};

export const DEFAULT_EVENTS: EventKind[] = ['failed', 'overdue'];

/** Template-variable queries (the VariableQueryEditor's model). */
export interface VariableQuery extends DataQuery {
  /** servers: one value per server (text alias or name, value id). jobs: the job names (of `serverId` if set). */
  type: 'servers' | 'jobs';
  serverId?: string;
}

/** Non-secret settings (visible to every viewer of the data source, so no secrets here). */
export interface DuplistatusOptions extends DataSourceJsonData {}

/** Secret settings: Grafana stores them encrypted and uses them only server-side, in the data-proxy route. */
export interface DuplistatusSecureJsonData {
  apiToken?: string;
}

// ---- duplistatus API answers (the fields the plugin reads) ----

/** `{"status":"success","data":…}` of the chart endpoints (seed document "Chart Data APIs"). */
export interface ChartEnvelope<T> {
  status: 'success' | 'error';
  data?: T;
  error?: string;
  message?: string;
}

export interface ChartPoint {
  /** Bucket start, UTC ISO 8601. */
  timestamp: string;
  value: number;
  count?: number;
}

export interface MetricSeries {
  label?: string;
  unit?: string;
  data: ChartPoint[];
}

export interface ChartSummary {
  totalBackups?: number;
  successfulBackups?: number;
  failedBackups?: number;
  successRate?: number | null;
}

export interface ChartData {
  granularity?: string;
  server?: { id: string; name: string; alias?: string };
  backup?: { name: string };
  metrics: Partial<Record<Metric, MetricSeries>>;
  summary?: ChartSummary;
}

/** A row of GET /api/servers. */
export interface ServerRow {
  id: string;
  name: string;
  alias?: string;
}

/** A row of GET /api/servers?includeBackups=true (one per server × job). */
export interface ServerJobRow extends ServerRow {
  backupName: string;
}

export type BackupStatus = 'Success' | 'Warning' | 'Error' | 'Fatal' | 'Unknown';

export interface DashboardBackupInfo {
  name: string;
  lastBackupDate: string;
  lastBackupStatus: BackupStatus | 'N/A';
  lastBackupDuration?: string;
  isBackupOverdue: boolean;
  expectedBackupDate: string;
  expectedBackupElapsed?: string;
  warnings?: number;
  errors?: number;
}

export interface DashboardServer {
  id: string;
  name: string;
  alias?: string;
  backupInfo: DashboardBackupInfo[];
}

export interface DashboardResponse {
  serversSummary: DashboardServer[];
  overallSummary?: { totalServers?: number; overdueBackupsCount?: number };
}

/** A run as GET /api/detail/:serverId lists it (newest first). */
export interface BackupRun {
  id: string;
  name: string;
  date: string;
  status: BackupStatus;
  duration_seconds?: number;
  warnings?: number;
  errors?: number;
  errors_array?: unknown[] | null;
  warnings_array?: unknown[] | null;
}

export interface DetailResponse {
  server: {
    id: string;
    name: string;
    alias?: string;
    backups: BackupRun[];
    pagination?: { total: number; limit: number; offset: number };
  };
}

export interface HealthResponse {
  status: 'healthy' | 'degraded' | 'unhealthy';
  timestamp?: string;
  database?: string;
}

export interface MeResponse {
  authenticated: boolean;
  user?: { username?: string } | null;
  token?: { id: string; name: string; scope: string };
}
