import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { type ChildServer, freePort, spawnServer } from "../support/child-server";
import type { TestServer } from "../support/server";
import { tempDataDir } from "../support/server";

/**
 * Several real server processes (`node --import tsx server/src/main.ts`) on one PostgreSQL database, each with its
 * own DATA_DIR holding the same secret key (as a deployment shares .duplistatus.key between its instances).
 */

export interface Instance {
  name: string;
  child: ChildServer;
  dataDir: string;
  url: string;
  /** Enough of a TestServer for the shared helpers (login, upload…): requests go to this process. */
  server: TestServer;
}

export interface Cluster {
  databaseUrl: string;
  instances: Instance[];
  start(name: string, env?: Record<string, string>): Promise<Instance>;
  close(): Promise<void>;
}

export function asTestServer(url: string, dataDir: string): TestServer {
  const request = (pathname: string, init?: RequestInit) => fetch(`${url}${pathname}`, init);
  return {
    app: undefined as unknown as TestServer["app"],
    url,
    dataDir,
    request,
    postJson: (pathname, body, headers = {}) =>
      request(pathname, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    close: async () => undefined,
  };
}

export function cluster(databaseUrl: string, baseEnv: Record<string, string> = {}): Cluster {
  const key = randomBytes(32);
  const instances: Instance[] = [];
  return {
    databaseUrl,
    instances,
    async start(name, env = {}) {
      const dataDir = tempDataDir(`duplistatus-${name}-`);
      fs.writeFileSync(path.join(dataDir, ".duplistatus.key"), key, { mode: 0o600 });
      const child = await spawnServer(dataDir, await freePort(), {
        ADMIN_PASSWORD: "Test-Admin-Passw0rd",
        ...baseEnv,
        ...env,
        DATABASE_URL: databaseUrl,
      });
      const instance = { name, child, dataDir, url: child.url, server: asTestServer(child.url, dataDir) };
      instances.push(instance);
      return instance;
    },
    async close() {
      for (const i of instances) {
        await i.child.stop("SIGTERM");
        fs.rmSync(i.dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** One statement on a database, outside any server (setup and inspection). */
export async function sql<T = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true (or the time is up); returns how long it took, or -1. */
export async function waitFor(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 100,
): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await probe()) return Date.now() - start;
    await sleep(stepMs);
  }
  return (await probe()) ? Date.now() - start : -1;
}
