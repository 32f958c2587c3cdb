import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { Database } from "../../server/src/db/database";
import { ImportRefusedError } from "../../server/src/importer/original-db";
import { login } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";
import { copyFixture, fingerprint, importFixture, importer, openRaw, tableCounts, tempDir } from "./support";

/**
 * Files that are not a database of the original are refused with a clear reason, and nothing is written: the
 * instance (which already holds an import) is exactly as before.
 */
describe("import refuses corrupt and foreign files, writing nothing", function () {
  this.timeout(120_000);
  let server: TestServer;
  let dir: string;
  let before: { counts: Record<string, number>; prints: Record<string, string> };

  beforeEach(async () => {
    server = await startTestServer();
    dir = tempDir();
    await importFixture(server.app, "backups_0.7.27.db");
    before = { counts: await tableCounts(server.app), prints: await fingerprint(server.app) };
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function refused(file: string, reason: RegExp): Promise<void> {
    let error: unknown;
    try {
      await importer(server.app).importFile(file, { via: "cli" });
    } catch (err) {
      error = err;
    }
    expect(error, "refused").to.be.instanceOf(ImportRefusedError);
    expect((error as Error).message).to.match(reason);
    expect(await tableCounts(server.app)).to.deep.equal(before.counts);
    expect(await fingerprint(server.app)).to.deep.equal(before.prints);
    // No scratch copy is left behind.
    expect(fs.readdirSync(path.join(server.dataDir, "temp")).filter((n) => n.startsWith("import-"))).to.deep.equal([]);
  }

  it("a damaged SQLite file (pages overwritten): refused by the integrity check", async () => {
    const file = copyFixture("backups_1.4.2.db", dir);
    const bytes = fs.readFileSync(file);
    // Keep the header page; scramble pages further in (b-tree pages of the tables).
    for (let i = 4096 * 3; i < bytes.length; i += 97) bytes[i] = (bytes[i] as number) ^ 0x5a;
    fs.writeFileSync(file, bytes);
    await refused(file, /damaged|malformed|not a database/i);
  });

  it("a truncated SQLite file: refused", async () => {
    const file = copyFixture("backups_0.8.21.db", dir);
    fs.truncateSync(file, 4096 * 20);
    await refused(file, /damaged|malformed|not a database|disk image/i);
  });

  it("an SQLite database of something else: refused as not a duplistatus database", async () => {
    const file = path.join(dir, "other.db");
    const db = openRaw(file);
    db.exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('a');`);
    db.close();
    await refused(
      file,
      /not a duplistatus database: it has no backups and servers \(or machines\) tables \(tables: customers\)/,
    );
  });

  it("a backups table without the original's columns: refused", async () => {
    const file = path.join(dir, "lookalike.db");
    const db = openRaw(file);
    db.exec(`CREATE TABLE servers (id TEXT, name TEXT); CREATE TABLE backups (id TEXT, title TEXT);`);
    db.close();
    await refused(file, /not a duplistatus database: the backups table lacks server_id, backup_name, date, status/);
  });

  it("a file that is not SQLite at all, and a missing file: refused", async () => {
    const text = path.join(dir, "backups.db");
    fs.writeFileSync(text, "id,name\n1,not a database\n");
    await refused(text, /not an SQLite database/);
    await refused(path.join(dir, "missing.db"), /no such file/);
  });

  it("a database of this duplistatus: refused, pointing at restore", async () => {
    const own = path.join(dir, "ours.db");
    await Database.migrateFile(own, server.app.log);
    await refused(own, /database of this duplistatus .*restore/);
  });

  it("over HTTP: 400 with the reason, and an audit entry of the refusal", async () => {
    const admin = await login(server);
    const form = new FormData();
    form.set("database", new Blob([Buffer.from("SQLite format 3\0garbage garbage garbage")]), "backups.db");
    const res = await admin.request("/api/database/import", { method: "POST", body: form });
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).to.equal("Cannot import this file");
    expect(body.message).to.match(/damaged|not a database|cannot be opened/i);
    expect(await tableCounts(server.app)).to.deep.equal(before.counts);
    expect(await fingerprint(server.app)).to.deep.equal(before.prints);
    const audit = await server.app.db.read((q) =>
      q.get<{ status: string; error_message: string }>(
        `SELECT status, error_message FROM audit_log WHERE action = 'database_import' ORDER BY id DESC LIMIT 1`,
      ),
    );
    expect(audit?.status).to.equal("failure");
    expect(audit?.error_message).to.equal(body.message);
  });
});
