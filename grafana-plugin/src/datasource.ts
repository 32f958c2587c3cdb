import {
  CoreApp,
  DataFrame,
  DataQueryError,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceApi,
  DataSourceInstanceSettings,
  LegacyMetricFindQueryOptions,
  MetricFindValue,
  ScopedVars,
  TestDataSourceResponse,
} from '@grafana/data';

import { ChartParams, DuplistatusApi, DuplistatusApiError, isHealthBody } from './api';
import {
  BackupEvent,
  chartFrame,
  eventsFrame,
  overdueEvents,
  runEvents,
  serverLabel,
  statusFrame,
  StatusFilter,
  summaryFrame,
} from './frames';
import { interpolateList } from './templating';
import {
  ChartSummary,
  DEFAULT_EVENTS,
  DEFAULT_QUERY,
  DuplistatusOptions,
  DuplistatusQuery,
  Granularity,
  Metric,
  METRICS,
  ServerJobRow,
  VariableQuery,
} from './types';
import { DuplistatusVariableSupport } from './variables';

/** Bucket lengths of the chart endpoints' granularities (UTC, fixed length). */
const BUCKET_MS: Record<Exclude<Granularity, 'auto'>, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
};
/** duplistatus refuses a request spanning more buckets than this (chart-data MAX_BUCKETS). */
const MAX_BUCKETS = 50_000;
/** Runs read per /api/detail page, and the most pages read per server for one annotation query. */
const RUNS_PAGE = 500;
const MAX_RUN_PAGES = 20;
/** Parallel requests when a query fans out per server or per job. */
const PARALLEL = 4;

/**
 * The bucket size for "auto": the smallest one at least as long as the panel's interval, so a panel never gets more
 * points than it has room for, and never more buckets than duplistatus accepts. Without an interval (e.g. a query
 * run outside a panel) the server picks with `auto`.
 */
export function autoGranularity(intervalMs: number | undefined, from: number, to: number): ChartParams['granularity'] {
  if (!intervalMs || !Number.isFinite(intervalMs) || intervalMs <= 0) {
    return 'auto';
  }
  const span = Math.max(0, to - from);
  for (const g of ['minute', 'hour', 'day', 'week'] as const) {
    if (BUCKET_MS[g] >= intervalMs && span / BUCKET_MS[g] < MAX_BUCKETS) {
      return g;
    }
  }
  return 'week';
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** One query with its variables resolved to lists (a multi-value variable gives several servers or jobs). */
interface ResolvedQuery {
  query: DuplistatusQuery;
  serverIds: string[];
  backupNames: string[];
}

export class DataSource extends DataSourceApi<DuplistatusQuery, DuplistatusOptions> {
  readonly api: DuplistatusApi;

  constructor(instanceSettings: DataSourceInstanceSettings<DuplistatusOptions>) {
    super(instanceSettings);
    // With access "proxy" this is Grafana's proxy path for this data source, never duplistatus' own address.
    this.api = new DuplistatusApi(instanceSettings.url ?? '');
    this.variables = new DuplistatusVariableSupport(this);
    // Annotation queries are normal queries of type "events"; Grafana turns the frame's time/timeEnd/title/text/tags
    // fields into annotations.
    this.annotations = {
      getDefaultQuery: () => ({ queryType: 'events', scope: 'all', events: DEFAULT_EVENTS }),
    };
  }

  getDefaultQuery(_app: CoreApp): Partial<DuplistatusQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: DuplistatusQuery): boolean {
    return query.hide !== true;
  }

  /** What a query covers, for the inspector and the query-history list. */
  getQueryDisplayText(query: DuplistatusQuery): string {
    const scope =
      query.scope === 'job'
        ? `${query.serverId ?? '?'} / ${query.backupName ?? '?'}`
        : query.scope === 'server'
          ? (query.serverId ?? '?')
          : 'all servers';
    return `${query.queryType ?? 'timeseries'} of ${scope}`;
  }

  private resolve(query: DuplistatusQuery, scopedVars: ScopedVars): ResolvedQuery {
    const scope = query.scope ?? 'all';
    return {
      query,
      serverIds: scope === 'all' ? [] : interpolateList(query.serverId, scopedVars),
      backupNames: scope === 'job' ? interpolateList(query.backupName, scopedVars) : [],
    };
  }

  async query(request: DataQueryRequest<DuplistatusQuery>): Promise<DataQueryResponse> {
    const from = request.range.from.valueOf();
    const to = request.range.to.valueOf();
    const errors: DataQueryError[] = [];
    const results = await Promise.all(
      request.targets
        .filter((t) => this.filterQuery(t))
        .map(async (target): Promise<DataFrame[]> => {
          try {
            const resolved = this.resolve({ ...DEFAULT_QUERY, ...target }, request.scopedVars);
            return await this.runQuery(resolved, from, to, request.intervalMs);
          } catch (err) {
            // One failing query must not blank the other queries of the panel.
            errors.push({
              refId: target.refId,
              message: messageOf(err),
              status: err instanceof DuplistatusApiError ? err.status : undefined,
            });
            return [];
          }
        })
    );
    const response: DataQueryResponse = { data: results.flat() };
    if (errors.length > 0) {
      response.errors = errors;
    }
    return response;
  }

  private runQuery(r: ResolvedQuery, from: number, to: number, intervalMs?: number): Promise<DataFrame[]> {
    const scope = r.query.scope ?? 'all';
    if (scope !== 'all' && r.serverIds.length === 0) {
      throw new Error('Choose a server for this query (scope "server" or "job")');
    }
    if (scope === 'job' && r.backupNames.length === 0) {
      throw new Error('Choose a backup job for this query (scope "job")');
    }
    switch (r.query.queryType ?? 'timeseries') {
      case 'status':
        return this.api
          .dashboard()
          .then((d) => [
            statusFrame(d, r.query.refId, { ...this.filterOf(r), onlyOverdue: r.query.onlyOverdue === true }),
          ]);
      case 'summary':
        return this.summary(r, from, to);
      case 'events':
        return this.events(r, from, to).then((events) => [eventsFrame(events, r.query.refId)]);
      default:
        return this.timeseries(r, from, to, intervalMs);
    }
  }

  private filterOf(r: ResolvedQuery): StatusFilter {
    return {
      serverIds: r.serverIds.length > 0 ? r.serverIds : undefined,
      backupNames: r.backupNames.length > 0 ? r.backupNames : undefined,
    };
  }

  private async timeseries(r: ResolvedQuery, from: number, to: number, intervalMs?: number): Promise<DataFrame[]> {
    const q = r.query;
    const metrics: Metric[] = (q.metrics ?? []).filter((m) => METRICS.includes(m));
    if (metrics.length === 0) {
      metrics.push('uploaded');
    }
    const granularity =
      q.granularity && q.granularity !== 'auto' ? q.granularity : autoGranularity(intervalMs, from, to);
    const params: ChartParams = { from, to, metrics, granularity };
    const scope = q.scope ?? 'all';
    const split = q.splitBy ?? 'none';
    const refId = q.refId;

    if (scope === 'all' && split === 'none') {
      return [chartFrame(await this.api.chart(params), metrics, { refId })];
    }
    if (split === 'job' || scope === 'job') {
      const jobs = await this.jobsOf(r);
      if (jobs.length === 0 && scope === 'job') {
        // Say so rather than draw an empty panel: usually a renamed job or a stale variable value.
        throw new Error(`No backup job ${r.backupNames.join(', ')} on server ${r.serverIds.join(', ')}`);
      }
      return mapLimit(jobs, PARALLEL, async (job) => {
        const label = `${serverLabel(job)} / ${job.backupName}`;
        const data = await this.api.chart(params, job.id, job.backupName);
        return chartFrame(data, metrics, {
          refId,
          // A single job needs no legend prefix; several do.
          seriesName: jobs.length > 1 || split === 'job' ? label : undefined,
          labels: { server: serverLabel(job), job: job.backupName },
        });
      });
    }
    // One series per server: all servers (scope all, split server), or the chosen ones.
    const servers =
      scope === 'all'
        ? await this.api.servers()
        : r.serverIds.map((id) => ({ id, name: id, alias: undefined as string | undefined }));
    return mapLimit(servers, PARALLEL, async (s) => {
      const data = await this.api.chart(params, s.id);
      const label = data.server ? serverLabel(data.server) : serverLabel(s);
      return chartFrame(data, metrics, {
        refId,
        seriesName: servers.length > 1 || split === 'server' ? label : undefined,
        labels: { server: label },
      });
    });
  }

  /** The server × job pairs a job-level query covers (only pairs that exist: a multi-select may mix servers). */
  private async jobsOf(r: ResolvedQuery): Promise<ServerJobRow[]> {
    const all = await this.api.serverJobs();
    return all.filter(
      (row) =>
        (r.serverIds.length === 0 || r.serverIds.includes(row.id) || r.serverIds.includes(row.name)) &&
        (r.backupNames.length === 0 || r.backupNames.includes(row.backupName))
    );
  }

  private async summary(r: ResolvedQuery, from: number, to: number): Promise<DataFrame[]> {
    const scope = r.query.scope ?? 'all';
    const params: ChartParams = { from, to, metrics: ['duration'], granularity: 'auto' };
    // Runs and success rate in the range come from one chart request, so only for one scope value.
    let range: Promise<ChartSummary | undefined> = Promise.resolve(undefined);
    if (scope === 'all') {
      range = this.api.chart(params).then((d) => d.summary);
    } else if (scope === 'server' && r.serverIds.length === 1) {
      range = this.api.chart(params, r.serverIds[0]).then((d) => d.summary);
    } else if (scope === 'job' && r.serverIds.length === 1 && r.backupNames.length === 1) {
      range = this.api.chart(params, r.serverIds[0], r.backupNames[0]).then((d) => d.summary);
    }
    const [dashboard, summary] = await Promise.all([this.api.dashboard(), range]);
    return [summaryFrame(dashboard, summary, r.query.refId, this.filterOf(r))];
  }

  /** Failed (and optionally warning) runs from each server's run history, plus open overdue episodes. */
  private async events(r: ResolvedQuery, from: number, to: number): Promise<BackupEvent[]> {
    const kinds = r.query.events && r.query.events.length > 0 ? r.query.events : DEFAULT_EVENTS;
    const out: BackupEvent[] = [];
    if (kinds.includes('failed') || kinds.includes('warning')) {
      const serverIds = r.serverIds.length > 0 ? r.serverIds : (await this.api.servers()).map((s) => s.id);
      const perServer = await mapLimit(serverIds, PARALLEL, (id) =>
        this.runEventsOf(id, r.backupNames, kinds, from, to)
      );
      perServer.forEach((events) => out.push(...events));
    }
    if (kinds.includes('overdue')) {
      out.push(...overdueEvents(await this.api.dashboard(), from, to, Date.now(), this.filterOf(r)));
    }
    return out;
  }

  private async runEventsOf(
    serverId: string,
    backupNames: string[],
    kinds: DuplistatusQuery['events'] & {},
    from: number,
    to: number
  ): Promise<BackupEvent[]> {
    const out: BackupEvent[] = [];
    // One job: let the server filter; several or all: read the server's runs once and filter here.
    const backupName = backupNames.length === 1 ? backupNames[0] : undefined;
    for (let page = 0; page < MAX_RUN_PAGES; page++) {
      const detail = await this.api.runs(serverId, { limit: RUNS_PAGE, offset: page * RUNS_PAGE, backupName });
      const runs = detail.server.backups.filter((run) => backupNames.length === 0 || backupNames.includes(run.name));
      out.push(...runEvents(detail.server, runs, kinds, from, to));
      const all = detail.server.backups;
      const oldest = all.length > 0 ? Date.parse(all[all.length - 1]!.date) : NaN;
      // Runs come newest first: stop at the page that reaches back before the range, or at the last page.
      if (all.length < RUNS_PAGE || !(oldest >= from)) {
        break;
      }
    }
    return out;
  }

  /**
   * Template variable values. Query text `servers` → one value per server (text: alias or name, value: id);
   * `jobs` → every job name; `jobs(<server id or $variable>)` → the jobs of that server. The VariableQueryEditor
   * stores the same as an object {type, serverId}.
   */
  async metricFindQuery(
    query: string | VariableQuery,
    options?: LegacyMetricFindQueryOptions
  ): Promise<MetricFindValue[]> {
    const parsed = parseVariableQuery(query);
    if (parsed.type === 'servers') {
      const servers = await this.api.servers();
      return servers.map((s) => ({ text: serverLabel(s), value: s.id }));
    }
    const serverIds = interpolateList(parsed.serverId, options?.scopedVars);
    const rows = await this.api.serverJobs();
    const names = rows
      .filter((row) => serverIds.length === 0 || serverIds.includes(row.id) || serverIds.includes(row.name))
      .map((row) => row.backupName);
    return [...new Set(names)].sort((a, b) => a.localeCompare(b)).map((name) => ({ text: name, value: name }));
  }

  /**
   * Save & test: reaches duplistatus, checks it is duplistatus, then that the token is accepted and may read.
   * Each failure gets its own message, since each has a different fix.
   */
  async testDatasource(): Promise<TestDataSourceResponse> {
    const fail = (message: string, details?: string): TestDataSourceResponse => ({
      status: 'error',
      message,
      details: details ? { message: details } : undefined,
    });
    try {
      const health = await this.api.health();
      if (!isHealthBody(health)) {
        return fail(
          'The URL answers, but not like a duplistatus server (GET /api/health gave no duplistatus health report).',
          'Check the URL: it must be the duplistatus address, e.g. http://duplistatus:9666, without a path.'
        );
      }
      if (health.status !== 'healthy') {
        return fail(`duplistatus is reachable but reports its database as ${health.status}.`);
      }
    } catch (err) {
      if (err instanceof DuplistatusApiError && err.kind === 'unreachable') {
        return fail(
          `Cannot reach duplistatus: ${err.message}.`,
          "Check the URL and that Grafana's server (not your browser) can reach it; in docker compose use http://duplistatus:9666."
        );
      }
      if (err instanceof DuplistatusApiError && (err.kind === 'not-found' || err.kind === 'http')) {
        return fail(
          `The URL answers, but not like a duplistatus server (GET /api/health: HTTP ${err.status}).`,
          'Check the URL: it must be the duplistatus address, e.g. http://duplistatus:9666, without a path.'
        );
      }
      return fail(`duplistatus health check failed: ${messageOf(err)}`);
    }

    try {
      const me = await this.api.me();
      const scope = me.token?.scope;
      // Probe the endpoints the panels use, so that a server without them fails here rather than in a dashboard.
      const now = Date.now();
      await this.api.chart({ from: now - 86_400_000, to: now, metrics: ['duration'], granularity: 'hour' });
      const servers = await this.api.servers();
      const who = me.token ? `token "${me.token.name}" (${scope} scope)` : 'a logged-in session';
      const warning = scope === 'admin' ? ' A read-scope token is enough and safer.' : '';
      return {
        status: 'success',
        message: `Connected to duplistatus as ${who}: ${servers.length} server(s).${warning}`,
      };
    } catch (err) {
      if (!(err instanceof DuplistatusApiError)) {
        return fail(`duplistatus check failed: ${messageOf(err)}`);
      }
      switch (err.kind) {
        case 'unauthorized':
          return fail(
            `duplistatus rejected the API token (401): ${err.message}.`,
            'Create a token with scope "read" in duplistatus (POST /api/tokens) and paste it into the API token field.'
          );
        case 'forbidden':
          return fail(
            `The API token has the wrong scope (403): ${err.message}.`,
            'An "upload" token cannot read; create a token with scope "read".'
          );
        case 'not-found':
          return fail(`This duplistatus server lacks an API the plugin needs (${err.path}: 404). Update duplistatus.`);
        case 'unreachable':
          return fail(`Cannot reach duplistatus: ${err.message}.`);
        default:
          return fail(`duplistatus check failed on ${err.path}: ${err.message}`);
      }
    }
  }
}

/** `servers`, `jobs`, `jobs(<server>)` or the editor's object → {type, serverId}. */
export function parseVariableQuery(query: string | Partial<VariableQuery> | undefined): {
  type: 'servers' | 'jobs';
  serverId?: string;
} {
  if (typeof query === 'object' && query !== null) {
    return { type: query.type === 'jobs' ? 'jobs' : 'servers', serverId: query.serverId || undefined };
  }
  const text = (query ?? '').trim();
  const jobs = /^jobs\s*(?:\(\s*(.*?)\s*\))?$/i.exec(text);
  if (jobs) {
    return { type: 'jobs', serverId: jobs[1] || undefined };
  }
  return { type: 'servers' };
}
