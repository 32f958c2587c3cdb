import type { RunRecord } from "../core/domain";

/**
 * Notification templates: `{name}` placeholders rendered with the semantics of the `string-template` package the
 * original uses (reference §6.3), the template variables, and the default English templates. Everything here is
 * pure: no I/O, no clock (callers pass `now`), no process time zone (callers pass one).
 */

export const TEMPLATE_KINDS = ["success", "warning", "overdueBackup", "overdueCleared"] as const;
export type TemplateKind = (typeof TEMPLATE_KINDS)[number];

/** ntfy priorities (names and their numeric forms). */
export const NTFY_PRIORITIES = ["min", "low", "default", "high", "max", "urgent", "1", "2", "3", "4", "5"] as const;

export interface NotificationTemplate {
  title: string;
  message: string;
  /** ntfy priority: min, low, default, high, max/urgent (or 1–5). */
  priority: string;
  /** Comma-separated ntfy tags (emoji short codes or plain words). */
  tags: string;
}

export type TemplateSet = Record<TemplateKind, NotificationTemplate>;

/** What the `notification_templates` configuration key holds. */
export interface TemplateSettings extends TemplateSet {
  language: string;
}

/**
 * Languages a template set may be written in (the original's UI locales plus its `zh-CN` key). The language picks
 * the number and date formats; only English default texts ship, so every language's defaults are English.
 */
export const TEMPLATE_LANGUAGES = ["en", "en-GB", "de", "fr", "es", "pt-BR", "hi-Latn", "zh-Hans", "zh-CN"] as const;
export type TemplateLanguage = (typeof TEMPLATE_LANGUAGES)[number];
export const DEFAULT_LANGUAGE: TemplateLanguage = "en-GB";

export const isTemplateLanguage = (v: unknown): v is TemplateLanguage =>
  typeof v === "string" && (TEMPLATE_LANGUAGES as readonly string[]).includes(v);

/** The locale that formats numbers and dates for a template language ("en" reads as en-GB, like its defaults). */
export const formatLocale = (language: string): string => (language === "en" ? DEFAULT_LANGUAGE : language);

// ---------------------------------------------------------------------------------------------------------------
// Rendering

/** A placeholder: letters, digits and underscores between braces (as string-template). */
const PLACEHOLDER = /\{([0-9a-zA-Z_]+)\}/g;

export type TemplateVariables = Readonly<Record<string, string | number | null | undefined>>;

/**
 * Replaces `{name}` with the variable's value, as string-template does: an unknown, null or undefined variable
 * becomes "", and `{{name}}` is an escape that leaves `{name}` in the text. With `keepUnknown`, placeholders with no
 * variable stay as written (used by the test send, which shows which placeholders a template has).
 */
export function renderTemplate(text: string, vars: TemplateVariables, options: { keepUnknown?: boolean } = {}): string {
  return text.replace(PLACEHOLDER, (match: string, name: string, index: number) => {
    if (text[index - 1] === "{" && text[index + match.length] === "}") return name;
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (value === null || value === undefined) return options.keepUnknown && !Object.hasOwn(vars, name) ? match : "";
    return String(value);
  });
}

export interface RenderedNotification {
  kind: TemplateKind;
  title: string;
  message: string;
  priority: string;
  tags: string;
}

export function renderNotification(
  kind: TemplateKind,
  template: NotificationTemplate,
  vars: TemplateVariables,
  options: { keepUnknown?: boolean } = {},
): RenderedNotification {
  return {
    kind,
    title: renderTemplate(template.title, vars, options),
    message: renderTemplate(template.message, vars, options),
    priority: template.priority,
    tags: template.tags,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting of the variables

const BYTE_UNITS = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/** 1024-based with at most 2 decimals in the language's digits: 0 → "0 Bytes", 1536 → "1.5 KB". */
export function formatBytes(bytes: number, language: string = DEFAULT_LANGUAGE): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return "0 Bytes";
  const i = Math.min(BYTE_UNITS.length - 1, Math.floor(Math.log(bytes) / Math.log(1024)));
  const value = Number((bytes / 1024 ** i).toFixed(2));
  return `${value.toLocaleString(language, { maximumFractionDigits: 2 })} ${BYTE_UNITS[i]}`;
}

/** "1h 2m 3s", "38m 31s", "51s" (seconds floored; hours not wrapped into days). */
export function formatDuration(seconds: number): string {
  const total = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** Integer in the language's digits ("1,234" in English). */
export function formatInteger(n: number, language: string = DEFAULT_LANGUAGE): string {
  return (Number.isFinite(n) ? Math.round(n) : 0).toLocaleString(language, { maximumFractionDigits: 0 });
}

/** Short date and time in the language and time zone, e.g. "14/06/2025, 01:00" (en-GB); "" for a missing date. */
export function formatDateTime(iso: string | null | undefined, language: string, timeZone: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(language, { dateStyle: "short", timeStyle: "short", timeZone }).format(d);
}

const RELATIVE_STEPS: Array<{ unit: Intl.RelativeTimeFormatUnit; seconds: number }> = [
  { unit: "year", seconds: 365 * 86400 },
  { unit: "month", seconds: 30 * 86400 },
  { unit: "week", seconds: 7 * 86400 },
  { unit: "day", seconds: 86400 },
  { unit: "hour", seconds: 3600 },
  { unit: "minute", seconds: 60 },
];

/**
 * English relative time from `now`: "2 days ago", "in 3 hours", "now". The largest whole unit is used (90 minutes
 * → "1 hour ago"), so the text never overstates how long it has been.
 */
export function formatRelative(iso: string | null | undefined, now: Date): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const diff = Math.round((t - now.getTime()) / 1000);
  const abs = Math.abs(diff);
  const rtf = new Intl.RelativeTimeFormat("en", { numeric: "always" });
  for (const step of RELATIVE_STEPS) {
    if (abs >= step.seconds) return rtf.format(Math.sign(diff) * Math.floor(abs / step.seconds), step.unit);
  }
  if (abs < 10) return "now";
  return rtf.format(diff, "second");
}

/** Lines of `log_text` kept: the last ones, where a run's outcome usually is. */
export const LOG_TEXT_MAX_LINES = 50;
/** Longer single lines are cut (a stack trace in one message would otherwise fill the notification). */
export const LOG_TEXT_MAX_LINE_CHARS = 500;

function parseLines(json: string | null): string[] {
  if (!json) return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return [json];
  }
  if (!Array.isArray(value)) return [];
  return value
    .map((v) => {
      if (typeof v === "string") return v;
      if (v && typeof v === "object" && typeof (v as { message?: unknown }).message === "string") {
        return (v as { message: string }).message;
      }
      return v === null || v === undefined ? "" : JSON.stringify(v);
    })
    .flatMap((line) => line.split(/\r?\n/))
    .filter((line) => line.trim() !== "");
}

/**
 * The warnings and errors of a run, one per line; when it has none, all its messages (real Duplicati reports carry
 * the whole log in LogLines). Capped to the last {@link LOG_TEXT_MAX_LINES} lines, with a first line saying how many
 * earlier ones were left out, and each line to {@link LOG_TEXT_MAX_LINE_CHARS} characters.
 */
export function logText(run: Pick<RunRecord, "warnings_array" | "errors_array" | "messages_array">): string {
  let lines = [...parseLines(run.warnings_array), ...parseLines(run.errors_array)];
  if (lines.length === 0) lines = parseLines(run.messages_array);
  lines = lines.map((l) => (l.length > LOG_TEXT_MAX_LINE_CHARS ? `${l.slice(0, LOG_TEXT_MAX_LINE_CHARS - 1)}…` : l));
  if (lines.length <= LOG_TEXT_MAX_LINES) return lines.join("\n");
  const omitted = lines.length - LOG_TEXT_MAX_LINES;
  return [`(${omitted} earlier line${omitted === 1 ? "" : "s"} omitted)`, ...lines.slice(-LOG_TEXT_MAX_LINES)].join(
    "\n",
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Variables

export interface ServerDetails {
  id: string;
  name: string;
  alias: string;
  note: string;
  url: string;
}

export interface FormatOptions {
  language: string;
  timeZone: string;
}

/** server_name, server_alias ("<alias> (<name>)" when an alias is set), server_note, server_url. */
export function serverVariables(s: ServerDetails): Record<string, string> {
  const alias = s.alias.trim();
  return {
    server_id: s.id,
    server_name: s.name,
    server_alias: alias ? `${alias} (${s.name})` : s.name,
    server_note: s.note,
    server_url: s.url,
  };
}

export type RunFields = Pick<
  RunRecord,
  | "backup_name"
  | "status"
  | "date"
  | "duration_seconds"
  | "examined_files"
  | "size"
  | "uploaded_size"
  | "known_file_size"
  | "backup_list_count"
  | "messages_actual_length"
  | "warnings"
  | "errors"
  | "warnings_array"
  | "errors_array"
  | "messages_array"
>;

/** The variables of the success and warning templates (one run). */
export function runVariables(server: ServerDetails, run: RunFields, f: FormatOptions): Record<string, string> {
  return {
    ...serverVariables(server),
    backup_name: run.backup_name,
    status: run.status,
    backup_date: formatDateTime(run.date, f.language, f.timeZone),
    duration: formatDuration(run.duration_seconds),
    file_count: formatInteger(run.examined_files, f.language),
    file_size: formatBytes(run.size, f.language),
    uploaded_size: formatBytes(run.uploaded_size, f.language),
    storage_size: formatBytes(run.known_file_size, f.language),
    available_versions: formatInteger(run.backup_list_count, f.language),
    messages_count: formatInteger(run.messages_actual_length, f.language),
    warnings_count: formatInteger(run.warnings, f.language),
    errors_count: formatInteger(run.errors, f.language),
    log_text: logText(run),
  };
}

export interface OverdueFacts {
  backupName: string;
  lastRunDate: string | null;
  expectedAt: string;
  /** The job's expected interval, e.g. "1D". */
  interval: string;
  /** The tolerance label, e.g. "2 hours". */
  toleranceLabel: string;
}

/** The variables of the overdueBackup template. */
export function overdueVariables(
  server: ServerDetails,
  o: OverdueFacts,
  now: Date,
  f: FormatOptions,
): Record<string, string> {
  return {
    ...serverVariables(server),
    backup_name: o.backupName,
    last_backup_date: formatDateTime(o.lastRunDate, f.language, f.timeZone),
    last_elapsed: formatRelative(o.lastRunDate, now),
    expected_date: formatDateTime(o.expectedAt, f.language, f.timeZone),
    expected_elapsed: formatRelative(o.expectedAt, now),
    backup_interval: o.interval,
    // The original's legacy names: the value is the whole interval string and the type is empty.
    backup_interval_value: o.interval,
    backup_interval_type: "",
    overdue_tolerance: o.toleranceLabel,
  };
}

export interface ClearedFacts {
  backupName: string;
  overdueSince: string;
  /** The run that ended the episode, if one did (a schedule change or monitoring switched off ends it too). */
  run: RunFields | null;
  /** The job's latest run when no run ended the episode. */
  latestRunDate: string | null;
  latestStatus: string | null;
  interval: string;
}

/**
 * The variables of the overdueCleared template: the run variables when a run ended the episode, plus overdue_since,
 * overdue_elapsed and backup_interval. Without a run, backup_date and status describe the job's latest run.
 */
export function clearedVariables(
  server: ServerDetails,
  c: ClearedFacts,
  now: Date,
  f: FormatOptions,
): Record<string, string> {
  const base = c.run
    ? runVariables(server, c.run, f)
    : {
        ...serverVariables(server),
        backup_name: c.backupName,
        status: c.latestStatus ?? "",
        backup_date: formatDateTime(c.latestRunDate, f.language, f.timeZone),
      };
  return {
    ...base,
    backup_name: c.backupName,
    overdue_since: formatDateTime(c.overdueSince, f.language, f.timeZone),
    overdue_elapsed: formatRelative(c.overdueSince, now),
    backup_interval: c.interval,
  };
}

/** The success/warning variables filled with their own names, as the original's template test send does. */
export function sampleVariables(): Record<string, string> {
  const names = [
    "server_name",
    "server_alias",
    "server_note",
    "server_url",
    "backup_name",
    "status",
    "backup_date",
    "duration",
    "file_count",
    "file_size",
    "uploaded_size",
    "storage_size",
    "available_versions",
    "messages_count",
    "warnings_count",
    "errors_count",
  ];
  return {
    ...Object.fromEntries(names.map((n) => [n, n])),
    log_text: ["log_text line 1", "log_text line 2", "log_text line 3"].join("\n"),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Default templates (English)

const TAGS = "duplicati, duplistatus";

export const DEFAULT_TEMPLATES_EN: TemplateSet = {
  success: {
    title: "✅ {status} - {backup_name} @ {server_alias}",
    message:
      "The backup {backup_name} on {server_alias} finished with status {status} on {backup_date}, after {duration}.\n\n" +
      "🔍 Note: {server_note}\n" +
      "☁️ Uploaded: {uploaded_size}\n" +
      "💾 Storage used: {storage_size}\n" +
      "🔃 Versions available: {available_versions}\n",
    priority: "default",
    tags: `${TAGS}, success`,
  },
  warning: {
    title: "⚠️ {status} - {backup_name} @ {server_alias}",
    message:
      "The backup {backup_name} on {server_alias} finished with status {status} on {backup_date}.\n\n" +
      "🔍 Note: {server_note}\n" +
      "⏰ Duration: {duration}\n" +
      "☁️ Uploaded: {uploaded_size}\n\n" +
      "🚨 Warnings: {warnings_count}\n" +
      "🛑 Errors: {errors_count}\n\n" +
      "📄 Log messages:\n{log_text}\n\n" +
      "⚠️ Please check the Duplicati server: {server_url}\n",
    priority: "high",
    tags: `${TAGS}, warning, error`,
  },
  overdueBackup: {
    title: "🕑 Overdue - {backup_name} @ {server_alias}",
    message:
      "The backup {backup_name} on {server_alias} is overdue.\n\n" +
      "🔍 Note: {server_note}\n" +
      "🚨 Last backup received: {last_backup_date} ({last_elapsed})\n" +
      "⏰ Next backup was expected: {expected_date} ({expected_elapsed})\n\n" +
      "Expected interval: {backup_interval} / Tolerance: {overdue_tolerance}\n\n" +
      "⚠️ Please check the Duplicati server: {server_url}\n",
    priority: "default",
    tags: `${TAGS}, overdue`,
  },
  overdueCleared: {
    title: "✅ Back on schedule - {backup_name} @ {server_alias}",
    message:
      "The backup {backup_name} on {server_alias} is back on schedule.\n\n" +
      "🔍 Note: {server_note}\n" +
      "🕑 Overdue since: {overdue_since}\n" +
      "✅ Latest backup: {backup_date} ({status})\n",
    priority: "default",
    tags: `${TAGS}, overdue, resolved`,
  },
};

/** The default templates of a language (English texts for every language; see TEMPLATE_LANGUAGES). */
export function defaultTemplates(_language: TemplateLanguage = DEFAULT_LANGUAGE): TemplateSet {
  return structuredClone(DEFAULT_TEMPLATES_EN);
}

export function defaultTemplateSettings(): TemplateSettings {
  return { language: DEFAULT_LANGUAGE, ...defaultTemplates(DEFAULT_LANGUAGE) };
}

/** Reads a stored `notification_templates` value: fields missing or malformed fall back to the defaults. */
export function parseTemplateSettings(raw: string | null): TemplateSettings {
  const defaults = defaultTemplateSettings();
  if (!raw) return defaults;
  let stored: unknown;
  try {
    stored = JSON.parse(raw);
  } catch {
    return defaults;
  }
  if (!stored || typeof stored !== "object") return defaults;
  const s = stored as Record<string, unknown>;
  const out: TemplateSettings = {
    ...defaults,
    language: isTemplateLanguage(s.language) ? s.language : defaults.language,
  };
  for (const kind of TEMPLATE_KINDS) out[kind] = mergeTemplate(defaults[kind], s[kind]);
  return out;
}

/** A template with the string fields of `patch` laid over `base`. */
export function mergeTemplate(base: NotificationTemplate, patch: unknown): NotificationTemplate {
  if (!patch || typeof patch !== "object") return { ...base };
  const p = patch as Record<string, unknown>;
  const pick = (k: keyof NotificationTemplate): string => (typeof p[k] === "string" ? (p[k] as string) : base[k]);
  return { title: pick("title"), message: pick("message"), priority: pick("priority"), tags: pick("tags") };
}
