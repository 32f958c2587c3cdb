import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { verifyCopy } from "../../server/src/cli/migrate-sqlite-to-postgres";
import { createLogger } from "../../server/src/core/logger";
import { Database } from "../../server/src/db/database";
import { FIXTURES, fixture, makeReport, uploadOk } from "../support/api";
import { login } from "../support/auth";
import { POSTGRES_ONLY, createTestDatabase, dropTestDatabase, postgresMode } from "../support/postgres";
import { startTestServer, tempDataDir, type TestServer } from "../support/server";
import { sql } from "./support";

/**
 * `npm run migrate:sqlite-to-postgres`: a SQLite data folder with runs, users, tokens, settings and audit entries is
 * moved to a fresh PostgreSQL database; the tool verifies row counts and checksums (every run's), and a server on
 * the PostgreSQL database then answers exactly as the SQLite one did.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const DAY = 86_400_000;
/** A fixed chart range (the default one ends at the moment of the request). */
const RANGE = { from: new Date(Date.now() - 40 * DAY).toISOString(), to: new Date(Date.now() + DAY).toISOString() };

function runTool(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "server/src/cli/migrate-sqlite-to-postgres.ts", ...args],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: "", ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
}

/** What a client sees: the read endpoints the dashboard and integrations use. */
async function answers(s: TestServer): Promise<Record<string, unknown>> {
  const admin = await login(s);
  const get = async (p: string) => {
    const r = await admin.request(p);
    expect(r.status, p).to.equal(200);
    const body = (await r.json()) as Record<string, unknown>;
    delete body.lastUpdated;
    delete body.secondsSinceLastBackup;
    return body;
  };
  return {
    summary: await get("/api/summary"),
    lastbackups: await get("/api/lastbackups/m-1"),
    servers: await get("/api/servers"),
    settings: await get("/api/configuration/unified"),
    // Without the login times: answers() itself logs in.
    users: JSON.parse(
      JSON.stringify(await get("/api/users"), (k, v: unknown) => (k === "lastLoginAt" ? undefined : v)),
    ),
    chart: await get(`/api/chart-data/aggregated?granularity=day&from=${RANGE.from}&to=${RANGE.to}`),
  };
}

if (!postgresMode) {
  describe("SQLite → PostgreSQL migration tool", () => {
    it(`pending: ${POSTGRES_ONLY}`);
  });
} else {
  describe("SQLite → PostgreSQL migration tool", function () {
    this.timeout(120_000);
    let dataDir: string;
    let file: string;
    let want: Record<string, unknown>;
    const made: string[] = [];

    before(async () => {
      dataDir = tempDataDir();
      // A SQLite server (DATABASE_URL emptied), with a bit of everything.
      const s = await startTestServer({ DATABASE_URL: "", UPLOAD_RATE_LIMIT: "0" }, { dataDir });
      for (const name of FIXTURES) await uploadOk(s, fixture(name));
      const now = Date.now();
      for (let n = 0; n < 30; n++) {
        await uploadOk(
          s,
          makeReport({
            machineId: `m-${n % 3}`,
            backupName: `Job ${n % 2}`,
            begin: new Date(now - n * DAY).toISOString(),
            status: n % 5 === 0 ? "Error" : "Success",
            durationSeconds: 60.5 + n,
            uploaded: 2 ** 40 + n,
          }),
        );
      }
      const admin = await login(s);
      expect(
        (await admin.json("POST", "/api/users", { username: "viewer", password: "Viewer-Passw0rd" })).status,
      ).to.equal(201);
      expect((await admin.json("POST", "/api/tokens", { name: "grafana", scope: "read" })).status).to.equal(201);
      expect(
        (
          await admin.json("POST", "/api/configuration/backup-settings", {
            backupSettings: { "m-1:Job 1": { expectedInterval: "12h" } },
          })
        ).status,
      ).to.equal(200);
      want = await answers(s);
      await s.close();
      file = path.join(dataDir, "backups.db");
    });
    after(async () => {
      for (const url of made) await dropTestDatabase(url).catch(() => undefined);
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("copies everything, verifies counts and every run's checksum, and the server answers the same", async () => {
      const target = await createTestDatabase();
      made.push(target);
      const r = await runTool(["--from", file, "--to", target]);
      expect(r.code, r.out).to.equal(0);
      expect(r.out).to.match(/runs: 34 checksum\(s\) compared, 0 different, 0 missing, 0 unexpected/);
      expect(r.out).to.include("verified");
      expect(r.out).not.to.include("DIFF");
      // The identity sequence follows the copied audit ids: new entries get new ids.
      const [{ max }] = (await sql<{ max: string }>(target, "SELECT MAX(id) AS max FROM audit_log")) as [
        { max: string },
      ];
      // Same data folder (its secret key), PostgreSQL now.
      const s = await startTestServer({ DATABASE_URL: target }, { dataDir });
      try {
        const got = await answers(s);
        for (const key of Object.keys(want)) expect(got[key], key).to.deep.equal(want[key]);
        const [{ max: after }] = (await sql<{ max: string }>(target, "SELECT MAX(id) AS max FROM audit_log")) as [
          { max: string },
        ];
        expect(Number(after)).to.be.greaterThan(Number(max));
        // The viewer's password and the token hash came across: the viewer can log in.
        await login(s, "viewer", "Viewer-Passw0rd");
      } finally {
        await s.close();
      }
    });

    it("refuses a target that holds rows unless --force, and leaves the source untouched", async () => {
      const target = await createTestDatabase();
      made.push(target);
      const before = fs.readFileSync(file);
      expect((await runTool(["--from", file, "--to", target])).code).to.equal(0);
      const again = await runTool(["--from", file, "--to", target]);
      expect(again.code).to.equal(1);
      expect(again.out).to.match(/already holds \d+ row/);
      const forced = await runTool(["--from", file, "--to", target, "--force"]);
      expect(forced.code, forced.out).to.equal(0);
      expect(fs.readFileSync(file).equals(before), "source file changed").to.equal(true);
    });

    it("finds a run that differs after the copy", async () => {
      const target = await createTestDatabase();
      made.push(target);
      expect((await runTool(["--from", file, "--to", target])).code).to.equal(0);
      const [{ id }] = (await sql<{ id: string }>(target, "SELECT id FROM backups ORDER BY id LIMIT 1")) as [
        { id: string },
      ];
      await sql(target, "UPDATE backups SET uploaded_size = uploaded_size + 1 WHERE id = $1", [id]);
      const log = createLogger("silent");
      const source = await Database.open({ sqliteFile: file, synchronous: "NORMAL", cacheMb: 8 }, log);
      const pg = await Database.open({ sqliteFile: "", synchronous: "NORMAL", cacheMb: 8, databaseUrl: target }, log);
      try {
        const report = await verifyCopy(source, pg);
        expect(report.ok).to.equal(false);
        expect(report.runs.mismatched).to.deep.equal([id]);
        const backups = report.tables.find((t) => t.table === "backups");
        expect(backups?.sourceRows).to.equal(backups?.targetRows);
        expect(backups?.sourceChecksum).to.not.equal(backups?.targetChecksum);
      } finally {
        await source.close();
        await pg.close();
      }
    });

    it("exits 2 without a PostgreSQL target", async () => {
      const r = await runTool(["--from", file]);
      expect(r.code).to.equal(2);
      expect(r.out).to.match(/--to postgres:/);
    });
  });
}
