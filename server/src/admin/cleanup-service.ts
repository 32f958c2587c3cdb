import type { AuditActor, AuditService } from "../audit/audit-service";
import { rebuildChartRollups } from "../charts/rollups";
import type { Clock } from "../core/clock";
import { badRequest, notFound } from "../core/errors";
import type { EventBus } from "../core/events";
import type { Database } from "../db/database";
import {
  type ServerIdentity,
  dateSpanOfJob,
  dateSpanOfRunsEndedBefore,
  deleteAllBackupData,
  deleteJob,
  deleteRunsEndedBefore,
  deleteRunsOfJob,
  jobsWithRunsEndedBefore,
  listServerIdentities,
  recomputeJob,
} from "../store/maintenance-store";
import { getServerById } from "../store/servers-store";

/** The retention choices of the original's maintenance dialog, in calendar months. */
export const RETENTION_MONTHS: ReadonlyMap<string, number> = new Map([
  ["6 months", 6],
  ["1 year", 12],
  ["2 years", 24],
]);
export const DELETE_ALL = "Delete all data";
export const RETENTION_PERIODS = [...RETENTION_MONTHS.keys(), DELETE_ALL];

/**
 * `date` minus `months` calendar months in UTC, clamped to the end of a shorter month (31 March − 1 month =
 * 28/29 February), as date-fns subMonths does.
 */
export function subtractMonths(date: Date, months: number): Date {
  const result = new Date(date.getTime());
  const day = result.getUTCDate();
  result.setUTCDate(1);
  result.setUTCMonth(result.getUTCMonth() - months);
  const lastDay = new Date(Date.UTC(result.getUTCFullYear(), result.getUTCMonth() + 1, 0)).getUTCDate();
  result.setUTCDate(Math.min(day, lastDay));
  return result;
}

export interface CleanupResult {
  message: string;
  status: 200;
}

export interface DeleteJobResult {
  message: string;
  status: 200;
  deletedCount: number;
  serverName: string;
  backupName: string;
}

/**
 * Deleting stored runs: retention cleanup, one job's history, or everything. Each is one transaction that also
 * brings what is maintained from the runs back in line (the `jobs` rows, the chart roll-ups over the time span of
 * the deleted runs) and writes its audit entry, so a failure leaves nothing half-done.
 */
export class BackupCleanupService {
  constructor(private readonly deps: { db: Database; clock: Clock; events: EventBus; audit: AuditService }) {}

  async cleanup(retentionPeriod: unknown, actor: AuditActor): Promise<CleanupResult> {
    if (retentionPeriod === DELETE_ALL) return this.deleteAll(actor);
    const months = typeof retentionPeriod === "string" ? RETENTION_MONTHS.get(retentionPeriod) : undefined;
    if (months === undefined) throw badRequest("Invalid retention period");
    const now = this.deps.clock.now();
    const cutoff = subtractMonths(now, months).toISOString();
    const deleted = await this.deps.db.write(async (q) => {
      const affected = await jobsWithRunsEndedBefore(q, cutoff);
      const span = await dateSpanOfRunsEndedBefore(q, cutoff);
      const deletedRuns = await deleteRunsEndedBefore(q, cutoff);
      let jobsUpdated = 0;
      let jobsDeleted = 0;
      for (const job of affected) {
        if ((await recomputeJob(q, job, now.toISOString())) === "deleted") jobsDeleted++;
        else jobsUpdated++;
      }
      if (span) await rebuildChartRollups(q, this.deps.db.dialect, span);
      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "cleanup_executed",
        category: "backup",
        targetType: "backups",
        details: { retentionPeriod, cutoffDate: cutoff, deletedCount: deletedRuns, jobsUpdated, jobsDeleted },
      });
      return deletedRuns;
    });
    return { message: `Successfully deleted ${deleted} old backups`, status: 200 };
  }

  private async deleteAll(actor: AuditActor): Promise<CleanupResult> {
    const { runs, servers } = await this.deps.db.write(async (q) => {
      const servers: ServerIdentity[] = await listServerIdentities(q);
      const counts = await deleteAllBackupData(q);
      await rebuildChartRollups(q, this.deps.db.dialect);
      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "cleanup_executed",
        category: "backup",
        targetType: "backups",
        details: { retentionPeriod: DELETE_ALL, deletedCount: counts.runs, deletedServers: counts.servers },
      });
      return { runs: counts.runs, servers };
    });
    // Integrations drop what they publish for a server (MQTT discovery entities…) once the deletion is committed.
    for (const s of servers) {
      this.deps.events.emit("serverChanged", {
        serverId: s.id,
        change: "deleted",
        server: { id: s.id, name: s.name, alias: s.alias },
      });
    }
    return {
      message: `Successfully deleted all ${runs} backups and ${servers.length} servers, and cleared configuration settings`,
      status: 200,
    };
  }

  /** Deletes every run of one job and the job itself. 404 when the job has no runs (the original answered 500). */
  async deleteJob(serverId: string, backupName: string, actor: AuditActor): Promise<DeleteJobResult> {
    const job = { server_id: serverId, backup_name: backupName };
    const { deletedCount, serverName, ref } = await this.deps.db.write(async (q) => {
      const server = await getServerById(q, serverId);
      const span = await dateSpanOfJob(q, job);
      const deletedCount = server ? await deleteRunsOfJob(q, job) : 0;
      if (!server || deletedCount === 0) {
        throw notFound("No backups found for the specified server and backup name", {
          message: `No backups found for "${backupName}" on server "${serverId}"`,
        });
      }
      await deleteJob(q, job);
      if (span) await rebuildChartRollups(q, this.deps.db.dialect, span);
      const serverName = server.alias || server.name;
      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "backup_job_deleted",
        category: "backup",
        targetType: "backup_job",
        targetId: `${serverId}:${backupName}`,
        details: { serverId, serverName, backupName, deletedCount },
      });
      return { deletedCount, serverName, ref: { id: server.id, name: server.name, alias: server.alias } };
    });
    // Integrations that publish per-job state (MQTT discovery) drop the job now rather than at their next resync.
    this.deps.events.emit("serverChanged", { serverId, change: "updated", server: ref });
    return {
      message: `Successfully deleted ${deletedCount} backup record(s) for "${backupName}" from server "${serverName}"`,
      status: 200,
      deletedCount,
      serverName,
      backupName,
    };
  }
}
