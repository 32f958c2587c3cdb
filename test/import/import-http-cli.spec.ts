import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { login } from "../support/auth";
import { databaseEnv } from "../support/postgres";
import { startTestServer, type TestServer } from "../support/server";
import { fingerprint, fixturePath, tableCounts, tempDir } from "./support";

/** The two ways in: POST /api/database/import (multipart) and `npm run import:duplistatus` (a child process). */

const ROOT = path.resolve(__dirname, "..", "..");

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ["--import", "tsx", "server/src/cli/import-duplistatus.ts", ...args], env);

describe("POST /api/database/import", function () {
  this.timeout(120_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const form = (file?: string, key?: string): FormData => {
    const f = new FormData();
    if (file) f.set("database", new Blob([fs.readFileSync(fixturePath(file))]), file);
    if (key !== undefined) f.set("key", key);
    return f;
  };

  it("needs an administrator", async () => {
    const anonymous = await server.request("/api/database/import", { method: "POST", body: form("backups_1.4.2.db") });
    expect(anonymous.status).to.equal(401);
  });

  it("answers 400 without a file, and for a key that is not 32 bytes", async () => {
    const admin = await login(server);
    const none = await admin.request("/api/database/import", { method: "POST", body: form() });
    expect(none.status).to.equal(400);
    expect(((await none.json()) as { error: string }).error).to.equal("No file uploaded");
    const badKey = await admin.request("/api/database/import", {
      method: "POST",
      body: form("backups_1.4.2.db", "not-a-key"),
    });
    expect(badKey.status).to.equal(400);
    expect(await badKey.json()).to.deep.include({ error: "Invalid key" });
    expect((await tableCounts(server.app)).backups).to.equal(0);
  });

  it("imports the uploaded file and answers the summary; an audit entry records it", async () => {
    const admin = await login(server);
    const res = await admin.request("/api/database/import", { method: "POST", body: form("backups_0.8.21.db") });
    expect(res.status, await res.clone().text()).to.equal(200);
    const body = (await res.json()) as Record<string, unknown> & { runs: { imported: number }; source: unknown };
    expect(body.success).to.equal(true);
    expect(body.message).to.equal("Imported 406 run(s) of 406 and 3 server(s) from schema 3.1 (duplistatus 0.8.x)");
    expect(body.source).to.deep.equal({
      fileName: "backups_0.8.21.db",
      schemaVersion: "3.1",
      description: "schema 3.1 (duplistatus 0.8.x)",
    });
    expect(body.runs.imported).to.equal(406);
    const summary = await (await server.request("/api/summary")).json();
    expect(summary).to.include({ totalServers: 3 });
    const audit = await server.app.db.read((q) =>
      q.get<{ status: string; username: string; details: string }>(
        `SELECT status, username, details FROM audit_log WHERE action = 'database_import' ORDER BY id DESC LIMIT 1`,
      ),
    );
    expect(audit).to.include({ status: "success", username: "admin" });
    expect(JSON.parse(audit?.details ?? "{}")).to.include({
      source: "http",
      fileName: "backups_0.8.21.db",
      schemaVersion: "3.1",
    });
    // No upload or scratch copy stays in DATA_DIR/temp.
    expect(fs.readdirSync(path.join(server.dataDir, "temp"))).to.deep.equal([]);
  });
});

describe("npm run import:duplistatus", function () {
  this.timeout(120_000);
  let dataDir: string;
  beforeEach(() => {
    dataDir = tempDir("duplistatus-import-cli-");
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("imports into DATA_DIR while the server runs, prints a summary; a second run changes nothing", async () => {
    const server = await startTestServer({}, { dataDir });
    try {
      const env = { DATA_DIR: dataDir, ...(await databaseEnv(dataDir)) };
      const r = await run("npm", ["run", "-s", "import:duplistatus", "--", fixturePath("backups_v0.6.1.db")], env);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr, "no progress bar off a terminal").to.equal("");
      const lines = r.stdout.trim().split("\n");
      expect(lines[0]).to.match(/^import:duplistatus: imported .*backups_v0\.6\.1\.db into /);
      expect(r.stdout).to.include("  file:     schema 2.0 (duplistatus 0.6.x)");
      expect(r.stdout).to.include("  servers:  3 in the file (3 new, 0 updated here)");
      expect(r.stdout).to.include("  runs:     254 imported, 0 already present (254 in the file)");
      expect(r.stdout).to.include("  settings: 6 job(s), 0 server default(s); overdue tolerance");
      expect(r.stdout).to.include("  secrets:  0 imported, 0 to re-enter");

      // The running server sees the runs at once.
      const summary = (await (await server.request("/api/summary")).json()) as { totalServers: number };
      expect(summary.totalServers).to.equal(3);
      const prints = await fingerprint(server.app);

      const again = await cli([fixturePath("backups_v0.6.1.db"), "--data-dir", dataDir], await databaseEnv(dataDir));
      expect(again.code, again.stderr).to.equal(0);
      expect(again.stdout).to.include("  runs:     0 imported, 254 already present (254 in the file)");
      expect(await fingerprint(server.app)).to.deep.equal(prints);
    } finally {
      await server.close();
    }
  });

  it("refuses a foreign file (exit 2, nothing written) and wrong usage (exit 2)", async () => {
    const env = await databaseEnv(dataDir);
    const foreign = await cli([path.join(ROOT, "package.json"), "--data-dir", dataDir], env);
    expect(foreign.code).to.equal(2);
    expect(foreign.stderr)
      .to.include("cannot import")
      .and.include("not an SQLite database")
      .and.include("nothing was written");
    expect(foreign.stdout).to.equal("");

    const usage = await cli([], env);
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.include("usage: npm run import:duplistatus -- <path to backups.db>");

    const badKey = await cli(
      [fixturePath("backups_1.4.2.db"), "--key", path.join(ROOT, "package.json"), "--data-dir", dataDir],
      env,
    );
    expect(badKey.code).to.equal(2);
    expect(badKey.stderr).to.include("the key must be the original's data/.duplistatus.key");

    // Nothing was imported by any of these.
    const server = await startTestServer({}, { dataDir });
    try {
      expect((await tableCounts(server.app)).backups).to.equal(0);
    } finally {
      await server.close();
    }
  });
});
