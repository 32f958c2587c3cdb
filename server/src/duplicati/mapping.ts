import { parseAllowedWeekDays, parseNextScheduledRun } from "../monitoring/schedule";
import type { DuplicatiBackupEntry, DuplicatiLogEntry, DuplicatiSchedule, SystemInfo } from "./client";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A Duplicati schedule as the monitoring settings take it. */
export interface MappedSchedule {
  interval: string;
  allowedWeekDays: number[];
  nextRun: Date | null;
}

/**
 * Schedule.Repeat → interval ("1D", "12h", "1W"…), the AllowedWeekDays clause of Schedule.Rule (else
 * Schedule.AllowedDays) → weekdays (none: every day), Schedule.Time → next run. Null when there is no Repeat.
 */
export function mapSchedule(schedule: DuplicatiSchedule): MappedSchedule | null {
  const repeat = typeof schedule.Repeat === "string" ? schedule.Repeat.trim() : "";
  if (!repeat) return null;
  const rule = typeof schedule.Rule === "string" ? schedule.Rule : "";
  const days = /AllowedWeekDays\s*=/i.test(rule)
    ? parseAllowedWeekDays(rule)
    : Array.isArray(schedule.AllowedDays) && schedule.AllowedDays.length > 0
      ? parseAllowedWeekDays(schedule.AllowedDays)
      : [0, 1, 2, 3, 4, 5, 6];
  return { interval: repeat, allowedWeekDays: days, nextRun: parseNextScheduledRun(schedule.Time ?? null) };
}

export type LogEntryReport =
  | { kind: "report"; report: { Data: Record<string, unknown>; Extra: Record<string, string> } }
  | { kind: "other" }
  | { kind: "invalid"; reason: string };

/**
 * One entry of GET /api/v1/backup/<ID>/log as an upload-shaped report: its Message (a JSON string) is the run's Data
 * (with Messages/Warnings/Errors, the "collect" shape), Extra names the server and job. Entries of other operations
 * (restore, compact…) are "other".
 */
export function reportOfLogEntry(
  entry: DuplicatiLogEntry,
  ids: { serverId: string; serverName: string; backupId: string; backupName: string },
): LogEntryReport {
  if (typeof entry.Message !== "string") return { kind: "other" };
  let data: unknown;
  try {
    data = JSON.parse(entry.Message);
  } catch {
    return { kind: "invalid", reason: "log entry Message is not JSON" };
  }
  if (!isObject(data) || data.MainOperation !== "Backup") return { kind: "other" };
  return {
    kind: "report",
    report: {
      Data: data,
      Extra: {
        OperationName: "Backup",
        "machine-id": ids.serverId,
        "machine-name": ids.serverName,
        "backup-name": ids.backupName,
        "backup-id": ids.backupId,
      },
    },
  };
}

const REDACTED = "***--REDACTED--***";
const SECRET_SETTING = /pass|secret|token|auth|key/i;

/** A backup definition with its destination credentials removed: TargetURL → "<scheme>:***--REDACTED--***". */
function redactBackup(entry: DuplicatiBackupEntry): DuplicatiBackupEntry {
  const backup: Record<string, unknown> = { ...entry.Backup };
  if (typeof backup.TargetURL === "string") backup.TargetURL = `${backup.TargetURL.split(":")[0]}:${REDACTED}`;
  if (Array.isArray(backup.Settings)) {
    backup.Settings = backup.Settings.map((s: unknown) =>
      isObject(s) && typeof s.Name === "string" && SECRET_SETTING.test(s.Name) ? { ...s, Value: REDACTED } : s,
    );
  }
  return { ...entry, Backup: backup as DuplicatiBackupEntry["Backup"] };
}

/** systeminfo without the module lists, its option lists cut down to machine-id. */
function trimSystemInfo(info: SystemInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(info)) {
    if (key.endsWith("Modules")) continue;
    if ((key === "Options" || key === "ServerOnlyOptions") && Array.isArray(value)) {
      out[key] = value.filter((o: unknown) => isObject(o) && o.Name === "machine-id");
    } else out[key] = value;
  }
  return out;
}

/**
 * The `jsonData` of POST /api/backups/collect with downloadJson (reference §8.3): pretty JSON of the system info,
 * the backups (credentials redacted) and each backup's log entries with Message parsed.
 */
export function collectedJson(
  info: SystemInfo,
  backups: readonly DuplicatiBackupEntry[],
  logs: ReadonlyArray<{ backupId: string; backupName: string; entries: readonly DuplicatiLogEntry[] }>,
): string {
  const parse = (entry: DuplicatiLogEntry) => {
    if (typeof entry.Message !== "string") return entry;
    try {
      return { ...entry, Message: JSON.parse(entry.Message) as unknown };
    } catch {
      return entry;
    }
  };
  return JSON.stringify(
    {
      system_info: trimSystemInfo(info),
      backups: backups.map(redactBackup),
      backup_logs: logs.map((l) => ({
        backupId: l.backupId,
        backupName: l.backupName,
        messages: l.entries.map(parse),
      })),
    },
    null,
    2,
  );
}
