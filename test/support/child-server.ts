import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { databaseEnv } from "./postgres";

/** The tests start servers on free ports the same way the benchmarks do. */
export { freePort } from "../../bench/lib/free-port";

/**
 * The real server as a child process (`node --import tsx server/src/main.ts`), for tests that kill it. Only the
 * process started here is ever signalled, by its own handle.
 */

const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildServer {
  proc: ChildProcess;
  url: string;
  exited: Promise<Exit>;
  output(): string;
  /** Signals the process (if still running) and waits for it to exit. */
  stop(signal: NodeJS.Signals): Promise<Exit>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function spawnServer(
  dataDir: string,
  port: number,
  env: Record<string, string> = {},
): Promise<ChildServer> {
  const proc = spawn(process.execPath, ["--import", "tsx", "server/src/main.ts"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: "test",
      TZ: "UTC",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      LOG_LEVEL: "silent",
      // Many uploads from one address is the point of these tests, not abuse.
      UPLOAD_RATE_LIMIT: "0",
      // PostgreSQL mode: the folder's database (made on first use), as the SQLite file would be the folder's.
      ...(await databaseEnv(dataDir)),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    proc.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const child: ChildServer = {
    proc,
    url,
    exited,
    output: () => out,
    async stop(signal) {
      if (!exit) proc.kill(signal);
      return exited;
    },
  };
  // Wait until it answers (bounded, so a server that cannot start fails with its output instead of hanging).
  for (let attempt = 0; attempt < 600; attempt++) {
    if (exit) throw new Error(`server exited during start-up (${JSON.stringify(exit)}):\n${out}`);
    try {
      const res = await post(url, "/api/ping", undefined, "GET");
      if (res.status === 200) return child;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await child.stop("SIGKILL");
  throw new Error(`server did not start:\n${out}`);
}

export interface PlainResponse {
  status: number;
  text: string;
}

/** One request on a fresh connection (no keep-alive pool that could outlive a killed server). */
export function post(baseUrl: string, pathname: string, body?: string, method = "POST"): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${baseUrl}${pathname}`,
      {
        method,
        agent: false,
        headers:
          body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
        res.on("close", () => {
          if (!res.complete) reject(new Error("connection closed before the response was complete"));
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
