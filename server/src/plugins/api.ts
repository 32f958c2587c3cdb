/**
 * The public plugin API of duplistatus: the ONE module a plugin's typings come from (built-in plugins import only
 * this module from the core; user plugins in DATA_DIR/plugins can reference it for type checking, see
 * docs/plugins.md). Everything a plugin can reach is declared here: its definition, and the context it is started
 * with (its validated config, a logger, the clock, the typed events, read-only query services, the notification
 * template renderer, an audit writer, failure reporting, an optional HTTP endpoint, a private data folder).
 *
 * Stability: additions only. Removing or changing a member is a breaking change of the plugin API.
 */
import type { ZodType } from "zod";
import type { BackupStatus, JobRef, RunRecord, ServerRef } from "../core/domain";
import type { DomainEvents } from "../core/events";
import type { ResolvedNotificationPrefs } from "../monitoring/settings-service";
import type { BackupSettings } from "../monitoring/settings-types";
import type { NtfyConfig, SmtpConfig } from "../notifications/notification-config";
import {
  type RenderedNotification,
  type ServerDetails,
  type TemplateKind,
  type TemplateVariables,
  TEMPLATE_KINDS,
  renderTemplate,
} from "../notifications/templates";
import type { JobStateView } from "../reporting/job-state-service";
import type { BackupView, Summary } from "../reporting/schemas";

export type {
  BackupSettings,
  BackupStatus,
  BackupView,
  JobRef,
  JobStateView,
  NtfyConfig,
  RenderedNotification,
  ResolvedNotificationPrefs,
  RunRecord,
  ServerDetails,
  ServerRef,
  SmtpConfig,
  Summary,
  TemplateKind,
  TemplateVariables,
};
export { TEMPLATE_KINDS };

// ---------------------------------------------------------------------------------------------------------------
// Events

/** The events a plugin can subscribe to, with their payloads (see docs/plugins.md for every field). */
export type PluginEvents = DomainEvents;
export type PluginEventName = keyof PluginEvents;
export const PLUGIN_EVENTS = [
  "backupReceived",
  "backupOverdue",
  "overdueCleared",
  "serverChanged",
] as const satisfies readonly PluginEventName[];

/**
 * A handler gets its own copy of the payload. It runs after the change was committed and the HTTP request that
 * caused it was answered; whatever it throws (or however long it takes) stays with its plugin.
 */
export type PluginEventHandler<K extends PluginEventName> = (payload: PluginEvents[K]) => void | Promise<void>;

// ---------------------------------------------------------------------------------------------------------------
// Definition

/** A JSON Schema object (the subset zod's z.fromJSONSchema reads: types, properties, required, enum, ranges…). */
export type JsonSchema = { readonly [key: string]: unknown };

/** An HTTP endpoint a plugin offers (GET only). Mounted when the server starts; served while the plugin runs. */
export interface PluginEndpoint {
  /**
   * Relative: mounted at /api/plugins/<name>/<path> (letters, digits, "-", "_", "." and "/"). Absolute paths ("/…")
   * are for built-in plugins only.
   */
  path: string;
  /**
   * Who may call it: "public" (anyone); "read" (as the external read endpoints: anyone unless API keys are required,
   * then a read/admin token or a login); "user" (a login or a read/admin token); "admin".
   */
  access: "public" | "read" | "user" | "admin";
  summary: string;
  description?: string;
  /** Content type of the answer (default application/json). */
  contentType?: string;
  /** Sends no-cache headers (default true). */
  noCache?: boolean;
}

export interface EndpointRequest {
  query: Readonly<Record<string, string | string[] | undefined>>;
}

export interface EndpointResponse {
  /** A string is sent as is, anything else as JSON. */
  body: unknown;
}

export type EndpointHandler = (request: EndpointRequest) => EndpointResponse | Promise<EndpointResponse>;

export interface PluginDefinition<TConfig = Record<string, unknown>> {
  /** Unique, 1–64 characters: lower-case letters, digits, "-", "_" and "."; starts with a letter or digit. */
  name: string;
  version?: string;
  description?: string;
  /**
   * The configuration: a zod schema (built-in plugins, or user plugins through the factory form's `z`) or a JSON
   * Schema object. Validated on every save (PUT /api/plugins/<name>/config) and at every start; defaults apply.
   * Omitted: the config is any object.
   */
  configSchema?: ZodType<TConfig> | JsonSchema;
  /**
   * Paths of secret config fields: dot-separated, "*" for any key or array index (e.g. "apiKey",
   * "targets.*.headers.*"). Their values are stored encrypted and never answered (the API shows {"set": true}).
   */
  secrets?: readonly string[];
  /** HTTP endpoints (GET) the plugin serves with ctx.serve(). */
  endpoints?: readonly PluginEndpoint[];
  /** Subscribe, open connections, start timers. Throwing (or rejecting) marks the plugin failed. */
  start(ctx: PluginContext<TConfig>): void | Promise<void>;
  /** Close what start opened. Event subscriptions and endpoints are removed by the host. */
  stop?(): void | Promise<void>;
}

/**
 * Identity helper that types a plugin definition. Built-in plugins call it from here; a user plugin's module can
 * export the definition object directly, or a factory `(api) => definition` that receives this function and zod.
 */
export function definePlugin<TConfig = Record<string, unknown>>(
  definition: PluginDefinition<TConfig>,
): PluginDefinition<TConfig> {
  return definition;
}

/** What the factory form of a user plugin module receives: `module.exports = ({ definePlugin, z }) => ({ … })`. */
export interface PluginFactoryApi {
  definePlugin: typeof definePlugin;
  /** The server's zod, for zod config schemas without installing zod. */
  z: typeof import("zod").z;
  /** duplistatus version. */
  version: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Context

export interface PluginLogger {
  trace(msg: string): void;
  trace(obj: object, msg?: string): void;
  debug(msg: string): void;
  debug(obj: object, msg?: string): void;
  info(msg: string): void;
  info(obj: object, msg?: string): void;
  warn(msg: string): void;
  warn(obj: object, msg?: string): void;
  error(msg: string): void;
  error(obj: object, msg?: string): void;
}

/** Current state of the jobs and the run history, read-only. */
export interface PluginJobs {
  /** Every job with at least one run (latest run, last success, overdue, next expected run…). */
  list(): Promise<JobStateView[]>;
  get(serverId: string, backupName: string): Promise<JobStateView | null>;
  /** Monitoring and notification settings of a job, or null when the job is unknown. */
  settings(serverId: string, backupName: string): Promise<BackupSettings | null>;
  /** Stored runs per job and status (they add up to the job's run count). */
  runCounts(): Promise<JobRunCounts[]>;
}

export interface JobRunCounts {
  serverId: string;
  backupName: string;
  runs: Record<BackupStatus, number>;
}

export interface PluginServices {
  /** The dashboard totals (servers, jobs, runs, sizes, overdue and failed counts). */
  summary(): Promise<Summary>;
  jobs: PluginJobs;
  /** The latest run of each job of a server (id or unique name), newest first; [] for an unknown server. */
  latestRuns(server: string): Promise<BackupView[]>;
  servers: {
    /** Name, alias, note and Duplicati URL of a server, or null when it does not exist. */
    get(serverId: string): Promise<ServerDetails | null>;
  };
  /** Settings of the core, read-only. */
  settings: {
    /** A job's notification preferences with the server defaults applied. */
    notificationPrefs(serverId: string, backupName: string): Promise<ResolvedNotificationPrefs>;
    /** The ntfy settings with the token decrypted, or null while ntfy is not set up (for sending only). */
    ntfy(): Promise<NtfyConfig | null>;
    /** The SMTP settings with the password decrypted, or null while e-mail is not set up (for sending only). */
    smtp(): Promise<SmtpConfig | null>;
  };
}

/** The events the notification templates exist for. */
export type TemplateEventName = Extract<PluginEventName, "backupReceived" | "backupOverdue" | "overdueCleared">;

export interface EventVariables {
  /**
   * The notification template the event uses (success or warning for a run, overdueBackup, overdueCleared); null
   * for serverChanged, which has no template.
   */
  kind: TemplateKind | null;
  /** The {placeholders} of that template, formatted in the template language and the server's time zone. */
  variables: Record<string, string>;
}

export interface PluginTemplates {
  /** The notification template variables of an event (serverChanged: the server variables plus change). */
  variablesFor<K extends PluginEventName>(event: K, payload: PluginEvents[K]): Promise<EventVariables>;
  /** Renders the stored (user-edited) notification template of `kind` with the variables. */
  render(kind: TemplateKind, variables: TemplateVariables): Promise<RenderedNotification>;
  /** Replaces {name} placeholders in any text ("" for unknown ones; {{name}} leaves {name}). */
  renderText(text: string, variables: TemplateVariables): string;
}

export interface PluginAuditEntry {
  /** e.g. "webhook_sent". */
  action: string;
  status?: "success" | "failure" | "error";
  targetType?: string | null;
  targetId?: string | null;
  /** Keys that look like secrets (token, password…) are redacted by the audit log. */
  details?: Record<string, unknown> | null;
  errorMessage?: string | null;
}

export interface PluginContext<TConfig = Record<string, unknown>> {
  readonly name: string;
  /** The validated configuration (defaults applied, secrets decrypted). A config change restarts the plugin. */
  readonly config: TConfig;
  readonly log: PluginLogger;
  readonly clock: { now(): Date };
  /** The host: duplistatus version and the time zone dates are shown in. */
  readonly host: { readonly version: string; readonly timeZone: string };
  /** A folder of the plugin's own (DATA_DIR/plugin-data/<name>), created before start. */
  readonly dataDir: string;
  /** Aborted when the plugin stops: pass it to fetch() and timers so nothing outlives the plugin. */
  readonly signal: AbortSignal;
  /** Subscribes to an event until the plugin stops. Call it from start(). */
  on<K extends PluginEventName>(event: K, handler: PluginEventHandler<K>): void;
  readonly services: PluginServices;
  readonly templates: PluginTemplates;
  /** Writes an audit-log entry (category "system", user "system"); never throws. */
  audit(entry: PluginAuditEntry): Promise<void>;
  /**
   * Records a failure the plugin handled itself (a delivery that failed after its retries…): counted, shown in
   * GET /api/plugins with the message, and the plugin is marked "degraded". Keep secrets out of the message.
   */
  reportFailure(message: string, details?: Record<string, unknown>): void;
  /** Serves one of the definition's endpoints until the plugin stops. */
  serve(path: string, handler: EndpointHandler): void;
}

// ---------------------------------------------------------------------------------------------------------------
// Pure helpers (usable from a built-in plugin's config schema, where no context exists yet)

/** Same as ctx.templates.renderText. */
export function renderText(text: string, variables: TemplateVariables): string {
  return renderTemplate(text, variables);
}
