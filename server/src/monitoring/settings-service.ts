import type { Clock } from "../core/clock";
import { HttpError } from "../core/errors";
import { parseWeekdays } from "../core/job-state";
import type { Database, Queryable } from "../db/database";
import { getConfigValue, setConfigValue } from "../store/configuration-store";
import {
  type ToleranceKey,
  TOLERANCE_MINUTES,
  isValidInterval,
  migrateLegacyInterval,
  resolveTolerance,
} from "./interval";
import { computeNextExpected } from "./schedule";
import {
  type BackupSettings,
  type BackupSettingsInput,
  type CheckInterval,
  CHECK_INTERVALS,
  DEFAULT_CHECK_CRON,
  DEFAULT_FREQUENCY,
  NOTIFICATION_FREQUENCIES,
  type NotificationFrequency,
  SERVER_DEFAULTS_KEY,
  type ServerNotificationDefaults,
  jobKey,
  splitJobKey,
} from "./settings-types";
import {
  type JobMonitoringRow,
  type NotificationPrefsRow,
  ensureJobRow,
  getJob,
  getNotificationPrefs,
  listJobs,
  listNotificationPrefs,
  serverExists,
  updateSchedule,
  upsertNotificationPrefs,
} from "./settings-store";
import {
  type ResolvedNotificationPrefs,
  RecentNotificationPrefs,
  readNotificationPrefs,
  storedFlag,
} from "./notification-prefs";

export type { ResolvedNotificationPrefs } from "./notification-prefs";

const ALL_DAYS = [0, 1, 2, 3, 4, 5, 6];
const CRON_KEY = "cron_service";

/** A job's key for the preference maps below: length-prefixed, so no two (server, job) pairs share one. */
const prefsKey = (serverId: string, backupName: string): string => `${serverId.length}:${serverId}${backupName}`;

export function toBackupSettings(row: JobMonitoringRow | (JobMonitoringRow & NotificationPrefsRow)): BackupSettings {
  return {
    notificationEvent: row.notification_event ?? "warnings",
    overdueBackupCheckEnabled: Number(row.monitoring_enabled) === 1,
    expectedInterval: row.expected_interval,
    allowedWeekDays: parseWeekdays(row.allowed_weekdays),
    time: row.next_expected_at ?? "",
    ...(row.latest_date ? { lastBackupDate: row.latest_date } : {}),
    ntfyEnabled: storedFlag(row.ntfy_enabled, true),
    emailEnabled: storedFlag(row.email_enabled, true),
    ...(row.additional_notification_event ? { additionalNotificationEvent: row.additional_notification_event } : {}),
    ...(row.additional_emails ? { additionalEmails: row.additional_emails } : {}),
    ...(row.additional_ntfy_topic ? { additionalNtfyTopic: row.additional_ntfy_topic } : {}),
  };
}

function toServerDefaults(row: NotificationPrefsRow): ServerNotificationDefaults {
  return {
    ...(row.additional_notification_event ? { additionalNotificationEvent: row.additional_notification_event } : {}),
    ...(row.additional_emails ? { additionalEmails: row.additional_emails } : {}),
    ...(row.additional_ntfy_topic ? { additionalNtfyTopic: row.additional_ntfy_topic } : {}),
  };
}

/**
 * Per-job monitoring and notification settings plus the global monitoring options (tolerance, re-notification
 * frequency, check interval). Schedule changes recompute the next expected run and end an open overdue episode.
 */
export class MonitoringSettingsService {
  constructor(private readonly deps: { db: Database; clock: Clock }) {}

  /** The original's `backup_settings` map: "sid:job" → settings, plus "sid:__default__" server defaults. */
  async backupSettingsMap(): Promise<Record<string, BackupSettings | ServerNotificationDefaults>> {
    return this.deps.db.read(async (q) => {
      const out: Record<string, BackupSettings | ServerNotificationDefaults> = {};
      for (const row of await listJobs(q)) out[jobKey(row.server_id, row.backup_name)] = toBackupSettings(row);
      for (const prefs of await listNotificationPrefs(q)) {
        if (prefs.backup_name === SERVER_DEFAULTS_KEY)
          out[jobKey(prefs.server_id, SERVER_DEFAULTS_KEY)] = toServerDefaults(prefs);
      }
      return out;
    });
  }

  /** Updates the jobs named in the map (keys not named keep their settings). Returns keys of unknown servers. */
  async updateBackupSettings(
    map: Record<string, BackupSettingsInput>,
  ): Promise<{ updated: number; ignored: string[] }> {
    const entries = Object.entries(map).map(([key, value]) => {
      const parts = splitJobKey(key);
      if (!parts)
        throw new HttpError(400, {
          error: "Invalid backup settings key",
          message: `"${key}" is not "<serverId>:<backupName>"`,
        });
      return { key, ...parts, value };
    });
    for (const e of entries) {
      const interval = this.normaliseInterval(e.value);
      if (interval !== undefined && !isValidInterval(interval)) {
        throw new HttpError(400, {
          error: "Invalid expected interval",
          message: `${e.key}: "${String(e.value.expectedInterval)}" (use tokens like 1D, 12h, 1W, 1D2h30m)`,
        });
      }
    }
    const now = this.deps.clock.now().toISOString();
    return this.write(async (q) => {
      const ignored: string[] = [];
      let updated = 0;
      for (const e of entries) {
        if (!(await serverExists(q, e.serverId))) {
          ignored.push(e.key);
          continue;
        }
        await this.applyPrefs(q, e.serverId, e.backupName, e.value, now);
        if (e.backupName !== SERVER_DEFAULTS_KEY) {
          await ensureJobRow(q, e.serverId, e.backupName, now);
          await this.applySchedule(q, e.serverId, e.backupName, e.value, now);
        }
        updated++;
      }
      return { updated, ignored };
    });
  }

  private normaliseInterval(v: BackupSettingsInput): string | undefined {
    if (v.expectedInterval === undefined) return undefined;
    if (v.intervalUnit !== undefined || typeof v.expectedInterval === "number") {
      return migrateLegacyInterval(v.expectedInterval, v.intervalUnit) ?? String(v.expectedInterval);
    }
    return v.expectedInterval;
  }

  private async applyPrefs(
    q: Queryable,
    serverId: string,
    backupName: string,
    v: BackupSettingsInput,
    now: string,
  ): Promise<void> {
    const touches =
      v.notificationEvent !== undefined ||
      v.ntfyEnabled !== undefined ||
      v.emailEnabled !== undefined ||
      v.additionalNotificationEvent !== undefined ||
      v.additionalEmails !== undefined ||
      v.additionalNtfyTopic !== undefined;
    if (!touches) return;
    const cur = await getNotificationPrefs(q, serverId, backupName);
    const pick = <T>(next: T | undefined, prev: T | null | undefined): T | null =>
      next !== undefined ? next : (prev ?? null);
    await upsertNotificationPrefs(
      q,
      {
        server_id: serverId,
        backup_name: backupName,
        notification_event: pick(v.notificationEvent, cur?.notification_event),
        ntfy_enabled: v.ntfyEnabled !== undefined ? (v.ntfyEnabled ? 1 : 0) : (cur?.ntfy_enabled ?? null),
        email_enabled: v.emailEnabled !== undefined ? (v.emailEnabled ? 1 : 0) : (cur?.email_enabled ?? null),
        additional_notification_event: pick(v.additionalNotificationEvent, cur?.additional_notification_event),
        additional_emails: pick(
          v.additionalEmails === "" ? undefined : v.additionalEmails,
          v.additionalEmails === "" ? null : cur?.additional_emails,
        ),
        additional_ntfy_topic: pick(
          v.additionalNtfyTopic === "" ? undefined : v.additionalNtfyTopic,
          v.additionalNtfyTopic === "" ? null : cur?.additional_ntfy_topic,
        ),
      },
      now,
    );
  }

  private async applySchedule(
    q: Queryable,
    serverId: string,
    backupName: string,
    v: BackupSettingsInput,
    now: string,
  ): Promise<void> {
    const job = await getJob(q, serverId, backupName);
    if (!job) return;
    const interval = this.normaliseInterval(v) ?? job.expected_interval;
    const days =
      v.allowedWeekDays !== undefined
        ? v.allowedWeekDays.length > 0
          ? [...new Set(v.allowedWeekDays)].sort()
          : ALL_DAYS
        : parseWeekdays(job.allowed_weekdays);
    const weekdays = days.join(",");
    const enabled = v.overdueBackupCheckEnabled ?? Number(job.monitoring_enabled) === 1;
    const changed =
      interval !== job.expected_interval ||
      weekdays !== job.allowed_weekdays ||
      enabled !== (Number(job.monitoring_enabled) === 1);
    if (!changed) return;
    let next = job.next_expected_at;
    if (job.latest_date) {
      next = computeNextExpected({
        latestRun: new Date(job.latest_date),
        previousNext: job.next_expected_at ? new Date(job.next_expected_at) : null,
        interval,
        allowedWeekDays: days,
      }).toISOString();
    }
    // Changing what "on time" means resets the episode's notice record (the original clears it): the check that
    // follows ends the episode if the job is on time under the new schedule, or notifies again if it is not.
    await updateSchedule(q, {
      serverId,
      backupName,
      monitoringEnabled: enabled,
      expectedInterval: interval,
      allowedWeekdays: weekdays,
      nextExpectedAt: next,
      resetEpisode: true,
      now,
    });
  }

  /**
   * Applies a schedule read from a Duplicati server (collect, sync-schedule): its interval (Schedule.Repeat),
   * weekdays (Schedule.Rule) and next run (Schedule.Time). The next expected run is Duplicati's when it lies after
   * the job's latest run, else the first run on the schedule after that run. A job without runs gets its row here.
   * Monitoring on/off is kept; a changed interval or weekdays resets the overdue notice record as a settings change
   * does. The server must exist.
   */
  async applyDuplicatiSchedule(
    serverId: string,
    backupName: string,
    schedule: { interval: string; allowedWeekDays: readonly number[]; nextRun: Date | null },
  ): Promise<void> {
    const interval = migrateLegacyInterval(schedule.interval);
    if (!interval) throw new HttpError(400, { error: "Invalid expected interval", message: `"${schedule.interval}"` });
    const days = schedule.allowedWeekDays.length > 0 ? [...new Set(schedule.allowedWeekDays)].sort() : ALL_DAYS;
    const nextRun = schedule.nextRun ? schedule.nextRun.toISOString() : null;
    const now = this.deps.clock.now().toISOString();
    await this.write(async (q) => {
      await ensureJobRow(q, serverId, backupName, now);
      const job = await getJob(q, serverId, backupName);
      if (!job) return;
      let next = job.next_expected_at;
      if (nextRun && (!job.latest_date || nextRun > job.latest_date)) next = nextRun;
      else if (job.latest_date) {
        const base = nextRun ?? job.next_expected_at;
        next = computeNextExpected({
          latestRun: new Date(job.latest_date),
          previousNext: base ? new Date(base) : null,
          interval,
          allowedWeekDays: days,
        }).toISOString();
      }
      const weekdays = days.join(",");
      await updateSchedule(q, {
        serverId,
        backupName,
        monitoringEnabled: Number(job.monitoring_enabled) === 1,
        expectedInterval: interval,
        allowedWeekdays: weekdays,
        nextExpectedAt: next,
        resetEpisode: interval !== job.expected_interval || weekdays !== job.allowed_weekdays,
        now,
      });
      if (nextRun) {
        await q.run(`UPDATE jobs SET next_scheduled_run = ? WHERE server_id = ? AND backup_name = ?`, [
          nextRun,
          serverId,
          backupName,
        ]);
      }
    });
  }

  /**
   * Reads of the same job's preferences that are in flight together share one read: every notification plugin asks
   * on every upload, at the same moment. A read that starts later reads again, so a change is never missed.
   */
  private readonly prefsInFlight = new Map<string, Promise<ResolvedNotificationPrefs>>();

  /** What upload transactions read as they committed (see RecentNotificationPrefs); forgotten on every change here. */
  private readonly recentPrefs = new RecentNotificationPrefs(() => performance.now());

  /** The preferences an upload's transaction read for its job, for that upload's notification handlers. */
  rememberPrefs(serverId: string, backupName: string, prefs: ResolvedNotificationPrefs): void {
    this.recentPrefs.remember(prefsKey(serverId, backupName), prefs);
  }

  /** Every write of this service: what uploads remembered may be older than what it commits. */
  private async write<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.deps.db.write(work);
    } finally {
      this.recentPrefs.clear();
    }
  }

  /** The job's notification preferences with server defaults applied. */
  resolvedPrefs(serverId: string, backupName: string): Promise<ResolvedNotificationPrefs> {
    const key = prefsKey(serverId, backupName);
    const recent = this.recentPrefs.get(key);
    if (recent !== undefined) return Promise.resolve(recent);
    let pending = this.prefsInFlight.get(key);
    if (!pending) {
      pending = this.readResolvedPrefs(serverId, backupName).finally(() => this.prefsInFlight.delete(key));
      this.prefsInFlight.set(key, pending);
    }
    return pending;
  }

  private readResolvedPrefs(serverId: string, backupName: string): Promise<ResolvedNotificationPrefs> {
    return this.deps.db.read((q) => readNotificationPrefs(q, serverId, backupName));
  }

  async tolerance(): Promise<ToleranceKey> {
    return resolveTolerance(await this.deps.db.read((q) => getConfigValue(q, "overdue_tolerance")));
  }

  async toleranceMinutes(): Promise<number> {
    return TOLERANCE_MINUTES[await this.tolerance()];
  }

  async setTolerance(value: ToleranceKey): Promise<void> {
    await this.write((q) => setConfigValue(q, "overdue_tolerance", value));
  }

  async frequency(): Promise<NotificationFrequency> {
    const raw = await this.deps.db.read((q) => getConfigValue(q, "notification_frequency"));
    return (NOTIFICATION_FREQUENCIES as readonly string[]).includes(raw ?? "")
      ? (raw as NotificationFrequency)
      : DEFAULT_FREQUENCY;
  }

  async setFrequency(value: NotificationFrequency): Promise<void> {
    await this.write((q) => setConfigValue(q, "notification_frequency", value));
  }

  /** The overdue check's schedule, in the original's `cron_service` configuration shape. */
  async checkSchedule(): Promise<{ cronExpression: string; enabled: boolean }> {
    const raw = await this.deps.db.read((q) => getConfigValue(q, CRON_KEY));
    try {
      const parsed = raw
        ? (JSON.parse(raw) as { tasks?: Record<string, { cronExpression?: string; enabled?: boolean }> })
        : null;
      const task = parsed?.tasks?.["overdue-backup-check"];
      if (task?.cronExpression) return { cronExpression: task.cronExpression, enabled: task.enabled !== false };
    } catch {
      // A malformed value falls back to the default below.
    }
    return { cronExpression: DEFAULT_CHECK_CRON, enabled: true };
  }

  async setCheckInterval(interval: CheckInterval): Promise<{ cronExpression: string; enabled: boolean }> {
    const cron = CHECK_INTERVALS[interval];
    const task = { cronExpression: cron ?? DEFAULT_CHECK_CRON, enabled: cron !== null };
    await this.write(async (q) => {
      const raw = await getConfigValue(q, CRON_KEY);
      let doc: { tasks?: Record<string, unknown> } = {};
      try {
        doc = raw ? (JSON.parse(raw) as typeof doc) : {};
      } catch {
        doc = {};
      }
      doc.tasks = { ...(doc.tasks ?? {}), "overdue-backup-check": task };
      await setConfigValue(q, CRON_KEY, JSON.stringify(doc));
    });
    return task;
  }
}
