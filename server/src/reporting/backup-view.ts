import type { RunRecord } from "../core/domain";
import { formatDurationHHMMSS } from "../ingest/duration";
import type { ServerPublicRow } from "../store/servers-store";
import type { BackupView, ServerView } from "./schemas";

/** The columns of a stored run that the "Backup object" is made from. */
export const BACKUP_VIEW_COLUMNS = [
  "id",
  "server_id",
  "backup_name",
  "backup_id",
  "date",
  "status",
  "warnings",
  "errors",
  "messages_actual_length",
  "examined_files",
  "size",
  "uploaded_size",
  "duration_seconds",
  "known_file_size",
  "backup_list_count",
  "messages_array",
  "warnings_array",
  "errors_array",
  "available_backups",
] as const satisfies ReadonlyArray<keyof RunRecord>;

export type BackupViewRow = Pick<RunRecord, (typeof BACKUP_VIEW_COLUMNS)[number]>;

/**
 * SELECT of exactly those columns from `backups b`. Reading a run row costs per column fetched (better-sqlite3 makes
 * an object per row, property by property), and the read endpoints need 19 of the 58.
 */
export const BACKUP_VIEW_SELECT = `SELECT ${BACKUP_VIEW_COLUMNS.map((c) => `b.${c}`).join(", ")} FROM backups b`;

const parseJsonArray = (text: string | null): unknown[] | null => {
  if (text === null) return null;
  // The arrays are mostly empty or absent; "[]" needs no parser.
  if (text === "[]") return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
};

const stringsOf = (text: string): string[] => {
  const list = parseJsonArray(text);
  if (list === null) return [];
  for (const v of list) if (typeof v !== "string") return list.filter((x): x is string => typeof x === "string");
  return list as string[];
};

/** The original's "Backup object" from a stored run; the log arrays come back as arrays (contract §1). */
export function toBackupView(run: BackupViewRow): BackupView {
  const seconds = Number(run.duration_seconds);
  return {
    id: run.id,
    server_id: run.server_id,
    name: run.backup_name,
    backup_id: run.backup_id,
    date: run.date,
    status: run.status,
    warnings: Number(run.warnings),
    errors: Number(run.errors),
    messages: Number(run.messages_actual_length),
    fileCount: Number(run.examined_files),
    fileSize: Number(run.size),
    uploadedSize: Number(run.uploaded_size),
    duration: formatDurationHHMMSS(seconds),
    duration_seconds: seconds,
    durationInMinutes: seconds / 60,
    knownFileSize: Number(run.known_file_size),
    backup_list_count: Number(run.backup_list_count),
    messages_array: parseJsonArray(run.messages_array),
    warnings_array: parseJsonArray(run.warnings_array),
    errors_array: parseJsonArray(run.errors_array),
    available_backups: stringsOf(run.available_backups),
  };
}

export function toServerView(s: ServerPublicRow): ServerView {
  return { id: s.id, name: s.name, alias: s.alias, note: s.note, created_at: s.created_at };
}
