import { expect } from "chai";
import type { BackupView, ServerView, Summary } from "../../server/src/reporting/schemas";
import { loadFixture, type TestServer } from "./server";

/** Helpers shared by the HTTP-level specs: report builders and response readers that check every answer is clean JSON. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A Duplicati report as the fixtures hold it (Data / Extra / LogLines / Exception). */
export interface DuplicatiReportJson {
  Data: JsonObject & { BackendStatistics: JsonObject };
  Extra: JsonObject;
  LogLines?: Json;
  Exception?: Json;
  [key: string]: Json | undefined;
}

export const FIXTURES = [
  "01-upstream-sample-success.json",
  "02-success-loglines-retention.json",
  "03-warning-generator-style.json",
  "04-fatal-exception-newer-shape.json",
] as const;

export type FixtureName = (typeof FIXTURES)[number];

export function fixture(name: FixtureName): DuplicatiReportJson {
  return loadFixture<DuplicatiReportJson>(name);
}

export interface ErrorBody {
  error: string;
  message?: string;
  status?: number;
  missingFields?: string[];
  extraSection?: JsonObject;
  dataSection?: JsonObject;
  invalidFields?: Array<{ field: string; message: string }>;
  duplicate_servers?: Array<{ id: string; name: string }>;
}

export interface LastBackupBody {
  server: ServerView;
  latest_backup: BackupView | null;
  status: number;
}

export interface LastBackupsBody {
  server: ServerView;
  latest_backups: BackupView[];
  backup_jobs_count: number;
  backup_names: string[];
  status: number;
}

export interface ReadResponse<T> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

/** Recursively looks for a property named `stack` (a leaked stack trace). */
function findStackKey(value: unknown, path = "$"): string | null {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findStackKey(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k.toLowerCase() === "stack") return `${path}.${k}`;
      const hit = findStackKey(v, `${path}.${k}`);
      if (hit) return hit;
    }
  }
  return null;
}

/**
 * Every answer of the API is a JSON document: never an HTML page, never a stack trace. Asserts that and returns the
 * parsed body.
 */
export function assertCleanJson(status: number, contentType: string | null, text: string, what: string): unknown {
  expect(contentType ?? "", `${what}: content-type`).to.match(/^application\/json\b/);
  expect(text, `${what}: looks like HTML`).not.to.match(/^\s*</);
  expect(text.toLowerCase(), `${what}: contains an HTML page`).not.to.match(/<(!doctype|html|body)\b/);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    expect.fail(`${what}: status ${status}, body is not JSON: ${text.slice(0, 200)}`);
  }
  const stack = findStackKey(body);
  expect(stack, `${what}: leaks a stack trace at ${stack ?? ""}`).to.equal(null);
  if (status >= 400) {
    expect(body, `${what}: error body`).to.be.an("object");
    expect((body as { error?: unknown }).error, `${what}: error text`)
      .to.be.a("string")
      .and.not.equal("");
  }
  return body;
}

export async function readJson<T = unknown>(res: Response, what = `${res.url}`): Promise<ReadResponse<T>> {
  const text = await res.text();
  const body = assertCleanJson(res.status, res.headers.get("content-type"), text, what) as T;
  return { status: res.status, headers: res.headers, text, body };
}

export async function getJson<T = unknown>(
  s: TestServer,
  pathname: string,
  init?: RequestInit,
): Promise<ReadResponse<T>> {
  return readJson<T>(await s.request(pathname, init), `${init?.method ?? "GET"} ${pathname}`);
}

/** POST /api/upload with a JSON body (object, or raw text sent as is). */
export async function upload(
  s: TestServer,
  report: unknown,
  headers: Record<string, string> = {},
  query = "",
): Promise<ReadResponse<Partial<ErrorBody> & { success?: true }>> {
  const body = typeof report === "string" ? report : JSON.stringify(report);
  const res = await s.request(`/api/upload${query}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return readJson(res, `POST /api/upload${query}`);
}

/** Uploads and insists on 200 {"success":true}. */
export async function uploadOk(s: TestServer, report: unknown): Promise<void> {
  const r = await upload(s, report);
  expect(r.status, `upload answered ${r.text}`).to.equal(200);
  expect(r.body).to.deep.equal({ success: true });
}

export async function summary(s: TestServer): Promise<Summary> {
  const r = await getJson<Summary>(s, "/api/summary");
  expect(r.status).to.equal(200);
  return r.body;
}

export async function lastBackup(s: TestServer, identifier: string): Promise<ReadResponse<LastBackupBody & ErrorBody>> {
  return getJson(s, `/api/lastbackup/${encodeURIComponent(identifier)}`);
}

export async function lastBackups(
  s: TestServer,
  identifier: string,
): Promise<ReadResponse<LastBackupsBody & ErrorBody>> {
  return getJson(s, `/api/lastbackups/${encodeURIComponent(identifier)}`);
}

/** The stored state a rejected request must not have changed. */
export interface Snapshot {
  totals: Pick<
    Summary,
    "totalServers" | "totalBackupsRuns" | "totalBackups" | "totalUploadedSize" | "totalStorageUsed"
  >;
}

export async function snapshot(s: TestServer): Promise<Snapshot> {
  const { totalServers, totalBackupsRuns, totalBackups, totalUploadedSize, totalStorageUsed } = await summary(s);
  return { totals: { totalServers, totalBackupsRuns, totalBackups, totalUploadedSize, totalStorageUsed } };
}

/** Nothing was written: totals unchanged and none of the given server identifiers (ids or names) exists. */
export async function expectNothingWritten(s: TestServer, before: Snapshot, identifiers: string[]): Promise<void> {
  const after = await snapshot(s);
  expect(after.totals, "summary totals changed").to.deep.equal(before.totals);
  for (const id of identifiers) {
    for (const read of [lastBackup, lastBackups]) {
      const r = await read(s, id);
      expect(r.status, `server "${id}" exists after a rejected upload`).to.equal(404);
      expect(r.body).to.deep.equal({
        error: "Server not found",
        message: `No server found with identifier: ${id}`,
        status: 404,
      });
    }
  }
}

export interface RunSpec {
  machineId: string;
  machineName?: string;
  backupName?: string;
  backupId?: string;
  /** BeginTime, ISO 8601 */
  begin: string;
  durationSeconds?: number;
  status?: "Success" | "Warning" | "Error" | "Fatal" | "Unknown";
  size?: number;
  uploaded?: number;
  known?: number;
  versions?: number;
  files?: number;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** "HH:MM:SS" TimeSpan text for whole seconds below a day. */
export function timeSpan(seconds: number): string {
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
}

/** A real-shaped Duplicati report (fixture 01) for one run, with the values a test cares about. */
export function makeReport(spec: RunSpec): DuplicatiReportJson {
  const r = fixture("01-upstream-sample-success.json");
  const duration = spec.durationSeconds ?? 60;
  const begin = new Date(spec.begin);
  r.Data.BeginTime = begin.toISOString();
  r.Data.EndTime = new Date(begin.getTime() + duration * 1000).toISOString();
  r.Data.Duration = timeSpan(duration);
  r.Data.ParsedResult = spec.status ?? "Success";
  r.Data.WarningsActualLength = spec.status === "Warning" ? 1 : 0;
  r.Data.ErrorsActualLength = spec.status === "Error" || spec.status === "Fatal" ? 1 : 0;
  r.Data.SizeOfExaminedFiles = spec.size ?? 1000;
  r.Data.ExaminedFiles = spec.files ?? 10;
  r.Data.BackendStatistics.BytesUploaded = spec.uploaded ?? 100;
  r.Data.BackendStatistics.KnownFileSize = spec.known ?? 5000;
  r.Data.BackendStatistics.BackupListCount = spec.versions ?? 3;
  r.Extra["machine-id"] = spec.machineId;
  r.Extra["machine-name"] = spec.machineName ?? `name-of-${spec.machineId}`;
  r.Extra["backup-name"] = spec.backupName ?? "Files";
  r.Extra["backup-id"] = spec.backupId ?? "DB-1";
  return r;
}

/** ISO 8601 UTC with milliseconds, as the API returns timestamps. */
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
