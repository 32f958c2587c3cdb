import type { AppContext } from "../context";
import { BACKUP_STATUSES, type BackupStatus, RUN_COUNTER_COLUMNS } from "../core/domain";
import { HttpError } from "../core/errors";
import { toBackupSettings } from "../monitoring/settings-service";
import { getJob } from "../monitoring/settings-store";
import { type RenderInput, notificationCore } from "../notifications/plugin-services";
import { type ServerDetails, renderTemplate, serverVariables } from "../notifications/templates";
import { JobStateService } from "../reporting/job-state-service";
import type { EventVariables, PluginAuditEntry, PluginEvents, PluginServices, PluginTemplates } from "./api";

/**
 * The core side of the public plugin API: the read-only services, the template renderer and the audit writer every
 * plugin context shares. Built once per application from the core's own services; plugins only ever see the
 * interfaces of plugins/api.ts.
 */
export function createPluginServices(ctx: AppContext): {
  services: PluginServices;
  templates: PluginTemplates;
  audit(entry: PluginAuditEntry): Promise<void>;
} {
  const core = notificationCore(ctx);
  const jobs = new JobStateService({ db: ctx.db, clock: ctx.clock });
  const { reporting, monitoring } = ctx.services;

  const services: PluginServices = {
    summary: () => reporting.summary(),
    jobs: {
      list: () => jobs.list(),
      get: (serverId, backupName) => jobs.get(serverId, backupName),
      settings: async (serverId, backupName) => {
        const row = await ctx.db.read((q) => getJob(q, serverId, backupName));
        return row ? toBackupSettings(row) : null;
      },
      runCounts: async () => {
        type Row = { server_id: string; backup_name: string } & Record<string, number>;
        const rows = await ctx.db.read((q) =>
          q.all<Row>(
            `SELECT server_id, backup_name, ${Object.values(RUN_COUNTER_COLUMNS).join(", ")}
               FROM jobs WHERE run_count > 0 ORDER BY server_id, backup_name`,
          ),
        );
        return rows.map((r) => ({
          serverId: r.server_id,
          backupName: r.backup_name,
          runs: Object.fromEntries(BACKUP_STATUSES.map((s) => [s, Number(r[RUN_COUNTER_COLUMNS[s]] ?? 0)])) as Record<
            BackupStatus,
            number
          >,
        }));
      },
    },
    latestRuns: async (server) => {
      try {
        return (await reporting.latestBackups(server)).backups;
      } catch (err) {
        if (err instanceof HttpError && err.status === 404) return [];
        throw err;
      }
    },
    servers: { get: (serverId) => core.servers.get(serverId) },
    settings: {
      notificationPrefs: (serverId, backupName) => monitoring.resolvedPrefs(serverId, backupName),
      ntfy: () => core.config.ntfy(),
      smtp: () => core.config.smtp(),
    },
  };

  const serverDetails = async (ref: { id: string; name: string; alias: string }): Promise<ServerDetails> =>
    (await core.servers.get(ref.id)) ?? { id: ref.id, name: ref.name, alias: ref.alias, note: "", url: "" };

  const templates: PluginTemplates = {
    async variablesFor(event, payload): Promise<EventVariables> {
      let input: RenderInput;
      if (event === "backupReceived") {
        const e = payload as PluginEvents["backupReceived"];
        input = { kind: "backup", server: await serverDetails(e.server), run: e.run };
      } else if (event === "backupOverdue") {
        const e = payload as PluginEvents["backupOverdue"];
        input = { kind: "overdue", server: await serverDetails(e.server), event: e };
      } else if (event === "overdueCleared") {
        const e = payload as PluginEvents["overdueCleared"];
        input = { kind: "cleared", server: await serverDetails(e.server), event: e };
      } else if (event === "serverChanged") {
        const e = payload as PluginEvents["serverChanged"];
        const ref = e.server ?? { id: e.serverId, name: e.previousName ?? e.serverId, alias: "" };
        const server = e.change === "deleted" ? { ...ref, note: "", url: "" } : await serverDetails(ref);
        return {
          kind: null,
          variables: {
            ...serverVariables(server),
            change: e.change,
            previous_name: e.previousName ?? "",
            merged_into: e.mergedInto ?? "",
          },
        };
      } else {
        throw new Error(`unknown event ${String(event)}`);
      }
      return core.variables(input);
    },
    render: (kind, variables) => core.renderKind(kind, variables),
    renderText: (text, variables) => renderTemplate(text, variables),
  };

  const audit = (entry: PluginAuditEntry): Promise<void> =>
    ctx.audit.record({
      username: "system",
      category: "system",
      action: String(entry.action),
      ...(entry.status !== undefined ? { status: entry.status } : {}),
      ...(entry.targetType !== undefined ? { targetType: entry.targetType } : {}),
      ...(entry.targetId !== undefined ? { targetId: entry.targetId } : {}),
      ...(entry.details !== undefined ? { details: entry.details } : {}),
      ...(entry.errorMessage !== undefined ? { errorMessage: entry.errorMessage } : {}),
    });

  return { services, templates, audit };
}
