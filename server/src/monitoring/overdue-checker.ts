import schedule from "node-schedule";
import type { Clock } from "../core/clock";
import type { DomainEvents, EventBus } from "../core/events";
import type { BackupStatus, RunRecord } from "../core/domain";
import type { Logger } from "../core/logger";
import type { Database, Queryable } from "../db/database";
import { exclusiveSectionSql } from "../db/dialect";
import { setConfigValue } from "../store/configuration-store";
import { FREQUENCY_MS, type NotificationFrequency } from "./settings-types";
import type { MonitoringSettingsService } from "./settings-service";
import {
  type JobMonitoringRow,
  closeEpisode,
  getJob,
  listCheckCandidates,
  openOrRenotifyEpisode,
} from "./settings-store";

export interface CheckStatistics {
  totalBackupConfigs: number;
  checkedBackups: number;
  overdueBackupsFound: number;
  notificationsSent: number;
}

/** How often an instance on a shared database looks for a schedule changed elsewhere. */
const SCHEDULE_FOLLOW_MS = 10_000;

type Pending =
  | { kind: "overdue"; payload: DomainEvents["backupOverdue"] }
  | { kind: "cleared"; payload: DomainEvents["overdueCleared"] };

/**
 * Decides, job by job, whether an overdue episode opens, is re-notified, or ends. A job is overdue when it is
 * monitored, has runs, and now > next expected run + tolerance. One episode emits backupOverdue once when it
 * opens and again every `frequency` (never again for onetime); overdueCleared when it ends (a run arrived, the
 * schedule changed, or monitoring was switched off). Decisions and their records commit in one transaction;
 * events go out after the commit.
 */
export class OverdueChecker {
  private job: schedule.Job | null = null;
  /** The schedule in force ("enabled:cron"), and the timer that follows changes made on other instances. */
  private scheduledAs = "";
  private follower: NodeJS.Timeout | null = null;
  private running: Promise<CheckStatistics> | null = null;

  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      events: EventBus;
      settings: MonitoringSettingsService;
      log: Logger;
    },
  ) {}

  /** Runs a check now; concurrent callers share the check in progress. */
  check(): Promise<CheckStatistics> {
    this.running ??= this.runCheck().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runCheck(): Promise<CheckStatistics> {
    const now = this.deps.clock.now();
    const toleranceMinutes = await this.deps.settings.toleranceMinutes();
    const frequency = await this.deps.settings.frequency();
    const cutoff = new Date(now.getTime() - toleranceMinutes * 60_000).toISOString();
    const { stats, pending } = await this.deps.db.write(async (q) => {
      await this.exclusive(q);
      const counts = await q.get<{ total: number; checked: number }>(
        `SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN monitoring_enabled = 1 AND run_count > 0 THEN 1 ELSE 0 END), 0) AS checked FROM jobs`,
      );
      const pending: Pending[] = [];
      let overdue = 0;
      for (const row of await listCheckCandidates(q, cutoff)) {
        const p = await this.decide(q, row, { now, cutoff, toleranceMinutes, frequency });
        if (this.isOverdue(row, cutoff)) overdue++;
        if (p) pending.push(p);
      }
      await setConfigValue(q, "last_overdue_check", now.toISOString());
      return {
        stats: {
          totalBackupConfigs: Number(counts?.total ?? 0),
          checkedBackups: Number(counts?.checked ?? 0),
          overdueBackupsFound: overdue,
          notificationsSent: pending.filter((p) => p.kind === "overdue").length,
        },
        pending,
      };
    });
    this.publish(pending);
    return stats;
  }

  /** Re-evaluates one job at once (after an upload), so a late backup clears its episode without waiting. */
  async evaluateJob(serverId: string, backupName: string, run: RunRecord | null = null): Promise<void> {
    // Most uploads end no episode: a plain read settles that without a write transaction on the upload path.
    const open = await this.deps.db.read((q) =>
      q.get<{ s: string | null }>(`SELECT overdue_since AS s FROM jobs WHERE server_id = ? AND backup_name = ?`, [
        serverId,
        backupName,
      ]),
    );
    if (!open?.s) return;
    const now = this.deps.clock.now();
    const toleranceMinutes = await this.deps.settings.toleranceMinutes();
    const frequency = await this.deps.settings.frequency();
    const cutoff = new Date(now.getTime() - toleranceMinutes * 60_000).toISOString();
    const pending = await this.deps.db.write(async (q) => {
      // Only endings are decided here; openings and reminders stay with the scheduled check.
      const ends = (r: JobMonitoringRow | undefined): r is JobMonitoringRow =>
        !!r && !!r.overdue_since && !this.isOverdue(r, cutoff);
      if (!ends(await getJob(q, serverId, backupName))) return null;
      // Read again once it is our turn: another instance may have ended the episode meanwhile.
      await this.exclusive(q);
      const row = await getJob(q, serverId, backupName);
      if (!ends(row)) return null;
      return this.decide(q, row, { now, cutoff, toleranceMinutes, frequency });
    });
    if (pending?.kind === "cleared") pending.payload.run = run;
    if (pending) this.publish([pending]);
  }

  /**
   * Checks and single-job evaluations of all instances take turns (one transaction-level lock on PostgreSQL; SQLite
   * serialises writers anyway): the second one reads what the first recorded, so no episode is notified twice.
   */
  private async exclusive(q: Queryable): Promise<void> {
    const sql = exclusiveSectionSql(this.deps.db.dialect.kind, "overdue-check");
    if (sql) await q.get(sql);
  }

  private isOverdue(row: JobMonitoringRow, cutoff: string): boolean {
    return (
      Number(row.run_count) > 0 &&
      Number(row.monitoring_enabled) === 1 &&
      row.next_expected_at !== null &&
      row.next_expected_at < cutoff
    );
  }

  private async decide(
    q: Queryable,
    row: JobMonitoringRow,
    ctx: { now: Date; cutoff: string; toleranceMinutes: number; frequency: NotificationFrequency },
  ): Promise<Pending | null> {
    const server = { id: row.server_id, name: row.server_name, alias: row.server_alias };
    const job = { serverId: row.server_id, backupName: row.backup_name };
    if (!this.isOverdue(row, ctx.cutoff)) {
      if (!row.overdue_since) return null;
      await closeEpisode(q, row.server_id, row.backup_name);
      return { kind: "cleared", payload: { server, job, run: null, overdueSince: row.overdue_since } };
    }
    const nowIso = ctx.now.toISOString();
    let notice: number;
    if (!row.overdue_since) notice = 1;
    // The notice record was reset (schedule changed, or "reset notifications"): notify again at once.
    else if (!row.overdue_notified_at) notice = Number(row.overdue_notice_count) + 1;
    else {
      const every = FREQUENCY_MS[ctx.frequency];
      const last = row.overdue_notified_at ? Date.parse(row.overdue_notified_at) : Number.NaN;
      if (every === null || (!Number.isNaN(last) && last + every > ctx.now.getTime())) return null;
      notice = Number(row.overdue_notice_count) + 1;
    }
    await openOrRenotifyEpisode(q, row.server_id, row.backup_name, {
      overdueSince: row.overdue_since ?? nowIso,
      notifiedAt: nowIso,
      noticeCount: notice,
    });
    return {
      kind: "overdue",
      payload: {
        server,
        job,
        lastRunDate: row.latest_date,
        lastStatus: row.latest_status as BackupStatus | null,
        expectedAt: row.next_expected_at as string,
        toleranceMinutes: ctx.toleranceMinutes,
        notice,
      },
    };
  }

  private publish(pending: readonly Pending[]): void {
    for (const p of pending) {
      if (p.kind === "overdue") this.deps.events.emit("backupOverdue", p.payload);
      else this.deps.events.emit("overdueCleared", p.payload);
    }
  }

  /** (Re)schedules the periodic check (UTC cron), or stops it when disabled. */
  async schedule(): Promise<void> {
    this.job?.cancel();
    this.job = null;
    const { cronExpression, enabled } = await this.deps.settings.checkSchedule();
    this.scheduledAs = `${enabled}:${cronExpression}`;
    this.followSharedSchedule();
    if (!enabled) return;
    this.job = schedule.scheduleJob({ rule: cronExpression, tz: "UTC" }, async () => {
      // Several instances on one database: only the lease holder runs the scheduled check (db/leader.ts).
      if (!(await this.deps.db.leader.isLeader())) return;
      this.check().then(
        () => this.onScheduledRun?.(),
        (err: unknown) => {
          this.deps.log.error({ err }, "overdue check failed");
          this.onScheduledRun?.(err);
        },
      );
    });
    if (!this.job) this.deps.log.error({ cronExpression }, "invalid overdue check schedule; checks are off");
  }

  stop(): void {
    if (this.follower) clearInterval(this.follower);
    this.follower = null;
    this.job?.cancel();
    this.job = null;
  }

  /**
   * On a database shared by several instances, POST /api/cron-config reschedules only the instance it reached: the
   * others read the schedule again every SCHEDULE_FOLLOW_MS and reschedule when it changed.
   */
  private followSharedSchedule(): void {
    if (this.follower || !this.deps.db.shared) return;
    this.follower = setInterval(() => {
      this.deps.settings
        .checkSchedule()
        .then(({ cronExpression, enabled }) => {
          if (this.follower && `${enabled}:${cronExpression}` !== this.scheduledAs) return this.schedule();
        })
        .catch((err: unknown) => this.deps.log.warn({ err }, "reading the overdue check schedule failed"));
    }, SCHEDULE_FOLLOW_MS);
    this.follower.unref();
  }

  /** Whether the periodic check is scheduled (GET /api/cron/health). */
  isScheduled(): boolean {
    return this.job !== null;
  }

  /** Told after each scheduled check, with its error if it failed (the cron task registry's record). */
  onScheduledRun?: (error?: unknown) => void;
}
