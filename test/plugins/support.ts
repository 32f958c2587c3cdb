import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { expect } from "chai";
import type { BrowserSession } from "../support/auth";

/** Helpers of the plugin specs: a webhook receiver with scripted answers, and readers of the plugin API. */

export interface ReceivedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface WebhookReceiver {
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:1234/ */
  url: string;
  requests: ReceivedRequest[];
  /** Statuses to answer with, in order; once used up, 200. */
  script: number[];
  /** Requests to this path get no answer at all. */
  hangPaths: Set<string>;
  on(pathname: string): ReceivedRequest[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const script: number[] = [];
  const hangPaths = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://receiver");
      requests.push({
        method: req.method ?? "",
        path: url.pathname,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      });
      if (hangPaths.has(url.pathname)) return;
      const status = script.shift() ?? 200;
      res.statusCode = status;
      res.setHeader("content-type", "application/json");
      res.end(status < 300 ? '{"ok":true}' : '{"error":"scripted"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    script,
    hangPaths,
    on: (pathname) => requests.filter((r) => r.path === pathname),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface PluginInfo {
  name: string;
  version: string | null;
  description: string | null;
  source: "builtin" | "user";
  file: string | null;
  enabled: boolean;
  state: "loaded" | "running" | "degraded" | "stopped" | "disabled" | "failed";
  error: string | null;
  startedAt: string | null;
  handlerErrors: number;
  failures: number;
  lastFailureAt: string | null;
  recentFailures: Array<{ at: string; message: string }>;
  events: string[];
  endpoints: string[];
  configured: boolean;
}

export async function json<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, `${res.url}: ${text}`).to.equal(status);
  return JSON.parse(text) as T;
}

export async function plugins(session: BrowserSession): Promise<PluginInfo[]> {
  return (await json<{ plugins: PluginInfo[] }>(await session.request("/api/plugins"), 200)).plugins;
}

export async function plugin(session: BrowserSession, name: string): Promise<PluginInfo> {
  const found = (await plugins(session)).find((p) => p.name === name);
  if (!found) throw new Error(`plugin ${name} is not listed`);
  return found;
}

/** Writes a file (and its folders) under `dir`. */
export function writeFile(dir: string, relative: string, text: string): string {
  const file = path.join(dir, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
