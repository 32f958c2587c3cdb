import type { AuditEntry } from "../audit/audit-service";
import type { AppContext } from "../context";
import type { DomainEvents } from "../core/events";
import type { RunRecord } from "../core/domain";
import type { PluginContext as LegacyPluginContext } from "../core/plugin-host";
import type { Logger } from "../core/logger";
import type { PluginContext } from "../plugins/api";
import { TOLERANCE_LABELS } from "../monitoring/interval";
import type { ResolvedNotificationPrefs } from "../monitoring/settings-service";
import { getJob } from "../monitoring/settings-store";
import { getServerById } from "../store/servers-store";
import { NotificationConfigService, type NtfyConfig, type SmtpConfig } from "./notification-config";
import {
  type RenderedNotification,
  type ServerDetails,
  type TemplateKind,
  type TemplateVariables,
  clearedVariables,
  formatLocale,
  overdueVariables,
  renderNotification,
  runVariables,
} from "./templates";

/**
 * The services the notification plugins work with (notices.ts). The plugins build them from the public plugin
 * context (notificationContext below), so they use nothing of the core beyond plugins/api.ts; the core's
 * implementations further down are what the public context's services and templates are made of.
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
  /** The template an event uses and its variables (what renderer.render renders). */
  variables(input: RenderInput): Promise<{ kind: TemplateKind; variables: Record<string, string> }>;
  /** Renders the stored template of `kind`. */
  renderKind(kind: TemplateKind, variables: TemplateVariables): Promise<RenderedNotification>;
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
  const variables: NotificationCore["variables"] = async (input) => {
    const settings = await config.templates();
    const format = { language: formatLocale(settings.language), timeZone: ctx.config.timeZone };
    const now = ctx.clock.now();
    if (input.kind === "backup") {
      const kind = input.run.status === "Success" ? "success" : "warning";
      return { kind, variables: runVariables(input.server, input.run, format) };
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
      return { kind: "overdueBackup", variables: vars };
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
    return { kind: "overdueCleared", variables: vars };
  };
  const renderKind: NotificationCore["renderKind"] = async (kind, vars) => {
    const settings = await config.templates();
    return renderNotification(kind, settings[kind], vars);
  };
  const renderer: TemplateRenderer = {
    async render(input) {
      const { kind, variables: vars } = await variables(input);
      return renderKind(kind, vars);
    },
  };
  core = { config, renderer, servers, variables, renderKind };
  cores.set(ctx, core);
  return core;
}

/**
 * The notification plugins' view of their public plugin context: the services of notices.ts mapped onto
 * ctx.services, ctx.templates and ctx.audit (plugins/api.ts), in the shape notices.ts takes.
 */
export function notificationContext<TConfig>(
  ctx: PluginContext<TConfig>,
): LegacyPluginContext<TConfig, NotificationPluginServices> {
  const { services, templates } = ctx;
  const view: NotificationPluginServices = {
    monitoring: { resolvedPrefs: (serverId, backupName) => services.settings.notificationPrefs(serverId, backupName) },
    servers: services.servers,
    notificationConfig: { ntfy: () => services.settings.ntfy(), smtp: () => services.settings.smtp() },
    templates: {
      async render(input) {
        const { kind, variables } =
          input.kind === "backup"
            ? await templates.variablesFor("backupReceived", {
                server: { id: input.server.id, name: input.server.name, alias: input.server.alias },
                job: { serverId: input.run.server_id, backupName: input.run.backup_name },
                run: input.run,
                isLatest: true,
                nextExpectedAt: null,
                overdueSince: null,
              })
            : input.kind === "overdue"
              ? await templates.variablesFor("backupOverdue", input.event)
              : await templates.variablesFor("overdueCleared", input.event);
        if (!kind) throw new Error(`no notification template for ${input.kind}`);
        return templates.render(kind, variables);
      },
    },
    // The plugin context writes system entries as user "system", category "system", as these always did.
    audit: ({ action, status, targetType, targetId, details, errorMessage }) =>
      ctx.audit({ action, status, targetType, targetId, details, errorMessage }),
  };
  return {
    config: ctx.config,
    // The host hands every plugin a child of the application's pino logger.
    log: ctx.log as Logger,
    clock: ctx.clock as LegacyPluginContext["clock"],
    services: view,
    on: (name, handler) => ctx.on(name, handler),
  };
}
