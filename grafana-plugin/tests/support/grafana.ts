import {
  dateTime,
  type DataQueryRequest,
  type DataSourceInstanceSettings,
  type ScopedVars,
  type TypedVariableModel,
} from '@grafana/data';
import { setBackendSrv, setTemplateSrv, type TemplateSrv } from '@grafana/runtime';

import { DataSource } from '../../src/datasource';
import type { DuplistatusOptions, DuplistatusQuery } from '../../src/types';
import { proxyBackendSrv, type ProxyOptions } from './proxy-backend-srv';

/** The Grafana side of the tests: a data source instance as Grafana builds it, requests, and template variables. */

export const UID = 'duplistatus';
export const PROXY_BASE = `/api/datasources/proxy/uid/${UID}`;

export function makeDataSource(): DataSource {
  const settings = {
    id: 1,
    uid: UID,
    type: 'duplistatus-backup-datasource',
    name: 'duplistatus',
    // With access "proxy", Grafana hands the plugin its proxy path, not the duplistatus URL.
    url: PROXY_BASE,
    access: 'proxy',
    jsonData: {},
    readOnly: false,
    meta: { id: 'duplistatus-backup-datasource', name: 'duplistatus', type: 'datasource', info: {} },
  } as unknown as DataSourceInstanceSettings<DuplistatusOptions>;
  return new DataSource(settings);
}

/** Routes the runtime's fetch to `target` the way Grafana's data proxy would, with this API token. */
export function useProxy(target: string, apiToken: string | undefined, log?: ProxyOptions['log']): void {
  setBackendSrv(
    proxyBackendSrv({
      proxyBase: PROXY_BASE,
      target,
      secureJsonData: apiToken === undefined ? {} : { apiToken },
      log,
    })
  );
}

/**
 * Dashboard variables with Grafana's formatting rules for what the plugin uses: `$name`, `${name}`, `[[name]]`,
 * the default format (a multi-value joins as {a,b}) and `json` (the value or the list, JSON-encoded).
 */
export function useVariables(vars: Record<string, string | string[]>): void {
  const format = (value: string | string[], fmt?: string | Function) => {
    if (fmt === 'json') {
      return JSON.stringify(value);
    }
    return Array.isArray(value) ? (value.length === 1 ? value[0]! : `{${value.join(',')}}`) : value;
  };
  const srv: TemplateSrv = {
    getVariables: () => Object.keys(vars).map((name) => ({ name, type: 'custom' }) as unknown as TypedVariableModel),
    replace: (target?: string, _scoped?: ScopedVars, fmt?: string | Function) =>
      (target ?? '').replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, (match, a?: string, b?: string, c?: string) => {
        const name = (a ?? b ?? c)!;
        return name in vars ? format(vars[name]!, fmt) : match;
      }),
    containsTemplate: (target?: string) => /\$\w+|\$\{\w+\}|\[\[\w+\]\]/.test(target ?? ''),
    updateTimeRange: () => {},
  };
  setTemplateSrv(srv);
}

export function request(
  targets: DuplistatusQuery[],
  from: number,
  to: number,
  intervalMs = 3_600_000
): DataQueryRequest<DuplistatusQuery> {
  return {
    requestId: 'test',
    interval: `${intervalMs / 1000}s`,
    intervalMs,
    range: { from: dateTime(from), to: dateTime(to), raw: { from: dateTime(from), to: dateTime(to) } },
    scopedVars: {},
    targets,
    timezone: 'utc',
    app: 'dashboard',
    startTime: Date.now(),
  } as unknown as DataQueryRequest<DuplistatusQuery>;
}
