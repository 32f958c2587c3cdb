import type { AuditActor, AuditService } from "../audit/audit-service";
import { rebuildChartRollups } from "../charts/rollups";
import type { Clock } from "../core/clock";
import type { ServerRef } from "../core/domain";
import { badRequest, notFound } from "../core/errors";
import type { EventBus } from "../core/events";
import { parseWeekdays } from "../core/job-state";
import type { Database } from "../db/database";
import type { ServerRow } from "../db/entities";
import { computeNextExpected } from "../monitoring/schedule";
import { ensureJobRow, setNextExpected } from "../monitoring/settings-store";
import { recomputeJob } from "../store/maintenance-store";
import { listServerFlags, listServerJobs } from "../dashboard/dashboard-store";
import {
  type EditableServerField,
  alignBackupIds,
  countJobRuns,
  deleteServerCascade,
  getMergeJob,
  getServerRow,
  listDuplicateServers,
  moveServerData,
  runDateSpan,
  setMergedFields,
  updateServerFields,
} from "./server-admin-store";
import { checkServerUrl } from "./url";

export interface ServerListItem {
  id: string;
  name: string;
  alias: string;
  note: string;
}

export interface ServerJobItem extends ServerListItem {
  backupName: string;
  server_url: string;
  hasPassword: boolean;
}

export interface ServerBasic {
  id: string;
  name: string;
  alias: string;
  note: string;
  server_url: string;
  hasPassword: boolean;
  created_at: string;
}

export interface UpdateResult {
  message: string;
  serverId: string;
  server_url: string;
  alias: string;
  note: string;
}

export interface DeleteResult {
  message: string;
  status: 200;
  changes: { backupChanges: number; serverChanges: number };
}

export interface DuplicateGroup {
  name: string;
  servers: Array<{
    id: string;
    created_at: string;
    alias: string;
    note: string;
    server_url: string;
    backupCount: number;
    lastBackupDate: string | null;
  }>;
}

export interface MergeResult {
  success: true;
  message: string;
  backupIdsNormalized: number;
  runsMoved: number;
  duplicateRunsDropped: number;
}

const NOT_FOUND = () => notFound("Server not found");
const refOf = (s: Pick<ServerRow, "id" | "name" | "alias">): ServerRef => ({ id: s.id, name: s.name, alias: s.alias });

/**
 * Server management: list, edit (alias, note, Duplicati UI address), delete with everything keyed by the server,
 * find and merge duplicates. Every change is one transaction with its audit entry; serverChanged goes out after the
 * commit.
 */
export class ServerAdminService {
  constructor(private readonly deps: { db: Database; clock: Clock; events: EventBus; audit: AuditService }) {}

  async list(): Promise<ServerListItem[]> {
    const rows = await this.deps.db.read((q) => listServerFlags(q));
    return rows.map((s) => ({ id: s.id, name: s.name, alias: s.alias, note: s.note }));
  }

  /** One row per server × job (jobs with runs). */
  async listWithJobs(): Promise<ServerJobItem[]> {
    const rows = await this.deps.db.read((q) => listServerJobs(q));
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      backupName: r.backup_name,
      server_url: r.server_url,
      alias: r.alias,
      note: r.note,
      hasPassword: Number(r.has_password) === 1,
    }));
  }

  async get(id: string): Promise<ServerBasic> {
    const s = await this.deps.db.read((q) => getServerRow(q, id));
    if (!s) throw NOT_FOUND();
    return {
      id: s.id,
      name: s.name,
      alias: s.alias,
      note: s.note,
      server_url: s.server_url,
      hasPassword: s.server_password !== "",
      created_at: s.created_at,
    };
  }

  /** Changes only the fields given (the original wrote '' into every omitted one). */
  async update(id: string, input: Partial<Record<EditableServerField, string>>, actor: AuditActor): Promise<ServerRow> {
    const fields: Partial<Record<EditableServerField, string>> = {};
    if (input.server_url !== undefined) fields.server_url = checkServerUrl(input.server_url);
    if (input.alias !== undefined) fields.alias = input.alias.trim();
    if (input.note !== undefined) fields.note = input.note;
    if (Object.keys(fields).length === 0) {
      throw badRequest("Nothing to update", { message: "Send at least one of server_url, alias, note" });
    }
    const now = this.deps.clock.now().toISOString();
    const result = await this.deps.db.write(async (q) => {
      const before = await getServerRow(q, id);
      if (!before) throw NOT_FOUND();
      await updateServerFields(q, id, fields, now);
      const server: ServerRow = { ...before, ...fields, updated_at: now };
      const changed = (Object.keys(fields) as EditableServerField[]).filter((k) => before[k] !== server[k]);
      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "server_updated",
        category: "server",
        targetType: "server",
        targetId: id,
        details: {
          serverName: before.name,
          changedFields: changed,
          ...Object.fromEntries(changed.map((k) => [k, { from: before[k], to: server[k] }])),
        },
      });
      return server;
    });
    this.deps.events.emit("serverChanged", { serverId: id, change: "updated", server: refOf(result) });
    return result;
  }

  async updateFields(
    id: string,
    input: Partial<Record<EditableServerField, string>>,
    actor: AuditActor,
  ): Promise<UpdateResult> {
    const server = await this.update(id, input, actor);
    return {
      message: "Server updated successfully",
      serverId: id,
      server_url: server.server_url,
      alias: server.alias,
      note: server.note,
    };
  }

  async delete(id: string, actor: AuditActor): Promise<DeleteResult> {
    const { server, counts } = await this.deps.db.write(async (q) => {
      const server = await getServerRow(q, id);
      if (!server) throw NOT_FOUND();
      const span = await runDateSpan(q, [id]);
      const counts = await deleteServerCascade(q, id);
      // The chart roll-ups over the deleted runs' time span no longer hold (sums and per-job gauges).
      if (span) await rebuildChartRollups(q, this.deps.db.dialect, span);
      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "server_deleted",
        category: "server",
        targetType: "server",
        targetId: id,
        details: {
          serverName: server.name,
          alias: server.alias,
          backupsDeleted: counts.runs,
          jobsDeleted: counts.jobs,
          notificationSettingsDeleted: counts.notificationSettings,
        },
      });
      return { server, counts };
    });
    this.deps.events.emit("serverChanged", { serverId: id, change: "deleted", server: refOf(server) });
    return {
      message: `Successfully deleted server and ${counts.runs} backups`,
      status: 200,
      changes: { backupChanges: counts.runs, serverChanges: counts.servers },
    };
  }

  async duplicates(): Promise<DuplicateGroup[]> {
    const rows = await this.deps.db.read((q) => listDuplicateServers(q));
    const groups = new Map<string, DuplicateGroup>();
    for (const r of rows) {
      let group = groups.get(r.name);
      if (!group) {
        group = { name: r.name, servers: [] };
        groups.set(r.name, group);
      }
      group.servers.push({
        id: r.id,
        created_at: r.created_at,
        alias: r.alias,
        note: r.note,
        server_url: r.server_url,
        backupCount: Number(r.run_count),
        lastBackupDate: r.last_backup_date,
      });
    }
    return [...groups.values()];
  }

  /**
   * Merges the old servers into the target, in one transaction: runs re-keyed (a run both have is kept as the
   * target's), job rows and notification preferences re-keyed (the target's own win), the target's job state
   * recomputed from its runs (and its next expected run moved on when a newer latest run came in), each merged
   * job's runs given the backup_id of its newest run, empty server fields filled from the old servers, old servers
   * deleted.
   */
  async merge(oldServerIds: string[], targetServerId: string, actor: AuditActor): Promise<MergeResult> {
    const oldIds = [...new Set(oldServerIds)];
    if (oldIds.length === 0) throw badRequest("oldServerIds must be a non-empty array of server ids");
    if (!targetServerId) throw badRequest("targetServerId is required");
    if (oldIds.includes(targetServerId)) {
      throw badRequest("Target server cannot be in the list of servers to merge", {
        message: `"${targetServerId}" is the target`,
      });
    }
    const now = this.deps.clock.now();
    const nowIso = now.toISOString();
    const outcome = await this.deps.db.write(async (q) => {
      const target = await getServerRow(q, targetServerId);
      if (!target) throw badRequest("Target server not found", { message: `No server with id "${targetServerId}"` });
      const olds: ServerRow[] = [];
      const unknown: string[] = [];
      for (const id of oldIds) {
        const row = await getServerRow(q, id);
        if (row) olds.push(row);
        else unknown.push(id);
      }
      if (unknown.length > 0) {
        throw badRequest("Unknown server ids", {
          message: `No server with id: ${unknown.join(", ")}`,
          unknownIds: unknown,
        });
      }

      const merged = {
        server_url: target.server_url,
        alias: target.alias,
        note: target.note,
        server_password: target.server_password,
      };
      // Moving runs between servers changes the per-job gauges of the chart roll-ups, dropping runs the sums.
      const span = await runDateSpan(
        q,
        olds.map((o) => o.id),
      );
      let moved = 0;
      let dropped = 0;
      const jobs = new Set<string>();
      for (const old of olds) {
        const step = await moveServerData(q, old.id, target.id);
        moved += step.moved;
        dropped += step.dropped;
        for (const name of step.jobs) jobs.add(name);
        for (const k of ["server_url", "alias", "note", "server_password"] as const) {
          if (merged[k] === "" && old[k] !== "") merged[k] = old[k];
        }
        await q.run(`DELETE FROM servers WHERE id = ?`, [old.id]);
      }
      await setMergedFields(q, target.id, merged, nowIso);

      let normalized = 0;
      for (const name of jobs) {
        const key = { server_id: target.id, backup_name: name };
        // A job known only from its settings (no runs) keeps its row as it is.
        if ((await countJobRuns(q, target.id, name)) === 0) continue;
        await ensureJobRow(q, target.id, name, nowIso);
        const before = await getMergeJob(q, target.id, name);
        await recomputeJob(q, key, nowIso);
        const after = await getMergeJob(q, target.id, name);
        if (!after?.latest_date) continue;
        if (after.latest_date !== before?.latest_date || after.next_expected_at === null) {
          await setNextExpected(q, target.id, name, this.nextExpected(after));
        }
        normalized += await alignBackupIds(q, target.id, name, after.backup_id);
      }

      if (span) await rebuildChartRollups(q, this.deps.db.dialect, span);

      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "servers_merged",
        category: "server",
        targetType: "server",
        targetId: target.id,
        details: {
          targetServerId: target.id,
          targetServerName: target.name,
          oldServerIds: olds.map((o) => o.id),
          oldServerNames: olds.map((o) => o.name),
          runsMoved: moved,
          duplicateRunsDropped: dropped,
          backupIdsNormalized: normalized,
        },
      });
      return { target: { ...target, ...merged }, olds, moved, dropped, normalized };
    });

    for (const old of outcome.olds) {
      this.deps.events.emit("serverChanged", {
        serverId: old.id,
        change: "merged",
        server: refOf(old),
        mergedInto: outcome.target.id,
      });
    }
    this.deps.events.emit("serverChanged", {
      serverId: outcome.target.id,
      change: "updated",
      server: refOf(outcome.target),
    });
    return {
      success: true,
      message: `Successfully merged ${outcome.olds.length} server(s) into target server`,
      backupIdsNormalized: outcome.normalized,
      runsMoved: outcome.moved,
      duplicateRunsDropped: outcome.dropped,
    };
  }

  /** The next expected run after the job's (new) latest run, keeping its schedule; null when not computable. */
  private nextExpected(job: {
    latest_date: string | null;
    next_expected_at: string | null;
    expected_interval: string;
    allowed_weekdays: string;
  }): string | null {
    if (!job.latest_date) return job.next_expected_at;
    try {
      return computeNextExpected({
        latestRun: new Date(job.latest_date),
        previousNext: job.next_expected_at ? new Date(job.next_expected_at) : null,
        interval: job.expected_interval,
        allowedWeekDays: parseWeekdays(job.allowed_weekdays),
      }).toISOString();
    } catch {
      return null;
    }
  }
}
