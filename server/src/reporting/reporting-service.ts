import type { Clock } from "../core/clock";
import type { RunRecord } from "../core/domain";
import { HttpError } from "../core/errors";
import type { Logger } from "../core/logger";
import type { Database, Queryable } from "../db/database";
import { TOLERANCE_MINUTES, resolveTolerance } from "../monitoring/interval";
import { getConfigValue } from "../store/configuration-store";
import { RUN_SELECT } from "../store/runs-store";
import { findServersByName, getServerById, type ServerPublicRow } from "../store/servers-store";
import { toBackupView, toServerView } from "./backup-view";
import type { BackupView, ServerView, Summary } from "./schemas";

/**
 * Read side of the external API. Every query reads the maintained `jobs` table and primary-key lookups, so the cost
 * follows the number of jobs, never the number of stored runs.
 */
export class ReportingService {
  constructor(private readonly deps: { db: Database; clock: Clock; log: Logger }) {}

  async summary(): Promise<Summary> {
    const now = this.deps.clock.now();
    return this.deps.db.read(async (q) => {
      const tolerance = TOLERANCE_MINUTES[resolveTolerance(await getConfigValue(q, "overdue_tolerance"))];
      const cutoff = new Date(now.getTime() - tolerance * 60_000).toISOString();
      const servers = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM servers`);
      const row = await q.get<Record<string, number | string | null>>(
        `SELECT COUNT(*) AS jobs,
                COALESCE(SUM(run_count), 0) AS runs,
                COALESCE(SUM(uploaded_total), 0) AS uploaded,
                COALESCE(SUM(latest_known_file_size), 0) AS storage,
                COALESCE(SUM(latest_size), 0) AS size,
                MAX(latest_date) AS last_date,
                COALESCE(SUM(CASE WHEN latest_status IN ('Success', 'Warning') THEN 1 ELSE 0 END), 0) AS ok,
                COALESCE(SUM(CASE WHEN latest_status IN ('Error', 'Fatal') THEN 1 ELSE 0 END), 0) AS failed,
                COALESCE(SUM(CASE WHEN monitoring_enabled = 1 AND run_count > 0 AND next_expected_at < ? THEN 1 ELSE 0 END), 0) AS overdue,
                COALESCE(SUM(CASE WHEN monitoring_enabled = 1 AND run_count > 0 AND next_expected_at IS NULL THEN 1 ELSE 0 END), 0) AS unevaluable
           FROM jobs WHERE run_count > 0`,
        [cutoff],
      );
      const r = row ?? {};
      if (Number(r.unevaluable) > 0) {
        this.deps.log.warn(
          { jobs: Number(r.unevaluable) },
          "jobs without a valid schedule were left out of the overdue count",
        );
      }
      const lastDate = typeof r.last_date === "string" ? r.last_date : null;
      const jobs = Number(r.jobs ?? 0);
      return {
        totalServers: Number(servers?.n ?? 0),
        totalBackupsRuns: Number(r.runs ?? 0),
        totalBackups: jobs,
        totalBackupJobs: jobs,
        totalUploadedSize: Number(r.uploaded ?? 0),
        totalStorageUsed: Number(r.storage ?? 0),
        totalBackupSize: Number(r.size ?? 0),
        overdueBackupsCount: Number(r.overdue ?? 0),
        secondsSinceLastBackup: lastDate ? Math.floor((now.getTime() - Date.parse(lastDate)) / 1000) : null,
        successfulBackups: Number(r.ok ?? 0),
        failedBackups: Number(r.failed ?? 0),
        lastUpdated: now.toISOString(),
      };
    });
  }

  /** The latest run of each job of a server, newest job first. */
  async latestBackups(identifier: string): Promise<{ server: ServerView; backups: BackupView[] }> {
    return this.deps.db.read(async (q) => {
      const server = await resolveServer(q, identifier);
      const runs = await q.all<RunRecord>(
        `${RUN_SELECT} JOIN jobs j ON j.latest_run_id = b.id WHERE j.server_id = ? ORDER BY j.latest_date DESC`,
        [server.id],
      );
      return { server: toServerView(server), backups: runs.map(toBackupView) };
    });
  }

  /** The most recent run of a server over all its jobs. */
  async latestBackup(identifier: string): Promise<{ server: ServerView; backup: BackupView | null }> {
    return this.deps.db.read(async (q) => {
      const server = await resolveServer(q, identifier);
      const run = await q.get<RunRecord>(
        `${RUN_SELECT} JOIN jobs j ON j.latest_run_id = b.id WHERE j.server_id = ? ORDER BY j.latest_date DESC LIMIT 1`,
        [server.id],
      );
      return { server: toServerView(server), backup: run ? toBackupView(run) : null };
    });
  }
}

/** A server by id, else by name (Homepage URLs use names); a name shared by several servers is ambiguous. */
export async function resolveServer(q: Queryable, identifier: string): Promise<ServerPublicRow> {
  const byId = await getServerById(q, identifier);
  if (byId) return byId;
  const byName = await findServersByName(q, identifier);
  if (byName.length === 1 && byName[0]) return byName[0];
  if (byName.length > 1) {
    const ids = byName.map((s) => s.id);
    throw new HttpError(400, {
      error: "Multiple servers found with the same name",
      message: `Multiple servers found with name "${identifier}". Please use the server ID instead of the name. Available IDs: ${ids.join(", ")}`,
      status: 400,
      duplicate_servers: byName.map((s) => ({ id: s.id, name: s.name })),
    });
  }
  throw new HttpError(404, {
    error: "Server not found",
    message: `No server found with identifier: ${identifier}`,
    status: 404,
  });
}
