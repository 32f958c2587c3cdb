import type Koa from "koa";
import { z } from "zod";
import type { AuditEntry } from "../audit/audit-service";
import { requestActor } from "../audit/request-actor";
import type { AppContext } from "../context";
import { HttpError } from "../core/errors";
import { PluginConfigError, type PluginInfo, PluginNotFoundError, PluginUnavailableError } from "../core/plugin-host";
import { type RouteDef, defineRoute } from "../http/route";
import { loadUserPlugins } from "./loader";
import type { PluginRuntime } from "./runtime";
import { getAt, isKeepMarker, mapSecrets } from "./secret-paths";
import { WEBHOOK_PLUGIN, type WebhookConfig, WebhookError, WebhookTargetSchema, sendTest } from "./webhook";

const TAGS = ["plugins"];

const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });

const accessErrors = {
  401: { description: "Not logged in, or an invalid / revoked API token", schema: ErrorBody },
  403: { description: "Not allowed for this user or token scope (or a missing CSRF token)", schema: ErrorBody },
};

const notFound = { description: "No plugin of that name", schema: ErrorBody };

export const PluginInfoSchema = z
  .object({
    name: z.string(),
    version: z.string().nullable(),
    description: z.string().nullable(),
    source: z.enum(["builtin", "user"]),
    file: z.string().nullable(),
    enabled: z.boolean(),
    state: z.enum(["loaded", "running", "degraded", "stopped", "disabled", "failed"]),
    error: z.string().nullable(),
    startedAt: z.string().nullable(),
    handlerErrors: z.number().int(),
    failures: z.number().int(),
    lastFailureAt: z.string().nullable(),
    recentFailures: z.array(z.object({ at: z.string(), message: z.string() })),
    events: z.array(z.string()),
    endpoints: z.array(z.string()),
    configured: z.boolean(),
  })
  .meta({ id: "PluginInfo" });

const PluginConfigViewSchema = z.object({
  name: z.string(),
  configured: z.boolean(),
  config: z.unknown().describe('The configuration; secret fields with a value read {"set": true}'),
  secrets: z.array(z.string()),
  schema: z.unknown().describe("JSON Schema of the configuration (null when it cannot be expressed)"),
});

const NameParams = z.object({ name: z.string().min(1).max(200) });

const ConfigBody = z.record(z.string(), z.unknown(), { error: "The configuration must be a JSON object" });

const WebhookTestBody = z
  .object({
    name: z.string().optional().describe("A stored target, by name"),
    target: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('A target to try (unsaved); secrets sent as {"set": true} use the stored target of the same name'),
  })
  .refine((b) => b.name !== undefined || b.target !== undefined, { error: 'Give "name" or "target"' });

const TARGET_SECRETS = ["url", "headers.*", "token"];

/** The management API of the plugin host, the webhook test send, and the endpoints the plugins declare. */
export function pluginRoutes(ctx: AppContext, runtime: PluginRuntime): RouteDef[] {
  const { host } = runtime;

  const audit = async (kctx: Koa.Context, entry: Omit<AuditEntry, "category">) =>
    ctx.audit.record({ category: "config", ...(await requestActor(ctx.access, kctx)), ...entry });

  /** Maps the host's errors to answers. */
  const answer = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof PluginNotFoundError)
        throw new HttpError(404, { error: "Plugin not found", message: err.message });
      if (err instanceof PluginConfigError) {
        throw new HttpError(400, {
          error: "Invalid plugin configuration",
          message: err.message,
          invalidFields: err.issues,
        });
      }
      throw err;
    }
  };

  const lifecycle = (action: "enable" | "disable" | "reload", summary: string, description: string) =>
    defineRoute({
      method: "post",
      path: `/api/plugins/:name/${action}`,
      access: "admin",
      summary,
      description,
      tags: TAGS,
      params: NameParams,
      bodyParser: "none",
      responses: {
        200: { description: "The plugin's state afterwards", schema: z.object({ plugin: PluginInfoSchema }) },
        404: notFound,
        ...accessErrors,
      },
      handler: async (kctx, { params }) => {
        const plugin: PluginInfo = await answer(() => host[action](params.name));
        await audit(kctx, {
          action: `plugin_${action === "enable" ? "enabled" : action === "disable" ? "disabled" : "reloaded"}`,
          targetType: "plugin",
          targetId: plugin.name,
          status: plugin.state === "failed" ? "failure" : "success",
          details: { plugin: plugin.name, state: plugin.state },
          errorMessage: plugin.state === "failed" ? plugin.error : null,
        });
        return { body: { plugin } };
      },
    });

  const routes: RouteDef[] = [
    defineRoute({
      method: "get",
      path: "/api/plugins",
      access: "user",
      summary: "The plugins (built-in and from the plugins folder) with their state",
      description:
        "State: loaded, running, degraded (a handler failed or the plugin reported a failure: see error and recentFailures), stopped, disabled, failed (with the error: import, definition, configuration, start).",
      tags: TAGS,
      responses: {
        200: { description: "Plugins", schema: z.object({ plugins: z.array(PluginInfoSchema) }) },
        ...accessErrors,
      },
      handler: async () => ({ body: { plugins: host.list() } }),
    }),
    defineRoute({
      method: "get",
      path: "/api/plugins/:name/config",
      access: "user",
      summary: "A plugin's configuration (secrets never included), its secret fields and its JSON Schema",
      tags: TAGS,
      params: NameParams,
      responses: {
        200: { description: "Configuration", schema: PluginConfigViewSchema },
        404: notFound,
        ...accessErrors,
      },
      handler: async (_kctx, { params }) => ({ body: await answer(() => host.configView(params.name)) }),
    }),
    defineRoute({
      method: "put",
      path: "/api/plugins/:name/config",
      access: "admin",
      summary: "Save a plugin's configuration (validated against its schema); a running plugin restarts with it",
      description:
        'The body is the whole configuration. Secret fields are stored encrypted; send {"set": true} for a secret to keep its stored value (same path).',
      tags: TAGS,
      params: NameParams,
      body: ConfigBody,
      responses: {
        200: {
          description: "Saved",
          schema: PluginConfigViewSchema.extend({ plugin: PluginInfoSchema }),
        },
        400: { description: "Invalid configuration (invalidFields)", schema: ErrorBody },
        404: notFound,
        ...accessErrors,
      },
      handler: async (kctx, { params, body }) => {
        const { view, plugin } = await answer(() => host.setConfig(params.name, body));
        await audit(kctx, {
          action: "plugin_config_updated",
          targetType: "plugin",
          targetId: plugin.name,
          details: { plugin: plugin.name, state: plugin.state },
        });
        return { body: { ...view, plugin } };
      },
    }),
    lifecycle(
      "enable",
      "Enable a plugin and start it",
      "The flag is stored: the plugin stays enabled across restarts.",
    ),
    lifecycle(
      "disable",
      "Stop a plugin and keep it disabled",
      "The flag is stored: the plugin stays off across restarts.",
    ),
    lifecycle(
      "reload",
      "Restart a plugin; user plugins are imported again from their file",
      "Stop, re-import the module (user plugins; CommonJS modules and everything they require are evaluated afresh), start with the stored configuration.",
    ),
    defineRoute({
      method: "post",
      path: "/api/plugins/rescan",
      access: "admin",
      summary: "Load plugins added to the plugins folder since the start",
      description: "New modules are loaded and started; their HTTP endpoints are mounted at the next restart.",
      tags: TAGS,
      bodyParser: "none",
      responses: {
        200: {
          description: "The plugins added, and all plugins",
          schema: z.object({ added: z.array(z.string()), plugins: z.array(PluginInfoSchema) }),
        },
        ...accessErrors,
      },
      handler: async (kctx) => {
        const added = await loadUserPlugins(host, {
          pluginsDir: runtime.pluginsDir,
          version: runtime.version,
          log: ctx.log,
          onlyNew: true,
        });
        await audit(kctx, { action: "plugins_rescanned", targetType: "plugin", details: { added } });
        return { body: { added, plugins: host.list() } };
      },
    }),
    defineRoute({
      method: "post",
      path: "/api/plugins/webhook/test",
      access: "admin",
      summary: "Send a test message to a webhook target (stored, by name, or given), once",
      description:
        'With "name": the stored target. With "target": that target as given (secrets as {"set": true} come from the stored target of the same name). One attempt, no retries.',
      tags: TAGS,
      body: WebhookTestBody,
      responses: {
        200: {
          description: "Delivered",
          schema: z.object({
            success: z.literal(true),
            target: z.string(),
            status: z.number().int(),
            attempts: z.number().int(),
          }),
        },
        400: { description: "Invalid target", schema: ErrorBody },
        404: { description: "No webhook plugin, or no stored target of that name", schema: ErrorBody },
        502: { description: "The target did not accept the message: the reason", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => {
        if (!host.has(WEBHOOK_PLUGIN)) throw new HttpError(404, { error: "The webhook plugin is not installed" });
        // The stored configuration, or none when it is missing or invalid (then only an inline target can be tried).
        const stored = (await host.currentConfig(WEBHOOK_PLUGIN).catch(() => null)) as WebhookConfig | null;
        let target;
        if (body.target) {
          const storedTarget = stored?.targets.find((t) => t.name === body.target?.name);
          const merged = mapSecrets(body.target, TARGET_SECRETS, (leaf, p) => {
            if (!isKeepMarker(leaf)) return leaf;
            const old = getAt(storedTarget, p);
            return typeof old === "string" && old !== "" ? old : leaf;
          });
          const parsed = WebhookTargetSchema.safeParse(merged);
          if (!parsed.success) {
            const invalidFields = parsed.error.issues.map((i) => ({
              field: i.path.map(String).join("."),
              message: i.message,
            }));
            throw new HttpError(400, {
              error: "Invalid webhook target",
              message: invalidFields.map((i) => `${i.field || "target"}: ${i.message}`).join("; "),
              invalidFields,
            });
          }
          target = parsed.data;
        } else {
          target = stored?.targets.find((t) => t.name === body.name);
          if (!target) {
            throw new HttpError(404, {
              error: "Webhook target not found",
              message: `No stored webhook target is named ${JSON.stringify(body.name)}`,
            });
          }
        }
        const details = { target: target.name, preset: target.preset };
        try {
          const { status, attempts } = await sendTest(target, {
            version: runtime.version,
            timeoutMs: stored?.timeoutMs ?? 10_000,
            now: ctx.clock.now(),
          });
          await audit(kctx, {
            action: "webhook_test_sent",
            targetType: "plugin",
            targetId: WEBHOOK_PLUGIN,
            details: { ...details, status },
          });
          return { body: { success: true as const, target: target.name, status, attempts } };
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          const status = err instanceof WebhookError ? (err.status ?? null) : null;
          await audit(kctx, {
            action: "webhook_test_sent",
            status: "failure",
            targetType: "plugin",
            targetId: WEBHOOK_PLUGIN,
            details: { ...details, status },
            errorMessage: reason,
          });
          return {
            status: 502,
            body: {
              error: `Webhook test failed: ${reason}`,
              target: target.name,
              status,
              attempts: err instanceof WebhookError ? err.attempts : 0,
            },
          };
        }
      },
    }),
  ];

  // The plugins' own endpoints, mounted from the definitions known at start-up.
  for (const { plugin, path, mountedPath, endpoint } of host.endpoints()) {
    const contentType = endpoint.contentType ?? "application/json";
    const json = /json/i.test(contentType);
    routes.push(
      defineRoute({
        method: "get",
        path: mountedPath,
        access: endpoint.access,
        summary: endpoint.summary,
        description: `${endpoint.description ?? ""}${endpoint.description ? " " : ""}(served by the plugin "${plugin}")`,
        tags: TAGS,
        noCache: endpoint.noCache ?? true,
        responses: {
          200: { description: endpoint.summary, contentType, schema: json ? z.unknown() : z.string() },
          503: { description: "The plugin is not running", schema: ErrorBody },
          ...(endpoint.access === "public" ? ({} as typeof accessErrors) : accessErrors),
        },
        handler: async (_kctx, { query }) => {
          try {
            const res = await host.serveEndpoint(plugin, path, { query: query as Record<string, string | string[]> });
            return { body: res.body, headers: { "Content-Type": contentType } };
          } catch (err) {
            if (err instanceof PluginUnavailableError) {
              return { status: 503, body: { error: "Plugin not running", message: err.message } };
            }
            throw err;
          }
        },
      }),
    );
  }
  return routes;
}
