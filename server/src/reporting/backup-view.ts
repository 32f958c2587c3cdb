import type { RunRecord } from "../core/domain";
import { formatDurationHHMMSS } from "../ingest/duration";
import type { ServerPublicRow } from "../store/servers-store";
import type { BackupView, ServerView } from "./schemas";

const parseJsonArray = (text: string | null): unknown[] | null => {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
};

/** The original's "Backup object" from a stored run; the log arrays come back as arrays (contract §1). */
export function toBackupView(run: RunRecord): BackupView {
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
    available_backups: (parseJsonArray(run.available_backups) ?? []).filter((v): v is string => typeof v === "string"),
  };
}

export function toServerView(s: ServerPublicRow): ServerView {
  return { id: s.id, name: s.name, alias: s.alias, note: s.note, created_at: s.created_at };
}
