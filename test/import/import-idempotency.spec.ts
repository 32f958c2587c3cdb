import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { login } from "../support/auth";
import { loadFixture, startTestServer, type TestServer } from "../support/server";
import { deriveFixture, fingerprint, importFixture, importer, tableCounts } from "./support";

/** Importing the same file again changes nothing; what is already here (runs, an admin's edits) is kept. */
describe("import twice: nothing changes", function () {
  this.timeout(120_000);
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(() => server.close());
  /** Derived files live in the server's data folder, removed with it. */
  const sourceDir = () => fs.mkdtempSync(path.join(server.dataDir, "src-"));

  for (const file of ["backups_v0.4.0.db", "backups_v0.6.1.db", "backups_0.7.27.db", "backups_1.4.2.db"]) {
    it(`${file}: the second import writes nothing (row counts and a checksum of every run and setting)`, async () => {
      const first = await importFixture(server.app, file);
      expect(first.runs.imported).to.be.greaterThan(0);
      const counts = await tableCounts(server.app);
      const prints = await fingerprint(server.app);

      const second = await importFixture(server.app, file);
      expect(await tableCounts(server.app)).to.deep.equal(counts);
      expect(await fingerprint(server.app)).to.deep.equal(prints);
      expect(second.runs).to.deep.equal({ ...first.runs, imported: 0, alreadyPresent: first.runs.inFile });
      expect(second.servers).to.deep.equal({ ...first.servers, created: 0, updated: 0 });
      expect(second.jobs).to.deep.equal({ total: first.jobs.total, updated: 0 });
      expect(second.settings).to.deep.equal(first.settings);
    });
  }

  it("keeps runs uploaded here and what an admin set; fills only empty server fields", async () => {
    // A run uploaded to this installation before the switch, for a server the original also knows.
    const report = loadFixture<{ Extra: Record<string, string> }>("03-warning-generator-style.json");
    const up = await server.postJson("/api/upload", report);
    expect(up.status).to.equal(200);
    const serverId = report.Extra["machine-id"] as string;
    const admin = await login(server);
    const patch = await admin.json("PATCH", `/api/servers/${serverId}`, { alias: "Set here" });
    expect(patch.status).to.equal(200);

    // An original file that knows this server, with an alias, a note and a run of the same job at a different time.
    const file = deriveFixture(
      "backups_0.8.21.db",
      (db) => {
        db.prepare(`UPDATE servers SET alias = 'From the original', note = 'Original note' WHERE id = ?`).run(serverId);
      },
      sourceDir(),
    );
    const summary = await importer(server.app).importFile(file, { via: "cli" });
    expect(summary.servers.updated).to.equal(1);
    const row = await server.app.db.read((q) =>
      q.get<{ alias: string; note: string }>(`SELECT alias, note FROM servers WHERE id = ?`, [serverId]),
    );
    expect(row).to.deep.equal({ alias: "Set here", note: "Original note" });
    const runs = await server.app.db.read((q) =>
      q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM backups WHERE server_id = ? AND backup_name = 'Databases'`, [
        serverId,
      ]),
    );
    // 38 runs of the file plus the one uploaded here; the job's state counts them all.
    expect(Number(runs?.n)).to.equal(39);
    const job = await server.app.db.read((q) =>
      q.get<{ run_count: number }>(`SELECT run_count FROM jobs WHERE server_id = ? AND backup_name = 'Databases'`, [
        serverId,
      ]),
    );
    expect(Number(job?.run_count)).to.equal(39);
  });

  it("0.7: a Duplicati address kept in the settings' serverAddresses fills an empty server_url", async () => {
    const file = deriveFixture(
      "backups_0.7.27.db",
      (db) => {
        const row = db.prepare(`SELECT value FROM configurations WHERE key = 'notifications'`).get() as {
          value: string;
        };
        const bundle = JSON.parse(row.value) as Record<string, unknown>;
        bundle.serverAddresses = [
          { serverId: "6db169013c8ab30c3e58b90ec892fbd6", serverUrl: "http://bk-dr-02.lan:8200" },
        ];
        db.prepare(`UPDATE configurations SET value = ? WHERE key = 'notifications'`).run(JSON.stringify(bundle));
      },
      sourceDir(),
    );
    await importer(server.app).importFile(file, { via: "cli" });
    const urls = await server.app.db.read((q) =>
      q.all<{ id: string; server_url: string }>(`SELECT id, server_url FROM servers ORDER BY id`),
    );
    expect(urls.find((u) => u.id === "6db169013c8ab30c3e58b90ec892fbd6")?.server_url).to.equal(
      "http://bk-dr-02.lan:8200",
    );
    expect(urls.filter((u) => u.server_url !== "")).to.have.length(1);
  });

  it("a file holding the same run twice (the original had no unique index) imports it once", async () => {
    const file = deriveFixture(
      "backups_1.4.2.db",
      (db) => {
        db.exec(`INSERT INTO backups SELECT 'dup-' || id, server_id, backup_name, backup_id, date, status, duration_seconds,
        size, uploaded_size, examined_files, warnings, errors, created_at, messages_array, warnings_array, errors_array,
        available_backups, deleted_files, deleted_folders, modified_files, opened_files, added_files,
        size_of_modified_files, size_of_added_files, size_of_examined_files, size_of_opened_files, not_processed_files,
        added_folders, too_large_files, files_with_error, modified_folders, modified_symlinks, added_symlinks,
        deleted_symlinks, partial_backup, dryrun, main_operation, parsed_result, interrupted, version, begin_time,
        end_time, warnings_actual_length, errors_actual_length, messages_actual_length, bytes_downloaded,
        known_file_size, last_backup_date, backup_list_count, reported_quota_error, reported_quota_warning,
        backend_main_operation, backend_parsed_result, backend_interrupted, backend_version, backend_begin_time,
        backend_duration, backend_warnings_actual_length, backend_errors_actual_length
        FROM backups WHERE backup_name = 'Databases'`);
      },
      sourceDir(),
    );
    const summary = await importer(server.app).importFile(file, { via: "cli" });
    expect(summary.runs).to.deep.equal({
      inFile: 51,
      imported: 36,
      alreadyPresent: 0,
      duplicatesInFile: 15,
      unreadable: 0,
    });
  });
});
