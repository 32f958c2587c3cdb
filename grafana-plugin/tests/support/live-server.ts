import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real duplistatus server for the plugin tests: `node --import tsx server/src/main.ts` from the repository root,
 * on a free port with a temporary data folder, seeded through its public upload endpoint with the repository's
 * Duplicati fixtures. Only the process started here is ever signalled, by its own handle.
 */

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
export const ADMIN_PASSWORD = 'Plugin-Test-Passw0rd';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface LiveServer {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startServer(): Promise<LiveServer> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'duplistatus-grafana-'));
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      TZ: 'UTC',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      ADMIN_PASSWORD,
      LOG_LEVEL: 'silent',
      // The seeding posts many reports from one address in a row.
      UPLOAD_RATE_LIMIT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      resolve();
    })
  );
  const url = `http://127.0.0.1:${port}`;
  const server: LiveServer = {
    url,
    output: () => out,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => !exited && proc.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(timer);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  // Bounded wait, so a server that cannot start fails the suite with its output instead of hanging it.
  for (let attempt = 0; attempt < 1200; attempt++) {
    if (exited) {
      throw new Error(`duplistatus exited during start-up:\n${out}`);
    }
    try {
      const res = await fetch(`${url}/api/ping`);
      if (res.status === 200) {
        return server;
      }
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await server.stop();
  throw new Error(`duplistatus did not start:\n${out}`);
}

// ---- seeding ----

type Json = Record<string, unknown>;

export interface SeedRun {
  fixture:
    | '01-upstream-sample-success.json'
    | '02-success-loglines-retention.json'
    | '03-warning-generator-style.json'
    | '04-fatal-exception-newer-shape.json';
  machineId: string;
  machineName: string;
  backupName: string;
  begin: Date;
  /** Overrides Data.ParsedResult (e.g. "Error" on a success fixture). */
  status?: 'Success' | 'Warning' | 'Error' | 'Fatal';
  uploadedBytes?: number;
  durationSeconds?: number;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const durationText = (seconds: number) =>
  `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(Math.floor(seconds % 60))}`;

/** A fixture with the run's identity, times, status and uploaded bytes replaced. */
export function report(run: SeedRun): Json {
  const body = JSON.parse(fs.readFileSync(path.join(FIXTURES, run.fixture), 'utf8')) as {
    Data: Json & { BackendStatistics: Json };
    Extra: Json;
  };
  const seconds = run.durationSeconds ?? 600;
  const end = new Date(run.begin.getTime() + seconds * 1000);
  body.Extra['machine-id'] = run.machineId;
  body.Extra['machine-name'] = run.machineName;
  body.Extra['backup-name'] = run.backupName;
  body.Data.BeginTime = run.begin.toISOString();
  body.Data.EndTime = end.toISOString();
  body.Data.Duration = durationText(seconds);
  if (run.status) {
    body.Data.ParsedResult = run.status;
    body.Data.BackendStatistics.ParsedResult = run.status;
  }
  if (run.uploadedBytes !== undefined) {
    body.Data.BackendStatistics.BytesUploaded = run.uploadedBytes;
  }
  for (const key of ['BeginTime', 'EndTime', 'Duration'] as const) {
    if (key in body.Data.BackendStatistics) {
      body.Data.BackendStatistics[key] = body.Data[key];
    }
  }
  return body;
}

export async function upload(server: LiveServer, run: SeedRun): Promise<void> {
  const res = await fetch(`${server.url}/api/upload`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(report(run)),
  });
  if (res.status !== 200) {
    throw new Error(
      `upload of ${run.fixture} as ${run.machineName}/${run.backupName} failed: ${res.status} ${await res.text()}`
    );
  }
}

// ---- tokens (through the browser login flow: CSRF, login, CSRF of the new session, create) ----

function sessionCookie(res: Response): string | undefined {
  return res.headers
    .getSetCookie()
    .find((c) => c.startsWith('sessionId='))
    ?.split(';')[0];
}

export async function createToken(
  server: LiveServer,
  scope: 'read' | 'upload' | 'admin',
  name: string
): Promise<string> {
  const first = await fetch(`${server.url}/api/csrf`);
  const anon = sessionCookie(first) ?? '';
  const { token: anonCsrf } = (await first.json()) as { token: string };
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': anonCsrf, cookie: anon },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  if (login.status !== 200) {
    throw new Error(`login failed: ${login.status} ${await login.text()}`);
  }
  const cookie = sessionCookie(login);
  if (!cookie) {
    throw new Error('login set no sessionId cookie');
  }
  const csrfRes = await fetch(`${server.url}/api/csrf`, { headers: { cookie } });
  const { token: csrf } = (await csrfRes.json()) as { token: string };
  const created = await fetch(`${server.url}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, cookie },
    body: JSON.stringify({ name, scope }),
  });
  if (created.status !== 201) {
    throw new Error(`token creation failed: ${created.status} ${await created.text()}`);
  }
  return ((await created.json()) as { token: string }).token;
}
