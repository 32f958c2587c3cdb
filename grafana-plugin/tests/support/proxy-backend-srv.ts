import fs from 'node:fs';
import path from 'node:path';

import type { BackendSrv, BackendSrvRequest, FetchError, FetchResponse } from '@grafana/runtime';
import { Observable } from 'rxjs';

/**
 * Stands in for Grafana's BackendSrv + data proxy, and nothing else: the plugin's own code runs unchanged. A request
 * to `<proxy base>/<path>` is sent with Node's fetch to `<target>/<path>`, with the headers of the first matching
 * route of src/plugin.json rendered from the data source's secure settings, as Grafana's proxy does it. Like
 * Grafana's proxy, it answers 502 when the target does not answer, and turns an upstream 401 into a 400
 * "Authentication to data source failed".
 */

interface Route {
  path: string;
  url?: string;
  headers?: Array<{ name: string; content: string }>;
}

const PLUGIN_JSON = path.resolve(__dirname, '..', '..', 'src', 'plugin.json');

export function pluginRoutes(): Route[] {
  const plugin = JSON.parse(fs.readFileSync(PLUGIN_JSON, 'utf8')) as { routes?: Route[] };
  return plugin.routes ?? [];
}

/** Go-template subset Grafana's routes use here: {{ .URL }}, {{ .JsonData.x }}, {{ .SecureJsonData.x }}. */
function render(
  template: string,
  data: { URL: string; JsonData: Record<string, string>; SecureJsonData: Record<string, string> }
) {
  return template.replace(
    /\{\{\s*\.(URL|JsonData|SecureJsonData)(?:\.(\w+))?\s*\}\}/g,
    (_m, root: string, key?: string) => {
      if (root === 'URL') {
        return data.URL;
      }
      const bag = root === 'JsonData' ? data.JsonData : data.SecureJsonData;
      // Go's text/template renders a missing map key as "<no value>"; duplistatus then sees a wrong token.
      return key !== undefined && key in bag ? (bag[key] as string) : '<no value>';
    }
  );
}

export interface ProxyOptions {
  /** What the DataSource sees as instanceSettings.url. */
  proxyBase: string;
  /** The data source URL configured in Grafana (where the proxy forwards to). */
  target: string;
  jsonData?: Record<string, string>;
  secureJsonData?: Record<string, string>;
  /** Every request the proxy forwarded (method + URL after the proxy, + headers it added), for assertions. */
  log?: Array<{ url: string; headers: Record<string, string> }>;
}

export function proxyBackendSrv(options: ProxyOptions): BackendSrv {
  const routes = pluginRoutes();

  const fetchOnce = async <T>(req: BackendSrvRequest): Promise<FetchResponse<T>> => {
    if (!req.url.startsWith(options.proxyBase + '/')) {
      throw new Error(`request outside the data source proxy: ${req.url}`);
    }
    const proxyPath = req.url.slice(options.proxyBase.length + 1);
    const headers: Record<string, string> = { accept: 'application/json' };
    const route = routes.find((r) => proxyPath.startsWith(r.path));
    const data = {
      URL: options.target,
      JsonData: options.jsonData ?? {},
      SecureJsonData: options.secureJsonData ?? {},
    };
    let base = `${options.target.replace(/\/+$/, '')}/${proxyPath}`;
    if (route?.url) {
      base = `${render(route.url, data).replace(/\/+$/, '')}${proxyPath.slice(route.path.length)}`;
    }
    for (const h of route?.headers ?? []) {
      headers[h.name] = render(h.content, data);
    }
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(req.params ?? {})) {
      if (v !== undefined && v !== null) {
        query.append(k, String(v));
      }
    }
    const url = query.size > 0 ? `${base}?${query.toString()}` : base;
    options.log?.push({ url, headers });

    const config = req;
    let res: Response;
    try {
      res = await fetch(url, { method: req.method ?? 'GET', headers });
    } catch {
      const err: FetchError = { status: 502, statusText: 'Bad Gateway', data: { message: 'Bad Gateway' }, config };
      throw err;
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text, as Grafana's backendSrv does
    }
    if (res.status === 401) {
      // Grafana's proxy replaces an upstream 401 (ds_proxy.go modifyResponse), so the browser never sees one.
      const err: FetchError = {
        status: 400,
        statusText: 'Bad Request',
        data: 'Authentication to data source failed',
        config,
      };
      throw err;
    }
    if (!res.ok) {
      const err: FetchError = { status: res.status, statusText: res.statusText, data: body, config };
      throw err;
    }
    return {
      data: body as T,
      status: res.status,
      statusText: res.statusText,
      ok: true,
      headers: res.headers,
      redirected: res.redirected,
      type: res.type,
      url: res.url,
      config,
    };
  };

  const srv: Partial<BackendSrv> = {
    fetch<T>(req: BackendSrvRequest): Observable<FetchResponse<T>> {
      return new Observable<FetchResponse<T>>((subscriber) => {
        fetchOnce<T>(req).then(
          (r) => {
            subscriber.next(r);
            subscriber.complete();
          },
          (e: unknown) => subscriber.error(e)
        );
      });
    },
  };
  return srv as BackendSrv;
}
