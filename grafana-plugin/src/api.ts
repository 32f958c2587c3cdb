import { getBackendSrv, isFetchError, type BackendSrv } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';

import type {
  ChartData,
  ChartEnvelope,
  DashboardResponse,
  DetailResponse,
  HealthResponse,
  MeResponse,
  Metric,
  ServerJobRow,
  ServerRow,
} from './types';

/**
 * The duplistatus HTTP API as the plugin uses it. All requests go to the data source's proxy URL
 * (`/api/datasources/proxy/uid/<uid>`), so Grafana's server forwards them to duplistatus and adds the API token
 * (plugin.json route); the browser never sees the token. This module only moves JSON and classifies failures;
 * turning answers into frames happens in frames.ts.
 */

export type ApiErrorKind =
  /** No answer from duplistatus (Grafana's proxy answers 502/504, or the network failed). */
  | 'unreachable'
  /** 401: no token, or a wrong / revoked one. */
  | 'unauthorized'
  /** 403: the token's scope does not allow reading. */
  | 'forbidden'
  /** 404: no such server / job / endpoint. */
  | 'not-found'
  /** 400: duplistatus rejected the query. */
  | 'bad-request'
  /** A 2xx answer that is not what duplistatus sends (wrong URL pointing at another service). */
  | 'bad-response'
  /** Any other status. */
  | 'http';

export class DuplistatusApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    readonly status: number,
    message: string,
    readonly path: string,
    readonly body?: unknown
  ) {
    super(message);
    this.name = 'DuplistatusApiError';
  }
}

export interface ChartParams {
  /** Range start and end, epoch ms (sent as ISO 8601, which every duplistatus version parses). */
  from: number;
  to: number;
  metrics: Metric[];
  granularity: 'auto' | 'minute' | 'hour' | 'day' | 'week';
}

export interface RunsPage {
  limit?: number;
  offset?: number;
  backupName?: string;
}

type Query = Record<string, string | number | boolean | undefined>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Body of Grafana's data-proxy answer when the upstream said 401. */
const PROXY_AUTH_FAILED = /^Authentication to data source failed/;

/** The message duplistatus put in an error body (`{error, message}` or the chart envelope), if any. */
function messageOf(body: unknown): string | undefined {
  if (!isRecord(body)) {
    return undefined;
  }
  const parts = [body.error, body.message].filter((p): p is string => typeof p === 'string' && p !== '');
  // Chart errors carry a class name in `error` ("ValidationError") and the text in `message`: show the text.
  if (typeof body.message === 'string' && body.message !== '' && body.status === 'error') {
    return body.message;
  }
  return parts.length > 0 ? parts.join(': ') : undefined;
}

/**
 * One path segment from user input (a server id or job name, possibly from a template variable). Encoded, and
 * `.`/`..` refused: Grafana's proxy would otherwise resolve them and the request could leave /api/.
 */
export function segment(value: string, what: string): string {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === '.' || trimmed === '..') {
    throw new DuplistatusApiError('bad-request', 400, `Invalid ${what}: "${value}"`, '');
  }
  return encodeURIComponent(trimmed);
}

export class DuplistatusApi {
  constructor(
    /** The data source's proxy URL (instanceSettings.url). */
    private readonly baseUrl: string,
    private readonly backendSrv: () => BackendSrv = getBackendSrv
  ) {}

  /** GET a JSON document; failures become DuplistatusApiError with a kind the caller can explain. */
  async get<T>(path: string, params?: Query): Promise<T> {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(params ?? {})) {
      if (v !== undefined) {
        clean[k] = String(v);
      }
    }
    try {
      const response = await lastValueFrom(
        this.backendSrv().fetch<T>({
          url: `${this.baseUrl}${path}`,
          method: 'GET',
          params: clean,
          // Errors are reported by the panel / health check with our own wording, not as a toast.
          showErrorAlert: false,
          validatePath: true,
        })
      );
      return response.data;
    } catch (err) {
      throw this.toApiError(err, path);
    }
  }

  private toApiError(err: unknown, path: string): DuplistatusApiError {
    if (err instanceof DuplistatusApiError) {
      return err;
    }
    if (!isFetchError(err)) {
      const text = err instanceof Error ? err.message : String(err);
      return new DuplistatusApiError('unreachable', 0, `Cannot reach duplistatus: ${text}`, path);
    }
    const status = err.status ?? 0;
    const detail = messageOf(err.data) ?? err.statusText ?? '';
    const withDetail = (text: string) => (detail ? `${text} (${detail})` : text);
    // 502/504 come from Grafana's proxy when the configured URL does not answer; 0 when the request never left.
    if (status === 0 || status === 502 || status === 504) {
      return new DuplistatusApiError('unreachable', status, withDetail('Cannot reach duplistatus'), path, err.data);
    }
    // Grafana's data proxy turns an upstream 401 into a 400 with this text (so that the browser does not take it
    // for an expired Grafana session); a direct 401 is the same failure.
    if (status === 401 || (status === 400 && typeof err.data === 'string' && PROXY_AUTH_FAILED.test(err.data))) {
      return new DuplistatusApiError('unauthorized', 401, withDetail('API token rejected'), path, err.data);
    }
    if (status === 403) {
      return new DuplistatusApiError('forbidden', status, withDetail('API token not allowed'), path, err.data);
    }
    if (status === 404) {
      return new DuplistatusApiError('not-found', status, withDetail('Not found'), path, err.data);
    }
    if (status === 400) {
      return new DuplistatusApiError('bad-request', status, withDetail('Rejected by duplistatus'), path, err.data);
    }
    return new DuplistatusApiError('http', status, withDetail(`duplistatus answered HTTP ${status}`), path, err.data);
  }

  /** GET /api/health. A 503 with a health body is an answer too (the database is unhealthy), not a failure. */
  async health(): Promise<HealthResponse> {
    try {
      return await this.get<HealthResponse>('/api/health');
    } catch (err) {
      if (err instanceof DuplistatusApiError && err.status === 503 && isHealthBody(err.body)) {
        return err.body;
      }
      throw err;
    }
  }

  me(): Promise<MeResponse> {
    return this.get<MeResponse>('/api/auth/me');
  }

  servers(): Promise<ServerRow[]> {
    return this.get<ServerRow[]>('/api/servers');
  }

  /** One row per server × job. */
  serverJobs(): Promise<ServerJobRow[]> {
    return this.get<ServerJobRow[]>('/api/servers', { includeBackups: 'true' });
  }

  dashboard(): Promise<DashboardResponse> {
    return this.get<DashboardResponse>('/api/dashboard');
  }

  /** A page of a server's runs, newest first. */
  runs(serverId: string, page: RunsPage = {}): Promise<DetailResponse> {
    return this.get<DetailResponse>(`/api/detail/${segment(serverId, 'server id')}`, {
      limit: page.limit,
      offset: page.offset,
      backupName: page.backupName,
    });
  }

  /** Chart data for all servers, one server, or one job of a server. */
  async chart(params: ChartParams, serverId?: string, backupName?: string): Promise<ChartData> {
    let path = '/api/chart-data/aggregated';
    if (serverId !== undefined) {
      path = `/api/chart-data/server/${segment(serverId, 'server id')}`;
      if (backupName !== undefined) {
        path += `/backup/${segment(backupName, 'backup job name')}`;
      }
    }
    const envelope = await this.get<ChartEnvelope<ChartData>>(path, {
      from: new Date(params.from).toISOString(),
      to: new Date(params.to).toISOString(),
      // One metric by name; several as a comma list (duplistatus accepts both, and "all").
      metric: params.metrics.join(','),
      granularity: params.granularity,
    });
    if (
      !isRecord(envelope) ||
      envelope.status !== 'success' ||
      !isRecord(envelope.data) ||
      !isRecord(envelope.data.metrics)
    ) {
      throw new DuplistatusApiError(
        'bad-response',
        200,
        messageOf(envelope) ?? 'The chart-data answer is not a duplistatus envelope {"status":"success","data":…}',
        path,
        envelope
      );
    }
    return envelope.data;
  }
}

export function isHealthBody(body: unknown): body is HealthResponse {
  return (
    isRecord(body) &&
    typeof body.status === 'string' &&
    ['healthy', 'degraded', 'unhealthy'].includes(body.status) &&
    typeof body.timestamp === 'string'
  );
}
