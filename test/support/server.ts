import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createDuplistatus, type Duplistatus } from "../../server/src/app";
import { loadConfig } from "../../server/src/config";
import type { Clock } from "../../server/src/core/clock";
import { databaseEnv, databaseOfDataDir, dropTestDatabase } from "./postgres";

export interface TestServer {
  app: Duplistatus;
  url: string;
  dataDir: string;
  /** fetch relative to the server. */
  request(pathname: string, init?: RequestInit): Promise<Response>;
  postJson(pathname: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export function tempDataDir(prefix = "duplistatus-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Starts the real application on an ephemeral port over a fresh SQLite file in a temporary folder; tests talk to it
 * over HTTP. With TEST_DATABASE_URL set, over a fresh PostgreSQL database instead (see postgres.ts).
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { clock?: Clock; dataDir?: string } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDataDir();
  const config = loadConfig({
    ...process.env,
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ADMIN_PASSWORD: "Test-Admin-Passw0rd",
    ...(await databaseEnv(dataDir)),
    ...env,
  });
  const app = await createDuplistatus(config, { clock: options.clock });
  await app.listen();
  const url = app.url();
  const request = (pathname: string, init?: RequestInit) => fetch(`${url}${pathname}`, init);
  return {
    app,
    url,
    dataDir,
    request,
    postJson: (pathname, body, headers = {}) =>
      request(pathname, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    async close() {
      await app.close();
      if (!options.dataDir) {
        const pg = databaseOfDataDir(dataDir);
        if (pg) await dropTestDatabase(pg);
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

export function loadFixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", name), "utf8")) as T;
}
