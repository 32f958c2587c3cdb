import { expect } from "chai";
import type { BackupView } from "../../server/src/reporting/schemas";
import {
  FIXTURES,
  type FixtureName,
  ISO_MS,
  type Json,
  UUID_V4,
  fixture,
  getJson,
  lastBackup,
  lastBackups,
  readJson,
  summary,
  upload,
  uploadOk,
} from "../support/api";
import { startTestServer, type TestServer } from "../support/server";

/**
 * The four fixtures of reference §9.3, posted over HTTP and read back through the external endpoints. Expected values
 * are the reference table's, with the documented decisions of contract §1/§2: log arrays are JSON arrays (not
 * strings), `server` carries alias/note/ISO created_at, and "available versions" are read with the UTC offset printed
 * in the Duplicati log line ("+01"), one hour earlier than upstream running in UTC.
 */

interface Expected {
  serverId: string;
  serverName: string;
  backupName: string;
  backupId: string;
  date: string;
  status: string;
  durationSeconds: number;
  duration: string;
  size: number;
  uploadedSize: number;
  knownFileSize: number;
  backupListCount: number;
  fileCount: number;
  warnings: number;
  errors: number;
  messages: number;
  warningsArray: Json[] | null;
  errorsArray: (r: ReturnType<typeof fixture>) => Json[] | null;
  messagesArray: (r: ReturnType<typeof fixture>) => Json | null;
  availableBackups: string[];
}

const EXPECTED: Record<FixtureName, Expected> = {
  "01-upstream-sample-success.json": {
    serverId: "66f5ffc7ff474a73a3c9cba4ac7bfb65",
    serverName: "WSJ-SER5",
    backupName: "WSJ-SER5 Local files",
    backupId: "DB-2",
    date: "2025-04-21T23:45:46.971Z",
    status: "Success",
    durationSeconds: 51.3856057,
    duration: "00:00:51",
    size: 11086692615,
    uploadedSize: 8290314,
    knownFileSize: 9920312634,
    backupListCount: 6,
    fileCount: 15399,
    warnings: 0,
    errors: 0,
    messages: 0,
    warningsArray: null,
    errorsArray: () => null,
    messagesArray: () => null,
    availableBackups: [],
  },
  "02-success-loglines-retention.json": {
    serverId: "3f9c2a7be1d84c0f9a5e6b7c8d9e0f12",
    serverName: "NAS-HOME",
    backupName: "NAS Documents",
    backupId: "DB-3",
    date: "2025-06-14T01:00:00.123Z",
    status: "Success",
    durationSeconds: 2311.6018052,
    duration: "00:38:31",
    size: 113395849938,
    uploadedSize: 331318892,
    knownFileSize: 27203688543,
    backupListCount: 10,
    fileCount: 249426,
    warnings: 0,
    errors: 0,
    messages: 22,
    warningsArray: null,
    errorsArray: () => null,
    messagesArray: (r) => r.LogLines ?? null,
    // 11 considered − 1 deleted, newest first; "02:00:00 +01" is 01:00:00Z (reference table: 02:00 with TZ=UTC).
    availableBackups: [
      "2025-06-14T01:00:00.000Z",
      "2025-06-13T01:00:03.000Z",
      "2025-06-12T01:00:01.000Z",
      "2025-06-11T01:00:02.000Z",
      "2025-06-10T01:00:00.000Z",
      "2025-06-09T01:00:04.000Z",
      "2025-06-08T01:00:01.000Z",
      "2025-06-01T01:00:02.000Z",
      "2025-05-25T01:00:00.000Z",
      "2025-05-18T01:00:03.000Z",
    ],
  },
  "03-warning-generator-style.json": {
    serverId: "fa767f034cb523b80bf39cc29de32ea5",
    serverName: "DB-PROD-01",
    backupName: "Databases",
    backupId: "DB-1",
    date: "2025-08-05T17:15:00.000Z",
    status: "Warning",
    durationSeconds: 432,
    duration: "00:07:12",
    size: 612345678,
    uploadedSize: 501234567,
    knownFileSize: 1102345678,
    backupListCount: 10,
    fileCount: 6893,
    warnings: 2,
    errors: 0,
    messages: 12,
    warningsArray: ["Warning 001", "Warning 002"],
    // Data.Errors is an empty array: stored as NULL, like upstream.
    errorsArray: () => null,
    messagesArray: (r) => r.Data.Messages ?? null,
    availableBackups: [
      "2025-08-03T23:14:55.000Z",
      "2025-07-31T14:10:00.000Z",
      "2025-07-18T14:10:00.000Z",
      "2025-06-30T22:34:57.000Z",
      "2025-06-29T15:08:11.000Z",
      "2025-05-18T19:39:59.000Z",
      "2025-04-12T15:31:15.000Z",
    ],
  },
  "04-fatal-exception-newer-shape.json": {
    serverId: "0c1d2e3f4a5b46c7a8b9c0d1e2f3a4b5",
    serverName: "WIN-LAPTOP-07",
    backupName: "Laptop to B2",
    backupId: "DB-1",
    date: "2025-11-20T22:30:00.555Z",
    status: "Fatal",
    durationSeconds: 41.446,
    duration: "00:00:41",
    size: 0,
    uploadedSize: 0,
    knownFileSize: 0,
    backupListCount: 0,
    fileCount: 0,
    warnings: 0,
    errors: 1,
    messages: 3,
    warningsArray: null,
    // No Data.Errors: the top-level Exception text becomes the single error.
    errorsArray: (r) => [r.Exception ?? null],
    messagesArray: (r) => r.LogLines ?? null,
    availableBackups: [],
  },
};

const BACKUP_KEYS = [
  "id",
  "server_id",
  "name",
  "backup_id",
  "date",
  "status",
  "warnings",
  "errors",
  "messages",
  "fileCount",
  "fileSize",
  "uploadedSize",
  "duration",
  "duration_seconds",
  "durationInMinutes",
  "knownFileSize",
  "backup_list_count",
  "messages_array",
  "warnings_array",
  "errors_array",
  "available_backups",
];

function expectBackup(b: BackupView | null | undefined, e: Expected, report: ReturnType<typeof fixture>): void {
  expect(b, "backup").to.be.an("object");
  const backup = b as BackupView;
  // Field names of the original (additive fields allowed, none missing).
  expect(backup).to.include.all.keys(BACKUP_KEYS);
  expect(backup.id).to.match(UUID_V4);
  expect(backup.server_id).to.equal(e.serverId);
  expect(backup.name).to.equal(e.backupName);
  expect(backup.backup_id).to.equal(e.backupId);
  expect(backup.date).to.equal(e.date);
  expect(backup.status).to.equal(e.status);
  // Exact: the TimeSpan fraction must survive as the nearest double.
  expect(backup.duration_seconds).to.equal(e.durationSeconds);
  expect(backup.duration).to.equal(e.duration);
  expect(backup.durationInMinutes).to.be.closeTo(e.durationSeconds / 60, 1e-9);
  expect(backup.fileSize).to.equal(e.size);
  expect(backup.uploadedSize).to.equal(e.uploadedSize);
  expect(backup.knownFileSize).to.equal(e.knownFileSize);
  expect(backup.backup_list_count).to.equal(e.backupListCount);
  expect(backup.fileCount).to.equal(e.fileCount);
  expect(backup.warnings).to.equal(e.warnings);
  expect(backup.errors).to.equal(e.errors);
  expect(backup.messages).to.equal(e.messages);
  // Arrays or null, never JSON text in a string (contract §1).
  expect(backup.warnings_array).to.deep.equal(e.warningsArray);
  expect(backup.errors_array).to.deep.equal(e.errorsArray(report));
  expect(backup.messages_array).to.deep.equal(e.messagesArray(report));
  expect(backup.available_backups).to.deep.equal(e.availableBackups);
}

describe("POST /api/upload with the reference fixtures", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s?.close();
  });

  it("starts empty", async () => {
    const sum = await summary(s);
    expect(sum.totalBackupsRuns).to.equal(0);
    expect(sum.totalServers).to.equal(0);
    expect(sum.secondsSinceLastBackup).to.equal(null);
  });

  FIXTURES.forEach((name, index) => {
    describe(name, () => {
      const e = EXPECTED[name];
      const report = fixture(name);

      it("is accepted with 200 {success:true}", async () => {
        await uploadOk(s, report);
        expect((await summary(s)).totalBackupsRuns).to.equal(index + 1);
      });

      it("reads back through GET /api/lastbackup/<machine-id>", async () => {
        const r = await lastBackup(s, e.serverId);
        expect(r.status).to.equal(200);
        expect(r.body.status).to.equal(200);
        expect(r.body.server).to.have.all.keys("id", "name", "alias", "note", "created_at");
        expect(r.body.server.id).to.equal(e.serverId);
        expect(r.body.server.name).to.equal(e.serverName);
        expect(r.body.server.alias).to.equal("");
        expect(r.body.server.note).to.equal("");
        expect(r.body.server.created_at).to.match(ISO_MS);
        expectBackup(r.body.latest_backup, e, report);
      });

      it("reads back through GET /api/lastbackups/<machine-name>", async () => {
        const r = await lastBackups(s, e.serverName);
        expect(r.status).to.equal(200);
        expect(r.body.status).to.equal(200);
        expect(r.body.server.id).to.equal(e.serverId);
        expect(r.body.backup_jobs_count).to.equal(1);
        expect(r.body.backup_names).to.deep.equal([e.backupName]);
        expect(r.body.latest_backups).to.have.length(1);
        expectBackup(r.body.latest_backups[0], e, report);
      });

      it("the same report again is 409 and stores nothing", async () => {
        const before = await summary(s);
        const r = await upload(s, report);
        expect(r.status).to.equal(409);
        expect(r.body).to.deep.equal({ error: "ignored, duplicated data" });
        const after = await summary(s);
        expect(after.totalBackupsRuns).to.equal(index + 1);
        expect(after.totalBackupsRuns).to.equal(before.totalBackupsRuns);
        expect(after.totalUploadedSize).to.equal(before.totalUploadedSize);
        expect((await lastBackups(s, e.serverId)).body.latest_backups).to.have.length(1);
      });
    });
  });

  // A nested block so that it runs after the per-fixture blocks (mocha runs a block's own tests first).
  describe("all four together", () => {
    it("counts the four runs, servers and jobs in /api/summary", async () => {
      const sum = await summary(s);
      expect(sum.totalServers).to.equal(4);
      expect(sum.totalBackupsRuns).to.equal(4);
      expect(sum.totalBackups).to.equal(4);
      expect(sum.totalUploadedSize).to.equal(8290314 + 331318892 + 501234567 + 0);
      expect(sum.totalStorageUsed).to.equal(9920312634 + 27203688543 + 1102345678 + 0);
      expect(sum.totalBackupSize).to.equal(11086692615 + 113395849938 + 612345678 + 0);
      expect(sum.failedBackups).to.equal(1);
      expect(sum.successfulBackups).to.equal(3);
    });
  });
});

describe("POST /api/upload transports (same report, different encodings)", () => {
  let s: TestServer;
  beforeEach(async () => {
    s = await startTestServer();
  });
  afterEach(async () => {
    await s?.close();
  });

  const e = EXPECTED["02-success-loglines-retention.json"];
  const report = fixture("02-success-loglines-retention.json");

  async function expectStored(): Promise<void> {
    const r = await lastBackup(s, e.serverId);
    expect(r.status).to.equal(200);
    expectBackup(r.body.latest_backup, e, report);
    expect((await summary(s)).totalBackupsRuns).to.equal(1);
  }

  it("accepts the form variant (application/x-www-form-urlencoded, message=<json>)", async () => {
    const res = await s.request("/api/upload", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ message: JSON.stringify(report) }).toString(),
    });
    const r = await readJson(res);
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({ success: true });
    await expectStored();
    // The same report as JSON is a duplicate of the form upload.
    const again = await upload(s, report);
    expect(again.status).to.equal(409);
    expect(again.body).to.deep.equal({ error: "ignored, duplicated data" });
  });

  it("accepts JSON sent as text/plain", async () => {
    const res = await s.request("/api/upload", {
      method: "POST",
      headers: { "content-type": "text/plain; charset=utf-8" },
      body: JSON.stringify(report),
    });
    const r = await readJson(res);
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({ success: true });
    await expectStored();
  });

  it("accepts JSON sent without a content type", async () => {
    const res = await s.request("/api/upload", {
      method: "POST",
      // A byte body: fetch adds no content-type header.
      body: new TextEncoder().encode(JSON.stringify(report)),
    });
    const r = await readJson(res);
    expect(r.status, r.text).to.equal(200);
    await expectStored();
  });

  it("accepts JSON with a charset parameter and pretty-printing", async () => {
    const r = await upload(s, JSON.stringify(report, null, 2), { "content-type": "application/json; charset=utf-8" });
    expect(r.status, r.text).to.equal(200);
    await expectStored();
  });
});

describe("POST /api/upload with the simple shape ({server, backup})", () => {
  let s: TestServer;
  beforeEach(async () => {
    s = await startTestServer();
  });
  afterEach(async () => {
    await s?.close();
  });

  it("stores a minimal report and reads it back by server name", async () => {
    const body = {
      server: { name: "restic host" },
      backup: {
        name: "restic daily",
        status: "success",
        startTime: "2025-03-01T10:00:00Z",
        endTime: "2025-03-01T10:05:30Z",
        files: 42,
        size: 123456,
        storageUsed: 99999,
        uploadedSize: 678,
        versions: 4,
        warnings: 0,
        errors: 0,
      },
    };
    const r = await upload(s, body);
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.equal({ success: true });

    const read = await lastBackups(s, "restic host");
    expect(read.status).to.equal(200);
    expect(read.body.server.name).to.equal("restic host");
    expect(read.body.backup_names).to.deep.equal(["restic daily"]);
    const b = read.body.latest_backups[0] as BackupView;
    expect(b.name).to.equal("restic daily");
    expect(b.status).to.equal("Success");
    expect(b.date).to.equal("2025-03-01T10:00:00.000Z");
    expect(b.duration_seconds).to.equal(330);
    expect(b.duration).to.equal("00:05:30");
    expect(b.fileCount).to.equal(42);
    expect(b.fileSize).to.equal(123456);
    expect(b.knownFileSize).to.equal(99999);
    expect(b.uploadedSize).to.equal(678);
    expect(b.backup_list_count).to.equal(4);
    expect(b.available_backups).to.deep.equal([]);

    const sum = await summary(s);
    expect(sum.totalBackupsRuns).to.equal(1);
    expect(sum.totalServers).to.equal(1);
    expect(sum.totalUploadedSize).to.equal(678);
    expect(sum.totalStorageUsed).to.equal(99999);
    expect(sum.totalBackupSize).to.equal(123456);

    const again = await upload(s, body);
    expect(again.status).to.equal(409);
    expect(again.body).to.deep.equal({ error: "ignored, duplicated data" });
    expect((await summary(s)).totalBackupsRuns).to.equal(1);
  });

  it("uses server.id when given, and a duration in seconds or as hh:mm:ss", async () => {
    const base = { server: { id: "borg-01", name: "Borg box" } };
    const first = await upload(s, {
      ...base,
      backup: { name: "home", status: "Error", startTime: "2025-03-02T01:00:00Z", duration: 75.5, errors: 1 },
    });
    expect(first.status, first.text).to.equal(200);
    const second = await upload(s, {
      ...base,
      backup: { name: "etc", status: "warning", startTime: "2025-03-02T02:00:00Z", duration: "01:02:03" },
    });
    expect(second.status, second.text).to.equal(200);

    const byId = await lastBackups(s, "borg-01");
    expect(byId.status).to.equal(200);
    expect(byId.body.server).to.include({ id: "borg-01", name: "Borg box" });
    expect(byId.body.backup_names).to.deep.equal(["etc", "home"]);
    const [etc, home] = byId.body.latest_backups as [BackupView, BackupView];
    expect(etc.status).to.equal("Warning");
    expect(etc.duration_seconds).to.equal(3723);
    expect(home.status).to.equal("Error");
    expect(home.duration_seconds).to.equal(75.5);
    expect(home.errors).to.equal(1);

    const latest = await lastBackup(s, "Borg box");
    expect(latest.status).to.equal(200);
    expect(latest.body.latest_backup?.name).to.equal("etc");
    expect((await summary(s)).failedBackups).to.equal(1);
  });

  it("rejects a simple report with a bad start time (400, nothing stored)", async () => {
    const r = await upload(s, { server: { name: "x" }, backup: { name: "y", status: "Success", startTime: "soon" } });
    expect(r.status).to.equal(400);
    expect(r.body.error).to.equal("Invalid backup report");
    expect((r.body as { invalidFields?: Array<{ field: string }> }).invalidFields?.map((f) => f.field)).to.deep.equal([
      "backup.startTime",
    ]);
    expect((await summary(s)).totalBackupsRuns).to.equal(0);
    expect((await getJson(s, "/api/lastbackup/x")).status).to.equal(404);
  });
});
