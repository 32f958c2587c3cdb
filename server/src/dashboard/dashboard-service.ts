import type { Clock } from "../core/clock";
import type { BackupStatus } from "../core/domain";
import { HttpError } from "../core/errors";
import type { Database, Queryable } from "../db/database";
import { formatDurationHHMMSS } from "../ingest/duration";
import { TOLERANCE_MINUTES, resolveTolerance } from "../monitoring/interval";
import { isOverdue } from "../monitoring/schedule";
import { NOTIFICATION_EVENTS, type NotificationEvent, jobKey } from "../monitoring/settings-types";
import { toBackupView } from "../reporting/backup-view";
import { resolveServer } from "../reporting/reporting-service";
import { getConfigValue } from "../store/configuration-store";
import {
  type DailyRow,
  type JobLatestRow,
  type ServerFlagsRow,
  countRuns,
  getServerFlags,
  listDaily,
  listJobLatest,
  listLatestTimestamps,
  listRunsPage,
  listServerFlags,
  listStatusHistory,
} from "./dashboard-store";
import { dayLabel, relativeTime, windowStart } from "./format";
import type {
  BackupInfo,
  ChartPoint,
  DashboardResponse,
  DetailResponse,
  FullServer,
  LastTimestamps,
  OverdueBackup,
  ServerSummary,
} from "./schemas";

/** Runs per job in `statusHistory` (the original returns every run; its UI shows the last 10). */
export const STATUS_HISTORY_RUNS = 10;
/** Days of per-day chart points (the original returns one point per stored run). */
export const CHART_DAYS = 30;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface RunsPage {
  limit?: number;
  offset?: number;
  backupName?: string;
}

interface EvalContext {
  now: Date;
  toleranceMinutes: number;
  lastOverdueCheck: string;
}

const NA = "N/A";

function parseStringArray(text: string | null): string[] {
  if (!text) return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

const asEvent = (value: string | null): NotificationEvent =>
  (NOTIFICATION_EVENTS as readonly string[]).includes(value ?? "") ? (value as NotificationEvent) : "warnings";

export function chartPoint(row: DailyRow): ChartPoint {
  const seconds = Number(row.seconds);
  return {
    date: dayLabel(row.day),
    isoDate: `${row.day}T00:00:00.000Z`,
    uploadedSize: Number(row.uploaded),
    duration: Math.floor(seconds / 60),
    durationSeconds: seconds,
    fileCount: Number(row.files),
    fileSize: Number(row.size),
    storageSize: Number(row.storage),
    backupVersions: Number(row.versions),
    runCount: Number(row.runs),
  };
}

/**
 * The web UI's read models: the dashboard, a server's detail page, the server view with its runs, and the latest
 * run date of each job. Per-job figures come from the maintained `jobs` rows joined to their latest run; overdue
 * flags follow reference §5.4 with the injected clock (monitored, has runs, now > next expected + tolerance).
 */
export class DashboardService {
  constructor(private readonly deps: { db: Database; clock: Clock }) {}

  private async evalContext(q: Queryable): Promise<EvalContext> {
    return {
      now: this.deps.clock.now(),
      toleranceMinutes: TOLERANCE_MINUTES[resolveTolerance(await getConfigValue(q, "overdue_tolerance"))],
      lastOverdueCheck: (await getConfigValue(q, "last_overdue_check")) ?? NA,
    };
  }

  private isJobOverdue(job: JobLatestRow, e: EvalContext): boolean {
    return (
      Number(job.monitoring_enabled) === 1 &&
      Number(job.run_count) > 0 &&
      job.next_expected_at !== null &&
      isOverdue(new Date(job.next_expected_at), e.toleranceMinutes, e.now)
    );
  }

  private backupInfo(job: JobLatestRow, history: BackupStatus[], e: EvalContext): BackupInfo {
    const hasLatest = job.latest_run_id !== null && job.latest_date !== null;
    return {
      name: job.backup_name,
      lastBackupDate: job.latest_date ?? NA,
      lastBackupId: job.latest_run_id ?? NA,
      lastBackupStatus: job.latest_status ?? NA,
      lastBackupDuration: job.duration_seconds === null ? NA : formatDurationHHMMSS(Number(job.duration_seconds)),
      lastBackupListCount: hasLatest ? Number(job.latest_backup_list_count) : null,
      backupCount: Number(job.run_count),
      statusHistory: history,
      fileCount: Number(job.examined_files ?? 0),
      fileSize: Number(job.latest_size),
      storageSize: Number(job.latest_known_file_size),
      uploadedSize: Number(job.uploaded_size ?? 0),
      warnings: Number(job.warnings ?? 0),
      errors: Number(job.errors ?? 0),
      availableBackups: parseStringArray(job.available_backups),
      isBackupOverdue: this.isJobOverdue(job, e),
      notificationEvent: asEvent(job.notification_event),
      expectedBackupDate: job.next_expected_at ?? NA,
      expectedBackupElapsed: job.next_expected_at ? relativeTime(new Date(job.next_expected_at), e.now) : NA,
      lastNotificationSent: job.overdue_notified_at ?? NA,
    };
  }

  private serverSummary(server: ServerFlagsRow, infos: BackupInfo[], e: EvalContext): ServerSummary {
    let newest: BackupInfo | undefined;
    for (const info of infos) {
      if (info.lastBackupDate !== NA && (!newest || info.lastBackupDate > newest.lastBackupDate)) newest = info;
    }
    const sum = (pick: (b: BackupInfo) => number) => infos.reduce((acc, b) => acc + pick(b), 0);
    return {
      id: server.id,
      name: server.name,
      server_url: server.server_url,
      alias: server.alias,
      note: server.note,
      hasPassword: Number(server.has_password) === 1,
      backupInfo: infos,
      totalBackupCount: sum((b) => b.backupCount),
      totalStorageSize: sum((b) => b.storageSize),
      totalFileCount: sum((b) => b.fileCount),
      totalFileSize: sum((b) => b.fileSize),
      totalUploadedSize: sum((b) => b.uploadedSize),
      haveOverdueBackups: infos.some((b) => b.isBackupOverdue),
      lastBackupDate: newest?.lastBackupDate ?? NA,
      lastBackupStatus: newest?.lastBackupStatus ?? NA,
      lastBackupDuration: newest?.lastBackupDuration ?? NA,
      lastBackupListCount: newest?.lastBackupListCount ?? null,
      lastBackupId: newest?.lastBackupId ?? NA,
      lastBackupName: newest?.name ?? NA,
      lastOverdueCheck: e.lastOverdueCheck,
      backupNames: infos.map((b) => b.name),
    };
  }

  /** Jobs of all servers (or one) as BackupInfo, grouped by server id. */
  private async backupInfos(q: Queryable, e: EvalContext, serverId?: string): Promise<Map<string, BackupInfo[]>> {
    const jobs = await listJobLatest(q, serverId);
    const history = new Map<string, BackupStatus[]>();
    for (const row of await listStatusHistory(q, STATUS_HISTORY_RUNS, serverId)) {
      const key = jobKey(row.server_id, row.backup_name);
      const list = history.get(key);
      if (list) list.push(row.status);
      else history.set(key, [row.status]);
    }
    const byServer = new Map<string, BackupInfo[]>();
    for (const job of jobs) {
      const info = this.backupInfo(job, history.get(jobKey(job.server_id, job.backup_name)) ?? [], e);
      const list = byServer.get(job.server_id);
      if (list) list.push(info);
      else byServer.set(job.server_id, [info]);
    }
    return byServer;
  }

  async dashboard(): Promise<DashboardResponse> {
    return this.deps.db.read(async (q) => {
      const e = await this.evalContext(q);
      const servers = await listServerFlags(q);
      const infos = await this.backupInfos(q, e);
      const chartData = (await listDaily(q, windowStart(e.now, CHART_DAYS))).map(chartPoint);
      const serversSummary = servers.map((s) => this.serverSummary(s, infos.get(s.id) ?? [], e));
      const all = serversSummary.flatMap((s) => s.backupInfo);
      const lastDate = all.reduce<string | null>(
        (max, b) => (b.lastBackupDate !== NA && (max === null || b.lastBackupDate > max) ? b.lastBackupDate : max),
        null,
      );
      const sum = (pick: (b: BackupInfo) => number) => all.reduce((acc, b) => acc + pick(b), 0);
      return {
        serversSummary,
        overallSummary: {
          totalServers: serversSummary.length,
          totalBackupsRuns: sum((b) => b.backupCount),
          totalBackups: all.length,
          totalUploadedSize: sum((b) => b.uploadedSize),
          totalStorageUsed: sum((b) => b.storageSize),
          totalBackupSize: sum((b) => b.fileSize),
          overdueBackupsCount: all.filter((b) => b.isBackupOverdue).length,
          secondsSinceLastBackup:
            lastDate === null ? null : Math.floor((e.now.getTime() - Date.parse(lastDate)) / 1000),
        },
        chartData,
      };
    });
  }

  /** A server with one page of its runs (newest first) and its per-day chart; undefined when unknown. */
  private async fullServer(q: Queryable, server: ServerFlagsRow, page: RunsPage, now: Date): Promise<FullServer> {
    const limit = page.limit ?? DEFAULT_PAGE_SIZE;
    const offset = page.offset ?? 0;
    const runs = await listRunsPage(q, server.id, { limit, offset, backupName: page.backupName });
    const total = await countRuns(q, server.id, page.backupName);
    const chartData = (await listDaily(q, windowStart(now, CHART_DAYS), server.id)).map(chartPoint);
    return {
      id: server.id,
      name: server.name,
      alias: server.alias,
      note: server.note,
      server_url: server.server_url,
      created_at: server.created_at,
      hasPassword: Number(server.has_password) === 1,
      backups: runs.map(toBackupView),
      pagination: { total, limit, offset },
      chartData,
    };
  }

  /** GET /api/servers/:id with includeBackups / includeChartData (by id only, as the original). */
  async serverWithBackups(id: string, page: RunsPage): Promise<FullServer> {
    return this.deps.db.read(async (q) => {
      const server = await getServerFlags(q, id);
      if (!server) throw new HttpError(404, { error: "Server not found" });
      return this.fullServer(q, server, page, this.deps.clock.now());
    });
  }

  /** GET /api/detail/:serverId (id or name). */
  async detail(identifier: string, page: RunsPage): Promise<DetailResponse> {
    return this.deps.db.read(async (q) => {
      const e = await this.evalContext(q);
      const ref = await resolveServer(q, identifier);
      const server = await getServerFlags(q, ref.id);
      if (!server) throw new HttpError(404, { error: "Server not found" });
      const full = await this.fullServer(q, server, page, e.now);
      const overdueBackups: OverdueBackup[] = [];
      for (const job of await listJobLatest(q, server.id)) {
        if (!this.isJobOverdue(job, e) || job.next_expected_at === null) continue;
        overdueBackups.push({
          serverName: server.name,
          backupName: job.backup_name,
          lastBackupDate: job.latest_date ?? NA,
          lastNotificationSent: job.overdue_notified_at ?? NA,
          notificationEvent: asEvent(job.notification_event),
          expectedBackupDate: job.next_expected_at,
          expectedBackupElapsed: relativeTime(new Date(job.next_expected_at), e.now),
        });
      }
      return { server: full, overdueBackups, lastOverdueCheck: e.lastOverdueCheck };
    });
  }

  async lastTimestamps(): Promise<LastTimestamps> {
    const raw = await this.deps.db.read((q) => listLatestTimestamps(q));
    const timestamps: Record<string, string> = {};
    for (const r of raw) timestamps[jobKey(r.server_id, r.backup_name)] = r.date;
    return { timestamps, raw };
  }
}
