import { BACKUP_STATUSES, type BackupStatus, type RunRecord } from "../core/domain";
import { extractAvailableVersions } from "../ingest/available-versions";
import { parseReportDate } from "../ingest/dates";
import { TOLERANCE_KEYS, type ToleranceKey, migrateLegacyInterval } from "../monitoring/interval";
import {
  NOTIFICATION_EVENTS,
  NOTIFICATION_FREQUENCIES,
  type NotificationEvent,
  type NotificationFrequency,
  SERVER_DEFAULTS_KEY,
  splitJobKey,
} from "../monitoring/settings-types";
import type { NotificationPrefsRow } from "../monitoring/settings-store";
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from "../audit/audit-log-service";
import {
  TEMPLATE_KINDS,
  type NotificationTemplate,
  type TemplateKind,
  isTemplateLanguage,
} from "../notifications/templates";
import type { SourceLayout, SourceRow } from "./original-db";

/**
 * From the original's rows and configuration values to ours (reference §3.2 column mapping, §4.2 keys). Pure:
 * nothing here reads or writes a database.
 */

// ─── values ─────────────────────────────────────────────────────────────────────────────────────────────────────

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number => {
  const n = typeof v === "bigint" ? Number(v) : typeof v === "string" && v.trim() === "" ? 0 : Number(v);
  return Number.isFinite(n) ? n : 0;
};
const bit = (v: unknown): number => (v === true || v === "true" || v === "TRUE" || Number(v) === 1 ? 1 : 0);

/** ISO 8601 UTC with milliseconds, from the original's ISO text or SQLite's `YYYY-MM-DD HH:MM:SS` (UTC). */
export function isoDate(v: unknown): string | null {
  if (typeof v === "number" && Number.isFinite(v)) {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? null : d.toISOString();
  }
  return parseReportDate(v)?.toISOString() ?? null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function parseJson(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

// ─── servers ────────────────────────────────────────────────────────────────────────────────────────────────────

export interface SourceServer {
  id: string;
  name: string;
  alias: string;
  note: string;
  serverUrl: string;
  /** As stored by the original: "" or its encrypted form (reference §4.3). */
  password: string;
  createdAt: string | null;
}

export function mapServer(row: SourceRow): SourceServer {
  const id = text(row.id) ?? "";
  return {
    id,
    name: text(row.name) || id,
    alias: (text(row.alias) ?? "").trim(),
    note: text(row.note) ?? "",
    serverUrl: (text(row.server_url) ?? "").trim(),
    password: (text(row.server_password) ?? "").trim(),
    createdAt: isoDate(row.created_at),
  };
}

// ─── runs ───────────────────────────────────────────────────────────────────────────────────────────────────────

function normaliseStatus(raw: string): BackupStatus {
  return BACKUP_STATUSES.find((s) => s.toLowerCase() === raw.trim().toLowerCase()) ?? "Unknown";
}

/** The stored available versions as ISO strings, or null when the value is missing or unreadable. */
function storedVersions(raw: unknown): string[] | null {
  if (typeof raw !== "string" || raw.trim() === "") return null;
  const parsed = parseJson(raw);
  if (!Array.isArray(parsed)) return null;
  return parsed.map(isoDate).filter((d): d is string => d !== null);
}

/** What Duplicati logged, as the list the versions are read from (JSON text, or plain text lines). */
function logLines(raw: unknown): unknown[] | string | null {
  if (typeof raw !== "string") return null;
  const parsed = parseJson(raw);
  return Array.isArray(parsed) ? parsed : raw;
}

export type MappedRun = { run: RunRecord } | { skipped: string };

/**
 * One run of the original as our row. Counters, flags and log arrays are kept as stored; dates become ISO 8601 UTC
 * with milliseconds. A file without stored available versions (before 0.6) gets them read from the run's log,
 * as the original's own 2.0 migration did. A run whose date cannot be read is skipped (the date is its identity).
 */
export function mapRun(row: SourceRow, layout: SourceLayout, ctx: { now: string; timeZone: string }): MappedRun {
  const date = isoDate(row.date);
  if (!date) return { skipped: `unreadable date ${JSON.stringify(row.date)}` };
  const serverId = text(row[layout.serverIdColumn]);
  if (!serverId) return { skipped: "no server id" };
  const duration = num(row.duration_seconds);
  const begin = isoDate(row.begin_time) ?? date;
  const end = isoDate(row.end_time) ?? new Date(Date.parse(begin) + duration * 1000).toISOString();
  const status = normaliseStatus(text(row.status) ?? "");
  const available =
    (layout.runColumns.has("available_backups") ? storedVersions(row.available_backups) : null) ??
    extractAvailableVersions(logLines(row.messages_array) as unknown[] | null, ctx.timeZone);
  const run: RunRecord = {
    id: text(row.id) ?? "",
    server_id: serverId,
    backup_name: text(row.backup_name) ?? "",
    backup_id: text(row.backup_id) ?? "",
    date,
    status,
    duration_seconds: duration,
    size: num(row.size),
    uploaded_size: num(row.uploaded_size),
    examined_files: num(row.examined_files),
    warnings: num(row.warnings),
    errors: num(row.errors),
    messages_array: text(row.messages_array),
    warnings_array: text(row.warnings_array),
    errors_array: text(row.errors_array),
    available_backups: JSON.stringify(available),
    deleted_files: num(row.deleted_files),
    deleted_folders: num(row.deleted_folders),
    modified_files: num(row.modified_files),
    opened_files: num(row.opened_files),
    added_files: num(row.added_files),
    size_of_modified_files: num(row.size_of_modified_files),
    size_of_added_files: num(row.size_of_added_files),
    size_of_examined_files: num(row.size_of_examined_files),
    size_of_opened_files: num(row.size_of_opened_files),
    not_processed_files: num(row.not_processed_files),
    added_folders: num(row.added_folders),
    too_large_files: num(row.too_large_files),
    files_with_error: num(row.files_with_error),
    modified_folders: num(row.modified_folders),
    modified_symlinks: num(row.modified_symlinks),
    added_symlinks: num(row.added_symlinks),
    deleted_symlinks: num(row.deleted_symlinks),
    partial_backup: bit(row.partial_backup),
    dryrun: bit(row.dryrun),
    interrupted: bit(row.interrupted),
    main_operation: text(row.main_operation) || "Backup",
    parsed_result: text(row.parsed_result) || status,
    version: text(row.version),
    begin_time: begin,
    end_time: end,
    warnings_actual_length: num(row.warnings_actual_length),
    errors_actual_length: num(row.errors_actual_length),
    messages_actual_length: num(row.messages_actual_length),
    bytes_downloaded: num(row.bytes_downloaded),
    known_file_size: num(row.known_file_size),
    last_backup_date: isoDate(row.last_backup_date),
    backup_list_count: num(row.backup_list_count),
    reported_quota_error: bit(row.reported_quota_error),
    reported_quota_warning: bit(row.reported_quota_warning),
    backend_main_operation: text(row.backend_main_operation),
    backend_parsed_result: text(row.backend_parsed_result),
    backend_version: text(row.backend_version),
    backend_duration: text(row.backend_duration),
    backend_interrupted: bit(row.backend_interrupted),
    backend_begin_time: isoDate(row.backend_begin_time),
    backend_warnings_actual_length: num(row.backend_warnings_actual_length),
    backend_errors_actual_length: num(row.backend_errors_actual_length),
    created_at: isoDate(row.created_at) ?? ctx.now,
  };
  return { run };
}

// ─── settings ───────────────────────────────────────────────────────────────────────────────────────────────────

export const ALL_WEEKDAYS = "0,1,2,3,4,5,6";

/** One job's settings from the original's `backup_settings` map ("<server>:<job>" → BackupNotificationConfig). */
export interface SourceJobSettings {
  /** The key's server part: a server id (0.7 on) or a machine name (0.6). */
  serverRef: string;
  backupName: string;
  monitoringEnabled: boolean;
  /** Current-format interval ("1D", "12h"); a legacy {expectedInterval: <number>, intervalUnit} is converted. */
  interval: string;
  /** "0,1,…,6" (UTC weekdays, 0 = Sunday). */
  weekdays: string;
  /** The original's next expected run, ISO (`time`), or null. */
  time: string | null;
  /** The run `time` was computed from, ISO, or null. */
  lastBackupDate: string | null;
  prefs: Omit<NotificationPrefsRow, "server_id" | "backup_name">;
}

export interface SourceSmtp {
  host: string;
  port: number;
  connectionType: "plain" | "starttls" | "ssl";
  /** As stored by the original: "", encrypted, or (never written so, but accepted) in clear. */
  username: string;
  password: string;
  mailto: string;
  senderName: string;
  fromAddress: string;
  requireAuth: boolean;
}

export interface SourceSettings {
  jobs: SourceJobSettings[];
  /** "<server>:__default__" entries: a server's defaults for the additional destinations. */
  serverDefaults: Array<{ serverRef: string; prefs: Omit<NotificationPrefsRow, "server_id" | "backup_name"> }>;
  tolerance: ToleranceKey | null;
  frequency: NotificationFrequency | null;
  /** Template fields per kind (only what the original stored), and the language. */
  templates: { language: string | null; kinds: Partial<Record<TemplateKind, Partial<NotificationTemplate>>> } | null;
  ntfy: { url: string; topic: string; accessToken: string } | null;
  smtp: SourceSmtp | null;
  checkSchedule: { cronExpression: string; enabled: boolean } | null;
  auditRetentionDays: number | null;
  /** "<server>:<job>" → when the original last sent its overdue notice (ISO). */
  overdueNotices: Array<{ serverRef: string; backupName: string; sentAt: string }>;
  /** Server id → Duplicati address, from 0.7's `notifications.serverAddresses`. */
  serverAddresses: Map<string, string>;
  /** What was left out and why. */
  notes: string[];
}

/** Configuration keys read here (others are reported as not imported). */
const READ_KEYS = new Set([
  "backup_settings",
  "notifications",
  "ntfy_config",
  "notification_templates",
  "notification_frequency",
  "overdue_tolerance",
  "smtp_config",
  "cron_service",
  "audit_retention_days",
  "overdue_notifications",
]);
/** Keys that describe the original's own installation: nothing to bring over. */
const IGNORED_KEYS = new Set(["master_key_fingerprint", "last_overdue_check"]);

const event = (v: unknown): NotificationEvent | null =>
  typeof v === "string" && (NOTIFICATION_EVENTS as readonly string[]).includes(v) ? (v as NotificationEvent) : null;
const flag = (v: unknown): number | null => (typeof v === "boolean" ? (v ? 1 : 0) : null);
const nonEmpty = (v: unknown): string | null => (typeof v === "string" && v.trim() !== "" ? v.trim() : null);

function weekdays(v: unknown): string {
  if (!Array.isArray(v)) return ALL_WEEKDAYS;
  const days = [...new Set(v.map(Number).filter((d) => Number.isInteger(d) && d >= 0 && d <= 6))].sort();
  return days.length > 0 ? days.join(",") : ALL_WEEKDAYS;
}

function jobSettings(
  serverRef: string,
  backupName: string,
  v: Record<string, unknown>,
  notes: string[],
): SourceJobSettings {
  const raw = v.expectedInterval;
  // A bare number without a unit is seconds, as a bare integer string is.
  let interval = migrateLegacyInterval(
    typeof raw === "number" && v.intervalUnit === undefined ? String(raw) : raw,
    v.intervalUnit,
  );
  if (raw === undefined || raw === null || raw === "") interval = "1D";
  else if (interval === null) {
    notes.push(`${serverRef}:${backupName}: interval ${JSON.stringify(raw)} is not valid; the default 1D is used`);
    interval = "1D";
  }
  return {
    serverRef,
    backupName,
    monitoringEnabled: v.overdueBackupCheckEnabled !== false,
    interval,
    weekdays: weekdays(v.allowedWeekDays),
    time: isoDate(v.time),
    lastBackupDate: isoDate(v.lastBackupDate),
    prefs: {
      notification_event: event(v.notificationEvent),
      ntfy_enabled: flag(v.ntfyEnabled),
      email_enabled: flag(v.emailEnabled),
      additional_notification_event: event(v.additionalNotificationEvent),
      additional_emails: nonEmpty(v.additionalEmails),
      additional_ntfy_topic: nonEmpty(v.additionalNtfyTopic),
    },
  };
}

/** `{machine_name}` (0.6 templates) is `{server_name}` now; every other placeholder kept its name. */
const templateText = (s: string): string => s.replace(/\{machine_name\}/g, "{server_name}");

function templates(v: unknown): SourceSettings["templates"] {
  if (!isRecord(v)) return null;
  const kinds: Partial<Record<TemplateKind, Partial<NotificationTemplate>>> = {};
  for (const kind of TEMPLATE_KINDS) {
    const t = v[kind];
    if (!isRecord(t)) continue;
    const fields: Partial<NotificationTemplate> = {};
    for (const f of ["title", "message", "priority", "tags"] as const) {
      if (typeof t[f] === "string") fields[f] = templateText(t[f]);
    }
    kinds[kind] = fields;
  }
  return { language: isTemplateLanguage(v.language) ? v.language : null, kinds };
}

function ntfy(v: unknown): SourceSettings["ntfy"] {
  if (!isRecord(v) || !nonEmpty(v.topic)) return null;
  return {
    url: nonEmpty(v.url) ?? "",
    topic: String(v.topic).trim(),
    accessToken: typeof v.accessToken === "string" ? v.accessToken.trim() : "",
  };
}

function smtp(v: unknown): SourceSmtp | null {
  if (!isRecord(v) || !nonEmpty(v.host)) return null;
  const type = v.connectionType;
  // Releases before connectionType stored `secure` (true = TLS from the start).
  const connectionType =
    type === "plain" || type === "starttls" || type === "ssl" ? type : v.secure === true ? "ssl" : "starttls";
  return {
    host: String(v.host).trim(),
    port: Number.isInteger(Number(v.port)) && Number(v.port) > 0 ? Number(v.port) : 587,
    connectionType,
    username: typeof v.username === "string" ? v.username : "",
    password: typeof v.password === "string" ? v.password : "",
    mailto: typeof v.mailto === "string" ? v.mailto : "",
    senderName: typeof v.senderName === "string" ? v.senderName : "",
    fromAddress: typeof v.fromAddress === "string" ? v.fromAddress : "",
    requireAuth: v.requireAuth !== false,
  };
}

const CRON = /^\s*\S+(\s+\S+){4,5}\s*$/;

/**
 * The original's settings, whatever version wrote them: 0.6/0.7 bundle ntfy, templates (and an older copy of the
 * per-job settings) under `notifications`; 0.8 on have one key each. Values that do not parse are left out with a
 * note; our defaults then apply.
 */
export function readSettings(config: ReadonlyMap<string, string>): SourceSettings {
  const notes: string[] = [];
  const legacy = parseJson(config.get("notifications"));
  const bundle = isRecord(legacy) ? legacy : {};

  const perJob: Record<string, unknown> = {
    ...(isRecord(bundle.backupSettings) ? bundle.backupSettings : {}),
    ...((): Record<string, unknown> => {
      const v = parseJson(config.get("backup_settings"));
      return isRecord(v) ? v : {};
    })(),
  };
  const jobs: SourceJobSettings[] = [];
  const serverDefaults: SourceSettings["serverDefaults"] = [];
  for (const [key, value] of Object.entries(perJob)) {
    const parts = splitJobKey(key);
    if (!parts || !isRecord(value)) {
      notes.push(`backup_settings entry ${JSON.stringify(key)} is not "<server>:<job>" → settings; left out`);
      continue;
    }
    const settings = jobSettings(parts.serverId, parts.backupName, value, notes);
    if (parts.backupName === SERVER_DEFAULTS_KEY) {
      const { additional_notification_event, additional_emails, additional_ntfy_topic } = settings.prefs;
      serverDefaults.push({
        serverRef: parts.serverId,
        prefs: {
          notification_event: null,
          ntfy_enabled: null,
          email_enabled: null,
          additional_notification_event,
          additional_emails,
          additional_ntfy_topic,
        },
      });
    } else jobs.push(settings);
  }

  const tolerance = config.get("overdue_tolerance");
  const frequency = config.get("notification_frequency");
  const cron = parseJson(config.get("cron_service"));
  const task = isRecord(cron) && isRecord(cron.tasks) ? cron.tasks["overdue-backup-check"] : undefined;
  const retention = Number(config.get("audit_retention_days"));
  const notices = parseJson(config.get("overdue_notifications"));
  const overdueNotices: SourceSettings["overdueNotices"] = [];
  for (const [key, value] of Object.entries(isRecord(notices) ? notices : {})) {
    const parts = splitJobKey(key);
    const sentAt = isRecord(value) ? isoDate(value.lastNotificationSent) : null;
    if (parts && sentAt) overdueNotices.push({ serverRef: parts.serverId, backupName: parts.backupName, sentAt });
  }
  const serverAddresses = new Map<string, string>();
  for (const entry of Array.isArray(bundle.serverAddresses) ? bundle.serverAddresses : []) {
    if (!isRecord(entry)) continue;
    const id = nonEmpty(entry.serverId) ?? nonEmpty(entry.id) ?? nonEmpty(entry.machineId);
    const url = nonEmpty(entry.serverUrl) ?? nonEmpty(entry.server_url) ?? nonEmpty(entry.url);
    if (id && url) serverAddresses.set(id, url);
  }

  for (const key of config.keys()) {
    if (!READ_KEYS.has(key) && !IGNORED_KEYS.has(key)) notes.push(`configuration key "${key}" is not imported`);
  }
  return {
    jobs,
    serverDefaults,
    tolerance: (TOLERANCE_KEYS as readonly string[]).includes(tolerance ?? "") ? (tolerance as ToleranceKey) : null,
    frequency: (NOTIFICATION_FREQUENCIES as readonly string[]).includes(frequency ?? "")
      ? (frequency as NotificationFrequency)
      : null,
    templates: templates(parseJson(config.get("notification_templates")) ?? bundle.templates),
    ntfy: ntfy(parseJson(config.get("ntfy_config")) ?? bundle.ntfy),
    smtp: smtp(parseJson(config.get("smtp_config"))),
    checkSchedule:
      isRecord(task) && typeof task.cronExpression === "string" && CRON.test(task.cronExpression)
        ? { cronExpression: task.cronExpression.trim(), enabled: task.enabled !== false }
        : null,
    auditRetentionDays:
      Number.isInteger(retention) && retention >= MIN_RETENTION_DAYS && retention <= MAX_RETENTION_DAYS
        ? retention
        : null,
    overdueNotices,
    serverAddresses,
    notes,
  };
}
