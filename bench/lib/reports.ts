import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/**
 * Deterministic, realistic Duplicati reports for the benchmark. The fleet is a grid: server s (0-based) has jobs
 * 0..jobs-1, and run k of a job starts on day k. Everything is derived from (s, j, k), so the HTTP uploads, the
 * bulk loader and the read benchmark (which rotates over server ids) agree without sharing state.
 */

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const FIXTURE_PATH = path.join(REPO_ROOT, "test", "fixtures", "02-success-loglines-retention.json");

export const JOB_NAMES = ["Documents", "Photos", "System", "Mail", "Projects", "Music", "Mailbox", "Databases"];

const DAY_MS = 86_400_000;

/** A Duplicati machine-id: 32 hex characters. */
const idCache = new Map<number, string>();
export function serverId(s: number): string {
  let id = idCache.get(s);
  if (id === undefined) {
    id = createHash("md5").update(`bench-server-${s}`).digest("hex");
    idCache.set(s, id);
  }
  return id;
}

export function serverName(s: number): string {
  return `host-${String(s).padStart(5, "0")}`;
}

export function jobName(j: number): string {
  return JOB_NAMES[j % JOB_NAMES.length] + (j >= JOB_NAMES.length ? `-${Math.floor(j / JOB_NAMES.length)}` : "");
}

/** Run k of job j of server s starts on day k at 01:00 + j hours + s seconds (UTC), counted from `baseMs`. */
export function beginTime(baseMs: number, s: number, j: number, k: number): Date {
  return new Date(baseMs + k * DAY_MS + 3_600_000 + j * 3_600_000 + (s % 3600) * 1000);
}

/**
 * The base for a fleet whose jobs have `runsPerJob` daily runs ending now: run k = runsPerJob - 1 starts between
 * 5 h and 1 h ago (see beginTime), so every job is current and none is overdue. A fleet that looks overdue would
 * have the server's overdue checker (every 5 minutes) open thousands of episodes during the measurements.
 */
export function recentBase(runsPerJob: number, now = Date.now()): number {
  return now - (runsPerJob - 1) * DAY_MS - 6 * 3_600_000;
}

export function loadFixture(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(FIXTURE_PATH, "utf8")) as Record<string, unknown>;
}

/**
 * The realistic upload body (the LogLines/retention fixture, ~7.6 KB) as a template: the identity and time fields
 * are holes filled per request by string concatenation, so the load generator spends almost nothing per body.
 */
export class UploadBodyTemplate {
  private readonly parts: string[];
  private readonly holes: string[];

  constructor(fixture: Record<string, unknown> = loadFixture()) {
    const doc = structuredClone(fixture) as {
      Data: Record<string, unknown> & { BackendStatistics: Record<string, unknown> };
      Extra: Record<string, unknown>;
    };
    doc.Extra["machine-id"] = "@@MID@@";
    doc.Extra["machine-name"] = "@@MNAME@@";
    doc.Extra["backup-name"] = "@@JOB@@";
    doc.Extra["backup-id"] = "@@JOBID@@";
    doc.Data.BeginTime = "@@BEGIN@@";
    doc.Data.EndTime = "@@END@@";
    doc.Data.BackendStatistics.BeginTime = "@@BEGIN@@";
    doc.Data.BackendStatistics.BytesUploaded = "@@UPLOADED@@";
    const text = JSON.stringify(doc).replace('"@@UPLOADED@@"', "@@UPLOADED@@");
    const split = text.split(/@@([A-Z]+)@@/);
    this.parts = split.filter((_, i) => i % 2 === 0);
    this.holes = split.filter((_, i) => i % 2 === 1);
  }

  /** Report number i of an upload stream over `servers` servers × `jobs` jobs; distinct for every i. */
  body(i: number, servers: number, jobs: number, baseMs: number): string {
    const s = i % servers;
    const j = Math.floor(i / servers) % jobs;
    const k = Math.floor(i / (servers * jobs));
    const begin = beginTime(baseMs, s, j, k);
    const values: Record<string, string> = {
      MID: serverId(s),
      MNAME: serverName(s),
      JOB: jobName(j),
      JOBID: `DB-${j + 1}`,
      BEGIN: begin.toISOString(),
      END: new Date(begin.getTime() + 2_311_601).toISOString(),
      UPLOADED: String(300_000_000 + ((i * 7919) % 60_000_000)),
    };
    let out = this.parts[0] ?? "";
    for (let h = 0; h < this.holes.length; h++) out += values[this.holes[h] as string] + (this.parts[h + 1] ?? "");
    return out;
  }
}

/**
 * A compact but complete Duplicati report (no LogLines) for the bulk load: the Data/Extra fields the server reads,
 * BackendStatistics included, with a few warnings and failures spread over the fleet.
 */
export function smallReport(baseMs: number, s: number, j: number, k: number): Record<string, unknown> {
  const begin = beginTime(baseMs, s, j, k);
  const seconds = 60 + ((s * 31 + j * 17 + k * 7) % 3000);
  const end = new Date(begin.getTime() + seconds * 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const sec = seconds % 60;
  const duration = `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}.1234567`;
  const roll = (s * 7 + j * 13 + k * 29) % 100;
  const result = roll === 0 ? "Error" : roll < 4 ? "Warning" : "Success";
  const examined = 10_000 + ((s * 97 + j * 1013) % 250_000);
  const size = examined * 400_000 + k * 1_000_000;
  return {
    Data: {
      DeletedFiles: roll % 5,
      DeletedFolders: 0,
      ModifiedFiles: 10 + (roll % 40),
      ExaminedFiles: examined,
      OpenedFiles: 20 + (roll % 50),
      AddedFiles: roll % 20,
      SizeOfModifiedFiles: 29_811_456 + roll * 1000,
      SizeOfAddedFiles: 3_321_892 + roll * 100,
      SizeOfExaminedFiles: size,
      SizeOfOpenedFiles: 33_133_348,
      NotProcessedFiles: 0,
      AddedFolders: roll % 3,
      TooLargeFiles: 0,
      FilesWithError: result === "Error" ? 1 : 0,
      ModifiedFolders: 0,
      ModifiedSymlinks: 0,
      AddedSymlinks: 0,
      DeletedSymlinks: 0,
      PartialBackup: false,
      Dryrun: false,
      MainOperation: "Backup",
      ParsedResult: result,
      Interrupted: false,
      Version: "2.1.0.5 (2.1.0.5_stable_2025-03-04)",
      EndTime: end.toISOString(),
      BeginTime: begin.toISOString(),
      Duration: duration,
      MessagesActualLength: 22,
      WarningsActualLength: result === "Warning" ? 1 : 0,
      ErrorsActualLength: result === "Error" ? 1 : 0,
      Warnings:
        result === "Warning"
          ? [
              "[Warning-Duplicati.Library.Main.Operation.Backup.FileBlockProcessor.FileEntry-PathProcessingFailed]: Failed to process path: /data/locked.db",
            ]
          : [],
      Errors:
        result === "Error" ? ["[Error-Duplicati.Library.Main.Operation.BackupHandler-FatalError]: Fatal error"] : [],
      BackendStatistics: {
        RemoteCalls: 21,
        BytesUploaded: 1_000_000 + ((s * 7919 + k * 104_729) % 400_000_000),
        BytesDownloaded: 24_547_041,
        FilesUploaded: 9,
        FilesDownloaded: 1,
        FilesDeleted: 1,
        FoldersCreated: 0,
        RetryAttempts: 0,
        UnknownFileSize: 0,
        UnknownFileCount: 0,
        KnownFileCount: 1214,
        KnownFileSize: Math.floor(size * 0.6),
        LastBackupDate: begin.toISOString(),
        BackupListCount: Math.min(k + 1, 30),
        TotalQuotaSpace: 0,
        FreeQuotaSpace: 0,
        AssignedQuotaSpace: -1,
        ReportedQuotaError: false,
        ReportedQuotaWarning: false,
        MainOperation: "Backup",
        ParsedResult: "Success",
        Interrupted: false,
        Version: "2.1.0.5 (2.1.0.5_stable_2025-03-04)",
        BeginTime: begin.toISOString(),
        Duration: "00:00:00",
        MessagesActualLength: 0,
        WarningsActualLength: 0,
        ErrorsActualLength: 0,
      },
    },
    Extra: {
      OperationName: "Backup",
      "machine-id": serverId(s),
      "machine-name": serverName(s),
      "backup-name": jobName(j),
      "backup-id": `DB-${j + 1}`,
    },
  };
}
