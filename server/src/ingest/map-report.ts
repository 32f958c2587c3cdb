import { randomUUID } from "node:crypto";
import { BACKUP_STATUSES, type BackupStatus, type RunRecord } from "../core/domain";
import { parseNextScheduledRun } from "../monitoring/schedule";
import { extractAvailableVersions } from "./available-versions";
import { isoString, toIsoOrNull } from "./dates";
import { stringifyJson, stringifyVerbatimStrings } from "./json-text";
import type { DuplicatiReport, SimpleReport } from "./report-schema";
import type { ReportTimes, ValidatedReport } from "./validate-report";

/** What one accepted report becomes: the server it names, the run row, and what it says about the schedule. */
export interface MappedReport {
  server: { id: string; name: string };
  run: RunRecord;
  /** Duplicati's own next scheduled run (newer versions send it in Extra), ISO, or null. */
  nextScheduledRun: string | null;
}

const num = (v: number | null | undefined): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const bit = (v: boolean | null | undefined): number => (v ? 1 : 0);
const jsonOrNull = (v: unknown): string | null => (v === undefined || v === null ? null : stringifyJson(v));

const STATUS_BY_LOWER_CASE = new Map<string, BackupStatus>(BACKUP_STATUSES.map((s) => [s.toLowerCase(), s]));

/** The status named case-insensitively (surrounding white space ignored), else "Unknown". */
function normaliseStatus(raw: string): BackupStatus {
  return STATUS_BY_LOWER_CASE.get(raw.trim().toLowerCase()) ?? "Unknown";
}

/** Upstream: errors_array is the Errors list when non-empty, else the exception text, else nothing. */
function errorsArray(
  errors: readonly unknown[] | null | undefined,
  exception: string | null | undefined,
): string | null {
  if (Array.isArray(errors) && errors.length > 0) return stringifyJson(errors);
  if (typeof exception === "string" && exception.trim() !== "") return stringifyJson([exception]);
  return null;
}

export function mapReport(input: ValidatedReport, ctx: { now: Date; timeZone: string }): MappedReport {
  return input.shape === "duplicati"
    ? mapDuplicati(input.report, input.times, ctx)
    : mapSimple(input.report, input.times, ctx);
}

function mapDuplicati(report: DuplicatiReport, times: ReportTimes, ctx: { now: Date; timeZone: string }): MappedReport {
  const d = report.Data;
  const be = d.BackendStatistics ?? {};
  const extra = report.Extra;
  // Parsed by validateReport (a Duplicati report always has a duration). Dates stay epoch milliseconds until printed
  // (see isoString in dates.ts).
  const begin = times.beginMs;
  const durationSeconds = times.durationSeconds as number;
  const end = times.endMs ?? begin + durationSeconds * 1000;
  const beginIso = isoString(begin);

  // Real reports carry the log in top-level LogLines; the generator/collect shape in Data.Messages.
  const logLines = Array.isArray(report.LogLines) ? report.LogLines : Array.isArray(d.Messages) ? d.Messages : null;
  const parsedResult = d.ParsedResult;
  let status = normaliseStatus(parsedResult);
  if (status === "Success" && num(d.WarningsActualLength) > 0) status = "Warning";

  const run: RunRecord = {
    id: randomUUID(),
    server_id: extra["machine-id"],
    backup_name: extra["backup-name"],
    backup_id: extra["backup-id"],
    date: beginIso,
    status,
    duration_seconds: durationSeconds,
    size: num(d.SizeOfExaminedFiles),
    uploaded_size: num(be.BytesUploaded),
    examined_files: num(d.ExaminedFiles),
    warnings: num(d.WarningsActualLength),
    errors: num(d.ErrorsActualLength),
    messages_array: jsonOrNull(logLines),
    warnings_array: jsonOrNull(d.Warnings),
    errors_array: errorsArray(d.Errors, d.Exception ?? report.Exception),
    // ISO 8601 timestamps, which JSON takes verbatim.
    available_backups: stringifyVerbatimStrings(extractAvailableVersions(logLines, ctx.timeZone)),
    deleted_files: num(d.DeletedFiles),
    deleted_folders: num(d.DeletedFolders),
    modified_files: num(d.ModifiedFiles),
    opened_files: num(d.OpenedFiles),
    added_files: num(d.AddedFiles),
    size_of_modified_files: num(d.SizeOfModifiedFiles),
    size_of_added_files: num(d.SizeOfAddedFiles),
    size_of_examined_files: num(d.SizeOfExaminedFiles),
    size_of_opened_files: num(d.SizeOfOpenedFiles),
    not_processed_files: num(d.NotProcessedFiles),
    added_folders: num(d.AddedFolders),
    too_large_files: num(d.TooLargeFiles),
    files_with_error: num(d.FilesWithError),
    modified_folders: num(d.ModifiedFolders),
    modified_symlinks: num(d.ModifiedSymlinks),
    added_symlinks: num(d.AddedSymlinks),
    deleted_symlinks: num(d.DeletedSymlinks),
    partial_backup: bit(d.PartialBackup),
    dryrun: bit(d.Dryrun),
    interrupted: bit(d.Interrupted),
    main_operation: d.MainOperation,
    parsed_result: parsedResult,
    version: d.Version ?? null,
    begin_time: beginIso,
    end_time: isoString(end),
    warnings_actual_length: num(d.WarningsActualLength),
    errors_actual_length: num(d.ErrorsActualLength),
    messages_actual_length: num(d.MessagesActualLength),
    bytes_downloaded: num(be.BytesDownloaded),
    known_file_size: num(be.KnownFileSize),
    last_backup_date: toIsoOrNull(be.LastBackupDate),
    backup_list_count: num(be.BackupListCount),
    reported_quota_error: bit(be.ReportedQuotaError),
    reported_quota_warning: bit(be.ReportedQuotaWarning),
    backend_main_operation: be.MainOperation ?? null,
    backend_parsed_result: be.ParsedResult ?? null,
    backend_version: be.Version ?? null,
    backend_duration: be.Duration ?? null,
    backend_interrupted: bit(be.Interrupted),
    backend_begin_time: toIsoOrNull(be.BeginTime),
    backend_warnings_actual_length: num(be.WarningsActualLength),
    backend_errors_actual_length: num(be.ErrorsActualLength),
    created_at: isoString(ctx.now.getTime()),
  };
  const next = parseNextScheduledRun(extra["next-scheduled-run"]);
  return {
    server: { id: extra["machine-id"], name: extra["machine-name"] },
    run,
    nextScheduledRun: next ? isoString(next.getTime()) : null,
  };
}

function mapSimple(report: SimpleReport, times: ReportTimes, ctx: { now: Date; timeZone: string }): MappedReport {
  const b = report.backup;
  const begin = times.beginMs;
  const endFromField = times.endMs;
  const durationSeconds =
    times.durationSeconds ?? (endFromField !== null ? Math.max(0, (endFromField - begin) / 1000) : 0);
  const end = endFromField ?? begin + durationSeconds * 1000;
  const beginIso = isoString(begin);
  const messages = b.messages?.map((m) => (typeof m === "string" ? m : m.message)) ?? null;
  const status = normaliseStatus(b.status);
  const serverId = report.server.id ?? report.server.name;
  const zero = 0;
  const run: RunRecord = {
    id: randomUUID(),
    server_id: serverId,
    backup_name: b.name,
    backup_id: b.id ?? b.name,
    date: beginIso,
    status,
    duration_seconds: durationSeconds,
    size: num(b.size),
    uploaded_size: num(b.uploadedSize),
    examined_files: num(b.files),
    warnings: num(b.warnings),
    errors: num(b.errors),
    messages_array: jsonOrNull(messages),
    warnings_array: null,
    errors_array: null,
    // ISO 8601 timestamps, which JSON takes verbatim.
    available_backups: stringifyVerbatimStrings(extractAvailableVersions(messages, ctx.timeZone)),
    deleted_files: zero,
    deleted_folders: zero,
    modified_files: zero,
    opened_files: zero,
    added_files: zero,
    size_of_modified_files: zero,
    size_of_added_files: zero,
    size_of_examined_files: num(b.size),
    size_of_opened_files: zero,
    not_processed_files: zero,
    added_folders: zero,
    too_large_files: zero,
    files_with_error: zero,
    modified_folders: zero,
    modified_symlinks: zero,
    added_symlinks: zero,
    deleted_symlinks: zero,
    partial_backup: zero,
    dryrun: zero,
    interrupted: zero,
    main_operation: "Backup",
    parsed_result: b.status,
    version: report.server.version ?? null,
    begin_time: beginIso,
    end_time: isoString(end),
    warnings_actual_length: num(b.warnings),
    errors_actual_length: num(b.errors),
    messages_actual_length: messages?.length ?? 0,
    bytes_downloaded: zero,
    known_file_size: num(b.storageUsed),
    last_backup_date: null,
    backup_list_count: num(b.versions),
    reported_quota_error: zero,
    reported_quota_warning: zero,
    backend_main_operation: null,
    backend_parsed_result: null,
    backend_version: null,
    backend_duration: null,
    backend_interrupted: zero,
    backend_begin_time: null,
    backend_warnings_actual_length: zero,
    backend_errors_actual_length: zero,
    created_at: isoString(ctx.now.getTime()),
  };
  return { server: { id: serverId, name: report.server.name }, run, nextScheduledRun: null };
}
