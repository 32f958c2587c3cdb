import { z } from "zod";
import { TOLERANCE_KEYS } from "./interval";

/** Which new runs notify: off / all / warnings (everything but Success) / errors (Error, Fatal or errors > 0). */
export const NOTIFICATION_EVENTS = ["all", "warnings", "errors", "off"] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export const NOTIFICATION_FREQUENCIES = ["onetime", "every_day", "every_week", "every_month"] as const;
export type NotificationFrequency = (typeof NOTIFICATION_FREQUENCIES)[number];
export const DEFAULT_FREQUENCY: NotificationFrequency = "every_day";
/** Re-notification spacing of an ongoing overdue episode (onetime: never again). */
export const FREQUENCY_MS: Record<NotificationFrequency, number | null> = {
  onetime: null,
  every_day: 24 * 3600_000,
  every_week: 7 * 24 * 3600_000,
  every_month: 30 * 24 * 3600_000,
};

/** Overdue-check intervals the original offers (POST /api/cron-config). */
export const CHECK_INTERVALS = {
  disabled: null,
  "1min": "*/1 * * * *",
  "5min": "*/5 * * * *",
  "10min": "*/10 * * * *",
  "15min": "*/15 * * * *",
  "20min": "*/20 * * * *",
  "30min": "*/30 * * * *",
  "1hour": "0 * * * *",
  "2hours": "0 */2 * * *",
} as const;
export type CheckInterval = keyof typeof CHECK_INTERVALS;
export const DEFAULT_CHECK_CRON = "*/5 * * * *";

export const SERVER_DEFAULTS_KEY = "__default__";

const weekday = z.number().int().min(0).max(6);

/**
 * One job's settings in the original's BackupNotificationConfig shape (the `backup_settings` map of
 * GET /api/configuration/unified and POST /api/configuration/backup-settings). `time` is the next expected run
 * (maintained by the server; ignored on input), `lastBackupDate` the run it was computed from.
 */
export const BackupSettingsSchema = z
  .object({
    notificationEvent: z.enum(NOTIFICATION_EVENTS).optional(),
    overdueBackupCheckEnabled: z.boolean().optional(),
    expectedInterval: z.union([z.string(), z.number()]).optional(),
    intervalUnit: z.enum(["hour", "day"]).optional().describe("legacy format: expectedInterval in hours or days"),
    allowedWeekDays: z.array(weekday).optional(),
    time: z.string().optional(),
    lastBackupDate: z.string().optional(),
    ntfyEnabled: z.boolean().optional(),
    emailEnabled: z.boolean().optional(),
    additionalNotificationEvent: z.enum(NOTIFICATION_EVENTS).optional(),
    additionalEmails: z.string().max(2000).optional(),
    additionalNtfyTopic: z.string().max(200).optional(),
  })
  .meta({ id: "BackupSettings" });
export type BackupSettingsInput = z.infer<typeof BackupSettingsSchema>;

/** What the server answers for one job (all fields resolved). */
export interface BackupSettings {
  notificationEvent: NotificationEvent;
  overdueBackupCheckEnabled: boolean;
  expectedInterval: string;
  allowedWeekDays: number[];
  time: string;
  lastBackupDate?: string;
  ntfyEnabled: boolean;
  emailEnabled: boolean;
  additionalNotificationEvent?: NotificationEvent;
  additionalEmails?: string;
  additionalNtfyTopic?: string;
}

/** A server's defaults for the additional destinations ("<serverId>:__default__"). */
export interface ServerNotificationDefaults {
  additionalNotificationEvent?: NotificationEvent;
  additionalEmails?: string;
  additionalNtfyTopic?: string;
}

export const ToleranceSchema = z.enum(TOLERANCE_KEYS);

export const jobKey = (serverId: string, backupName: string): string => `${serverId}:${backupName}`;

/** Splits "<serverId>:<backupName>" at the first colon (server ids never contain one; job names may). */
export function splitJobKey(key: string): { serverId: string; backupName: string } | null {
  const i = key.indexOf(":");
  if (i <= 0 || i === key.length - 1) return null;
  return { serverId: key.slice(0, i), backupName: key.slice(i + 1) };
}

/** Upstream's filter for new-run notifications. */
export function eventMatches(event: NotificationEvent | undefined, status: string, errors: number): boolean {
  switch (event ?? "warnings") {
    case "off":
      return false;
    case "all":
      return true;
    case "warnings":
      return status !== "Success";
    case "errors":
      return status === "Error" || status === "Fatal" || errors > 0;
  }
}
