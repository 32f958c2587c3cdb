import type { AuditEntry } from "../audit/audit-service";
import type { AppContext } from "../context";
import type { DomainEvents } from "../core/events";
import type { RunRecord } from "../core/domain";
import { TOLERANCE_LABELS } from "../monitoring/interval";
import type { ResolvedNotificationPrefs } from "../monitoring/settings-service";
import { getJob } from "../monitoring/settings-store";
import { getServerById } from "../store/servers-store";
import { NotificationConfigService, type NtfyConfig, type SmtpConfig } from "./notification-config";
import {
  type RenderedNotification,
  type ServerDetails,
  clearedVariables,
  formatLocale,
  overdueVariables,
  renderNotification,
  runVariables,
} from "./templates";

/**
 * The read-only services the notification plugins are handed (through PluginServices in app.ts). The plugins see
 * only these interfaces; the implementations below are the core's and are built once per application.
 */

export interface MonitoringPrefs {
  /** The job's notification preferences with the server defaults applied (reference §6.1). */
  resolvedPrefs(serverId: string, backupName: string): Promise<ResolvedNotificationPrefs>;
}

export interface ServerLookup {
  /** Name, alias, note and Duplicati URL of a server, or null when it no longer exists. */
  get(serverId: string): Promise<ServerDetails | null>;
}

export interface NotificationConfigReader {
  /** ntfy settings with the token decrypted, or null while ntfy is not set up. Throws when they cannot be decrypted. */
  ntfy(): Promise<NtfyConfig | null>;
  /** SMTP settings with the secrets decrypted, or null when e-mail is not set up. Throws when they cannot be decrypted. */
  smtp(): Promise<SmtpConfig | null>;
}

export type RenderInput =
  | { kind: "backup"; server: ServerDetails; run: RunRecord }
  | { kind: "overdue"; server: ServerDetails; event: DomainEvents["backupOverdue"] }
  | { kind: "cleared"; server: ServerDetails; event: DomainEvents["overdueCleared"] };

export interface TemplateRenderer {
  /** Renders the current template for the event: success / warning for a run, overdueBackup, overdueCleared. */
  render(input: RenderInput): Promise<RenderedNotification>;
}

export interface NotificationPluginServices {
  monitoring: MonitoringPrefs;
  servers: ServerLookup;
  notificationConfig: NotificationConfigReader;
  templates: TemplateRenderer;
  /** Writes an audit entry; never throws. */
  audit(entry: AuditEntry): Promise<void>;
}

/** The notification room's core services, one set per application context. */
export interface NotificationCore {
  config: NotificationConfigService;
  renderer: TemplateRenderer;
  servers: ServerLookup;
}

const cores = new WeakMap<AppContext, NotificationCore>();

export function notificationCore(ctx: AppContext): NotificationCore {
  let core = cores.get(ctx);
  if (core) return core;
  const config = new NotificationConfigService({ db: ctx.db, secrets: ctx.secrets });
  const servers: ServerLookup = {
    async get(serverId) {
      const row = await ctx.db.read((q) => getServerById(q, serverId));
      if (!row) return null;
      return { id: row.id, name: row.name, alias: row.alias ?? "", note: row.note ?? "", url: row.server_url ?? "" };
    },
  };
  const renderer: TemplateRenderer = {
    async render(input) {
      const settings = await config.templates();
      const format = { language: formatLocale(settings.language), timeZone: ctx.config.timeZone };
      const now = ctx.clock.now();
      if (input.kind === "backup") {
        const kind = input.run.status === "Success" ? "success" : "warning";
        return renderNotification(kind, settings[kind], runVariables(input.server, input.run, format));
      }
      const { job } = input.event;
      const row = await ctx.db.read((q) => getJob(q, job.serverId, job.backupName));
      const interval = row?.expected_interval ?? "";
      if (input.kind === "overdue") {
        const e = input.event;
        const vars = overdueVariables(
          input.server,
          {
            backupName: job.backupName,
            lastRunDate: e.lastRunDate,
            expectedAt: e.expectedAt,
            interval,
            toleranceLabel: TOLERANCE_LABELS[await ctx.services.monitoring.tolerance()],
          },
          now,
          format,
        );
        return renderNotification("overdueBackup", settings.overdueBackup, vars);
      }
      const e = input.event;
      const vars = clearedVariables(
        input.server,
        {
          backupName: job.backupName,
          overdueSince: e.overdueSince,
          run: e.run,
          latestRunDate: row?.latest_date ?? null,
          latestStatus: row?.latest_status ?? null,
          interval,
        },
        now,
        format,
      );
      return renderNotification("overdueCleared", settings.overdueCleared, vars);
    },
  };
  core = { config, renderer, servers };
  cores.set(ctx, core);
  return core;
}

/** What app.ts adds to PluginServices for the notification plugins. */
export function notificationPluginServices(ctx: AppContext): NotificationPluginServices {
  const core = notificationCore(ctx);
  const { monitoring } = ctx.services;
  return {
    monitoring: { resolvedPrefs: (serverId, backupName) => monitoring.resolvedPrefs(serverId, backupName) },
    servers: core.servers,
    notificationConfig: { ntfy: () => core.config.ntfy(), smtp: () => core.config.smtp() },
    templates: core.renderer,
    audit: (entry) => ctx.audit.record(entry),
  };
}
