import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { DataSource } from "typeorm";
import { hashPassword } from "../../server/src/auth/passwords";
import { rebuildChartRollups } from "../../server/src/charts/rollups";
import { insertUser } from "../../server/src/auth/user-store";
import { type SqliteConnection, openSqliteFile } from "../../server/src/db/dialect";
import { SQLITE_MIGRATIONS } from "../../server/src/db/migrations/sqlite";
import type { Summary } from "../../server/src/reporting/schemas";
import {
  type DuplicatiReportJson,
  type ErrorBody,
  FIXTURES,
  type ReadResponse,
  fixture,
  getJson,
  lastBackups,
  readJson,
  summary,
  upload,
} from "../support/api";
import { type BrowserSession, TEST_ADMIN_PASSWORD, login } from "../support/auth";
import { startTestServer, tempDataDir, type TestServer } from "../support/server";
import { type SqliteDatabase, assertConsistentDatabase, count, databaseFile, openDatabase } from "../support/sqlite";

/**
 * GET /api/database/backup and POST /api/database/restore (reference §2.7): online backups taken while uploads go on,
 * restored into a fresh instance; SQL dumps; refused files leave the live database untouched; sessions end.
 */

const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");
const SERVERS = 8;
const UPLOADS = 200;
/** Runs stored before the test, so the online backup spans many steps while the uploads arrive. */
const PRELOAD = 2000;

interface RestoreBody {
  success: true;
  message: string;
  safetyBackupPath: string;
  requiresReauth: true;
}

/** Fixture `i mod 4` as a run of one of SERVERS machines, each run an hour after the previous one. */
function variedReport(i: number): DuplicatiReportJson {
  const r = fixture(FIXTURES[i % FIXTURES.length] ?? FIXTURES[0]);
  const server = i % SERVERS;
  const begin = Date.parse(String(r.Data.BeginTime));
  const end = Date.parse(String(r.Data.EndTime));
  const newBegin = Date.UTC(2025, 0, 1) + i * 3_600_000;
  r.Data.BeginTime = new Date(newBegin).toISOString();
  r.Data.EndTime = new Date(newBegin + (end - begin)).toISOString();
  r.Data.BackendStatistics.BytesUploaded = 1000 + i;
  r.Extra["machine-id"] = `maint-machine-${server}`;
  r.Extra["machine-name"] = `maint-host-${server}`;
  return r;
}

const serverIds = Array.from({ length: SERVERS }, (_, i) => `maint-machine-${i}`);

/** The totals two databases with the same runs agree on (lastUpdated and the time-dependent fields left out). */
function totals(s: Summary): Partial<Summary> {
  const { lastUpdated: _u, secondsSinceLastBackup: _s, overdueBackupsCount: _o, ...rest } = s;
  return rest;
}

async function download(session: BrowserSession, format?: string): Promise<{ res: Response; bytes: Buffer }> {
  const res = await session.request(`/api/database/backup${format ? `?format=${format}` : ""}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, bytes };
}

async function restore(
  session: BrowserSession,
  bytes: Buffer,
  fileName: string,
): Promise<ReadResponse<RestoreBody & ErrorBody>> {
  const form = new FormData();
  form.append("database", new Blob([new Uint8Array(bytes)]), fileName);
  return readJson(
    await session.request("/api/database/restore", { method: "POST", body: form }),
    `restore ${fileName}`,
  );
}

function safetyCopies(dataDir: string): string[] {
  return fs.readdirSync(dataDir).filter((n) => /^backups-safety-backup-.*\.db$/.test(n));
}

/** Opens a database file that is not a running server's (a downloaded backup) by placing it as backups.db. */
function asDataDir(bytes: Buffer): string {
  const dir = tempDataDir("duplistatus-backupfile-");
  fs.writeFileSync(databaseFile(dir), bytes);
  return dir;
}

function withFile<T>(bytes: Buffer, work: (db: SqliteDatabase, dir: string) => T): T {
  const dir = asDataDir(bytes);
  const db = openDatabase(dir);
  try {
    return work(db, dir);
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A database file built by `build` on a fresh SQLite file. */
function scratchDatabase(build: (conn: SqliteConnection, file: string) => void): Buffer {
  const dir = tempDataDir("duplistatus-scratch-");
  try {
    const file = path.join(dir, "scratch.db");
    const conn = openSqliteFile(file, { readonly: false });
    try {
      build(conn, file);
    } finally {
      conn.close();
    }
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const quietLogger = {
  logQuery() {},
  logQueryError() {},
  logQuerySlow() {},
  logSchemaBuild() {},
  logMigration() {},
  log() {},
};

/**
 * `from`'s data in a database of the first schema version (only the first migration applied, so without the
 * accounts, sessions, tokens and audit tables and without any column added since), as an older installation has it.
 */
async function olderDatabase(from: Buffer): Promise<Buffer> {
  const dir = tempDataDir("duplistatus-older-");
  try {
    const sourceFile = path.join(dir, "source.db");
    fs.writeFileSync(sourceFile, from);
    const file = path.join(dir, "older.db");
    const first = SQLITE_MIGRATIONS[0];
    if (!first) throw new Error("no migrations");
    const ds = new DataSource({ type: "better-sqlite3", database: file, migrations: [first], logger: quietLogger });
    await ds.initialize();
    await ds.runMigrations();
    await ds.destroy();
    const conn = openSqliteFile(file, { readonly: false });
    try {
      conn.prepare("ATTACH DATABASE ? AS src").run(sourceFile);
      for (const table of ["servers", "backups", "jobs", "configurations"]) {
        const columns = (conn.prepare(`PRAGMA main.table_info("${table}")`).all() as Array<{ name: string }>)
          .map((c) => `"${c.name}"`)
          .join(", ");
        conn.exec(`INSERT INTO main."${table}" (${columns}) SELECT ${columns} FROM src."${table}"`);
      }
      conn.exec("DETACH DATABASE src");
    } finally {
      conn.close();
    }
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The chart roll-ups equal a rebuild from the runs: restored with them, or rebuilt by the restore's migration. */
async function expectRollupsCurrent(s: TestServer): Promise<void> {
  const read = () => {
    const db = openDatabase(s.dataDir);
    try {
      return db.prepare("SELECT * FROM chart_rollups ORDER BY granularity, bucket_start").all();
    } finally {
      db.close();
    }
  };
  const restored = read();
  expect(restored.length, "roll-ups present").to.be.greaterThan(0);
  await s.app.db.write((q) => rebuildChartRollups(q, s.app.db.dialect));
  expect(restored, "chart roll-ups after the restore").to.deep.equal(read());
}

async function expectSameData(target: TestServer, source: TestServer): Promise<void> {
  expect(totals(await summary(target))).to.deep.equal(totals(await summary(source)));
  for (const id of serverIds) {
    const [a, b] = [await lastBackups(source, id), await lastBackups(target, id)];
    expect(b.status, `lastbackups ${id}`).to.equal(a.status);
    expect(b.body, `lastbackups ${id}`).to.deep.equal(a.body);
  }
  await expectRollupsCurrent(target);
}

describe("database backup and restore (GET /api/database/backup, POST /api/database/restore)", function () {
  let source: TestServer;
  let target: TestServer;
  let sourceAdmin: BrowserSession;
  let targetAdmin: BrowserSession;
  let liveBackup: Buffer;
  let quietBackup: Buffer;

  before(async () => {
    source = await startTestServer({ UPLOAD_RATE_LIMIT: "0" });
    target = await startTestServer({ UPLOAD_RATE_LIMIT: "0" });
    sourceAdmin = await login(source);
    targetAdmin = await login(target);
  });

  after(async () => {
    await source?.close();
    await target?.close();
  });

  describe("access", () => {
    const calls: Array<[string, string, RequestInit]> = [
      ["GET", "/api/database/backup", {}],
      ["POST", "/api/database/restore", { method: "POST", body: new FormData() }],
    ];

    it("answers 401 to anonymous callers", async () => {
      for (const [method, pathname, init] of calls) {
        const r = await getJson<ErrorBody>(source, pathname, init);
        expect(r.status, `${method} ${pathname}`).to.equal(401);
      }
    });

    it("answers 403 to a logged-in user who is not an administrator, and to an admin session without CSRF token", async () => {
      const passwordHash = await hashPassword("Plain-User-Passw0rd");
      await source.app.db.write((q) =>
        insertUser(q, {
          username: "viewer",
          passwordHash,
          isAdmin: false,
          mustChangePassword: false,
          now: new Date().toISOString(),
        }),
      );
      const viewer = await login(source, "viewer", "Plain-User-Passw0rd");
      for (const [method, pathname, init] of calls) {
        const r = await readJson<ErrorBody>(await viewer.request(pathname, init), `${method} ${pathname}`);
        expect(r.status, `${method} ${pathname}`).to.equal(403);
        expect(r.body.error).to.equal("Administrator access required");
      }
      const noCsrf = await getJson<ErrorBody>(source, "/api/database/restore", {
        method: "POST",
        body: new FormData(),
        headers: { cookie: sourceAdmin.cookie },
      });
      expect(noCsrf.status).to.equal(403);
    });
  });

  describe("backup", () => {
    it(`takes a consistent .db backup while ${UPLOADS} uploads stream in`, async () => {
      const preload = Array.from({ length: PRELOAD }, (_, i) => variedReport(UPLOADS + i));
      expect(await source.app.services.ingest.ingestBatch(preload)).to.deep.equal({ stored: PRELOAD, duplicates: 0 });
      const queue = Array.from({ length: UPLOADS }, (_, i) => i);
      let done = 0;
      let backup: Promise<{ res: Response; bytes: Buffer }> | undefined;
      const worker = async (): Promise<void> => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          const r = await upload(source, variedReport(i));
          expect(r.status, r.text).to.equal(200);
          if (++done === UPLOADS / 4) backup = download(sourceAdmin);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      expect(backup, "the backup was started").to.not.equal(undefined);
      const { res, bytes } = await (backup as Promise<{ res: Response; bytes: Buffer }>);

      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.equal("application/octet-stream");
      expect(res.headers.get("content-disposition")).to.match(
        /^attachment; filename="duplistatus-backup-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.db"$/,
      );
      expect(Number(res.headers.get("content-length"))).to.equal(bytes.length);
      expect(bytes.subarray(0, 16).equals(SQLITE_HEADER)).to.equal(true);

      // A snapshot of committed uploads only: every job's state agrees with its runs, no half-stored upload.
      const dir = asDataDir(bytes);
      try {
        const runs = assertConsistentDatabase(dir);
        expect(runs).to.be.within(PRELOAD + UPLOADS / 4, PRELOAD + UPLOADS);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      liveBackup = bytes;
      expect((await summary(source)).totalBackupsRuns).to.equal(PRELOAD + UPLOADS);
    });

    it("answers 400 to an unknown format", async () => {
      const r = await readJson<ErrorBody>(await sourceAdmin.request("/api/database/backup?format=zip"), "format=zip");
      expect(r.status).to.equal(400);
      expect(r.body.error).to.equal("Invalid format");
    });

    it("writes an SQL dump as a text attachment, and leaves no temporary file behind", async () => {
      const { res, bytes } = await download(sourceAdmin, "sql");
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.match(/^text\/plain/);
      expect(res.headers.get("content-disposition")).to.match(
        /^attachment; filename="duplistatus-backup-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.sql"$/,
      );
      const text = bytes.toString("utf8");
      expect(text.startsWith("BEGIN TRANSACTION;\n")).to.equal(true);
      expect(text.endsWith("COMMIT;\n")).to.equal(true);
      expect(text).to.include("CREATE TABLE servers");
      expect(text.match(/^INSERT INTO "backups" /gm)?.length).to.equal(PRELOAD + UPLOADS);
      // The earlier .db download has been streamed and deleted by now, like this one once it is read.
      const leftovers = fs.readdirSync(path.join(source.dataDir, "temp")).filter((n) => n.startsWith("backup-"));
      expect(leftovers.length).to.be.at.most(1);
    });

    it("records database_backup in the audit log", () => {
      const db = openDatabase(source.dataDir);
      try {
        expect(
          count(db, `SELECT COUNT(*) AS n FROM audit_log WHERE action = 'database_backup' AND username = 'admin'`),
        ).to.equal(2);
      } finally {
        db.close();
      }
    });
  });

  describe("restore", () => {
    it("restores the backup taken under load into a fresh instance", async () => {
      const expected = withFile(liveBackup, (db) => ({
        runs: count(db, "SELECT COUNT(*) AS n FROM backups"),
        servers: count(db, "SELECT COUNT(*) AS n FROM servers"),
        uploaded: count(db, "SELECT COALESCE(SUM(uploaded_size), 0) AS n FROM backups"),
      }));
      const r = await restore(targetAdmin, liveBackup, "backup.db");
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.deep.equal({
        success: true,
        message: "Database restored successfully from DB file",
        safetyBackupPath: r.body.safetyBackupPath,
        requiresReauth: true,
      });
      expect(r.body.safetyBackupPath).to.match(
        /^backups-safety-backup-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z(-\d+)?\.db$/,
      );
      expect(fs.existsSync(path.join(target.dataDir, r.body.safetyBackupPath)), "safety copy on disk").to.equal(true);

      const s = await summary(target);
      expect(s.totalBackupsRuns).to.equal(expected.runs);
      expect(s.totalServers).to.equal(expected.servers);
      expect(s.totalUploadedSize).to.equal(expected.uploaded);
      assertConsistentDatabase(target.dataDir);
    });

    it("ends every session: the old cookie is refused, a new login works", async () => {
      const old = await readJson<ErrorBody>(await targetAdmin.request("/api/database/backup"), "old cookie");
      expect(old.status).to.equal(401);
      targetAdmin = await login(target);
      const fresh = await targetAdmin.request("/api/database/backup");
      expect(fresh.status).to.equal(200);
      await fresh.arrayBuffer();
    });

    it("restores a quiet .db backup: the same runs, servers and latest backups as the source", async () => {
      quietBackup = (await download(sourceAdmin)).bytes;
      // No extension: recognised by the SQLite header.
      const r = await restore(targetAdmin, quietBackup, "backup-file");
      expect(r.status, r.text).to.equal(200);
      expect(r.body.message).to.equal("Database restored successfully from DB file");
      await expectSameData(target, source);
      targetAdmin = await login(target);
    });

    it("restores an SQL dump into a fresh instance", async () => {
      const fresh = await startTestServer();
      try {
        const admin = await login(fresh);
        const { bytes } = await download(sourceAdmin, "sql");
        const r = await restore(admin, bytes, "duplistatus-backup.sql");
        expect(r.status, r.text).to.equal(200);
        expect(r.body.message).to.equal("Database restored successfully from SQL file");
        await expectSameData(fresh, source);
        assertConsistentDatabase(fresh.dataDir);
        // Sniffed from the content when the name says nothing.
        const again = await restore(await login(fresh), bytes, "dump.txt");
        expect(again.status, again.text).to.equal(200);
        expect(again.body.message).to.equal("Database restored successfully from SQL file");
      } finally {
        await fresh.close();
      }
    });

    it("migrates an older duplistatus database and keeps the live accounts it does not have", async () => {
      const older = await olderDatabase(quietBackup);
      const r = await restore(targetAdmin, older, "old.sqlite");
      expect(r.status, r.text).to.equal(200);
      await expectSameData(target, source);
      targetAdmin = await login(target, "admin", TEST_ADMIN_PASSWORD);
    });

    describe("refused files leave the live database untouched", () => {
      const bad: Array<[string, () => Buffer, RegExp]> = [
        [
          "random bytes",
          () => Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256)),
          /not a readable SQLite database/,
        ],
        [
          "a truncated backup",
          () => quietBackup.subarray(0, Math.floor(quietBackup.length / 2)),
          /integrity|malformed|readable/,
        ],
        [
          "a SQLite database that is not duplistatus's",
          () =>
            scratchDatabase((conn) => {
              conn.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)");
              conn.exec("INSERT INTO notes (text) VALUES ('hello')");
            }),
          /not a duplistatus database/,
        ],
      ];

      it("refuses random bytes, a truncated backup and a foreign SQLite database with 400", async () => {
        const before = await summary(target);
        const copies = safetyCopies(target.dataDir).length;
        for (const [what, make, reason] of bad) {
          const r = await restore(targetAdmin, make(), "upload.db");
          expect(r.status, what).to.equal(400);
          expect(r.body.error, what).to.equal("Invalid database file");
          expect(r.body.message, what).to.match(reason);
        }
        expect(totals(await summary(target))).to.deep.equal(totals(before));
        expect(safetyCopies(target.dataDir).length, "no safety copy for a refused file").to.equal(copies);
        // Still logged in: nothing was replaced, so the sessions are still there.
        const still = await targetAdmin.request("/api/database/backup?format=sql");
        expect(still.status).to.equal(200);
        await still.arrayBuffer();
        assertConsistentDatabase(target.dataDir);
      });

      it("refuses SQL files that are broken, unrecognisable or try to write elsewhere", async () => {
        const before = await summary(target);
        const cases: Array<[string, string, RegExp]> = [
          ["evil.sql", "BEGIN TRANSACTION;\nATTACH DATABASE '/tmp/x.db' AS x;\nCOMMIT;\n", /does not run: ATTACH/],
          ["vacuum.sql", "CREATE TABLE t (a);\nVACUUM INTO 'copy.db';\n", /does not run: VACUUM/],
          ["broken.sql", "BEGIN TRANSACTION;\nCREATE TABLE servers (id TEXT;\n", /could not be executed/],
          ["empty-schema.sql", "BEGIN TRANSACTION;\nCREATE TABLE t (a);\nCOMMIT;\n", /not a duplistatus database/],
          ["notes.txt", "just some notes\n", /Unrecognised format/],
        ];
        for (const [name, text, reason] of cases) {
          const r = await restore(targetAdmin, Buffer.from(text), name);
          expect(r.status, name).to.equal(400);
          expect(r.body.error, name).to.equal("Invalid database file");
          expect(r.body.message, name).to.match(reason);
        }
        const none = await readJson<ErrorBody>(
          await targetAdmin.request("/api/database/restore", { method: "POST", body: new FormData() }),
          "no file",
        );
        expect(none.status).to.equal(400);
        expect(none.body.error).to.equal("No file uploaded");
        expect(totals(await summary(target))).to.deep.equal(totals(before));
        assertConsistentDatabase(target.dataDir);
      });

      it("answers 413 to a file over 100 MB", async () => {
        const r = await restore(targetAdmin, Buffer.alloc(100 * 1024 * 1024 + 1), "huge.db");
        expect(r.status).to.equal(413);
        expect(r.body.error).to.equal("File too large");
        const uploads = fs.readdirSync(path.join(target.dataDir, "temp")).filter((n) => n.startsWith("upload-"));
        expect(uploads, "upload scratch folders").to.deep.equal([]);
      });
    });

    // After the refused uploads above (mocha runs a suite's own tests before its nested suites).
    describe("safety copies and audit", () => {
      it("keeps the newest 5 safety copies and records every restore in the (kept) audit log", async () => {
        for (let i = 0; i < 4; i++) {
          const r = await restore(targetAdmin, quietBackup, "backup.db");
          expect(r.status, r.text).to.equal(200);
          targetAdmin = await login(target);
        }
        expect(safetyCopies(target.dataDir)).to.have.length(5);
        const db = openDatabase(target.dataDir);
        try {
          expect(
            count(db, `SELECT COUNT(*) AS n FROM audit_log WHERE action = 'database_restore' AND status = 'success'`),
          ).to.equal(7);
          expect(
            count(db, `SELECT COUNT(*) AS n FROM audit_log WHERE action = 'database_restore' AND status = 'failure'`),
          ).to.equal(9);
        } finally {
          db.close();
        }
      });
    });
  });

  describe("start-up", () => {
    it("removes the scratch files a crash left in DATA_DIR/temp, and nothing else", async () => {
      const dir = tempDataDir();
      const temp = path.join(dir, "temp");
      fs.mkdirSync(path.join(temp, "restore-stale"), { recursive: true });
      fs.mkdirSync(path.join(temp, "upload-stale"), { recursive: true });
      fs.writeFileSync(path.join(temp, "backup-stale.db"), "partial");
      fs.writeFileSync(path.join(temp, "keep-me.txt"), "not ours");
      const s = await startTestServer({}, { dataDir: dir });
      try {
        expect(fs.readdirSync(temp)).to.deep.equal(["keep-me.txt"]);
      } finally {
        await s.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
