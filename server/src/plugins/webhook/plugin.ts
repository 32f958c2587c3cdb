import {
  type PluginContext,
  type PluginDefinition,
  type PluginEventName,
  type PluginEvents,
  type PluginTemplates,
  definePlugin,
} from "../api";
import { WebhookError, deliver } from "./deliver";
import { type Severity, type WebhookMessage, buildRequest } from "./presets";
import {
  type WebhookConfig,
  WebhookConfigSchema,
  type WebhookEvent,
  WEBHOOK_EVENTS,
  WEBHOOK_SECRETS,
  type WebhookTarget,
} from "./schema";

export const WEBHOOK_PLUGIN = "webhook";

/** Severity of a message: the run's status for a new run, warning while overdue, success when cleared. */
function severityOf(kind: string | null, payload: unknown): Severity {
  if (kind === "success" || kind === "overdueCleared") return "success";
  if (kind === "overdueBackup") return "warning";
  if (kind === "warning") {
    const status = (payload as { run?: { status?: string } }).run?.status;
    return status === "Warning" ? "warning" : "failure";
  }
  return "info";
}

const CHANGE_TEXT: Record<PluginEvents["serverChanged"]["change"], string> = {
  created: "was added",
  renamed: "was renamed",
  updated: "was updated",
  deleted: "was deleted",
  merged: "was merged into another server",
};

/** Renders an event through the notification templates (serverChanged, which has none, gets a short text). */
export async function buildMessage<K extends PluginEventName>(
  templates: PluginTemplates,
  event: K,
  payload: PluginEvents[K],
): Promise<WebhookMessage> {
  const { kind, variables } = await templates.variablesFor(event, payload);
  let title: string;
  let message: string;
  let priority = "default";
  let tags = "duplistatus";
  if (kind) {
    const rendered = await templates.render(kind, variables);
    ({ title, message, priority, tags } = rendered);
  } else {
    const change = (payload as PluginEvents["serverChanged"]).change;
    const name = variables.server_alias || variables.server_name || "";
    title = `Server ${name} ${CHANGE_TEXT[change] ?? change}`;
    message =
      change === "renamed" && variables.previous_name
        ? `The server ${name} was renamed (previously ${variables.previous_name}).`
        : `The server ${name} ${CHANGE_TEXT[change] ?? change}.`;
  }
  return { event, kind, title, message, priority, tags, severity: severityOf(kind, payload), variables, payload };
}

/** Whether a target wants this event (its events, its enabled flag, its run statuses). */
export function wants(target: WebhookTarget, event: WebhookEvent, payload: unknown): boolean {
  if (!target.enabled || !target.events.includes(event)) return false;
  if (event === "backupReceived" && target.statuses) {
    const status = (payload as PluginEvents["backupReceived"]).run.status;
    return target.statuses.includes(status);
  }
  return true;
}

/**
 * Webhooks: each event goes to every enabled target that asked for it, shaped by the target's preset (Discord,
 * Slack, Teams, Gotify, Telegram, Apprise) or its body template. Deliveries are retried on network errors and 5xx;
 * a delivery that still fails is reported (GET /api/plugins shows it) and audited, and never affects another target,
 * another plugin or the upload. Late re-sent runs (isLatest false) are not delivered, as with the notifications.
 */
export function createWebhookPlugin(): PluginDefinition<WebhookConfig> {
  return definePlugin<WebhookConfig>({
    name: WEBHOOK_PLUGIN,
    description: "Webhooks: generic HTTP, Discord, Slack, Microsoft Teams, Gotify, Telegram and Apprise",
    configSchema: WebhookConfigSchema,
    secrets: WEBHOOK_SECRETS,
    start(ctx: PluginContext<WebhookConfig>) {
      const { config, log } = ctx;

      const send = async (target: WebhookTarget, msg: WebhookMessage) => {
        const req = buildRequest(target, msg, ctx.host.version);
        const details = { channel: "webhook", target: target.name, preset: target.preset, event: msg.event };
        try {
          const { status, attempts } = await deliver(req, { ...config, signal: ctx.signal });
          log.info({ ...details, status, attempts }, "webhook delivered");
          await ctx.audit({ action: "webhook_sent", status: "success", details: { ...details, status, attempts } });
        } catch (err) {
          if (ctx.signal.aborted) return;
          const reason = err instanceof Error ? err.message : String(err);
          const attempts = err instanceof WebhookError ? err.attempts : 0;
          const status = err instanceof WebhookError ? (err.status ?? null) : null;
          ctx.reportFailure(`${target.name}: ${reason}`, { ...details, attempts, status });
          await ctx.audit({
            action: "webhook_failed",
            status: "failure",
            details: { ...details, attempts, status },
            errorMessage: reason,
          });
        }
      };

      for (const event of WEBHOOK_EVENTS) {
        if (!config.targets.some((t) => t.enabled && t.events.includes(event))) continue;
        ctx.on(event, async (payload) => {
          if (event === "backupReceived" && !(payload as PluginEvents["backupReceived"]).isLatest) return;
          const targets = config.targets.filter((t) => wants(t, event, payload));
          if (targets.length === 0) return;
          const msg = await buildMessage(ctx.templates, event, payload);
          await Promise.all(targets.map((t) => send(t, msg)));
        });
      }
      log.info({ targets: config.targets.length }, "webhook targets ready");
    },
  });
}

/** The message of a test send. */
export function testMessage(target: WebhookTarget, now: Date): WebhookMessage {
  const sentAt = now.toISOString();
  return {
    event: "test",
    kind: null,
    title: "duplistatus test notification",
    message: `This is a test notification from duplistatus to the webhook target "${target.name}".\n\n(test sent at ${sentAt})`,
    priority: "default",
    tags: "duplistatus, test",
    severity: "info",
    variables: {},
    payload: { test: true, target: target.name, sentAt },
  };
}

/** Sends the test message to one target, once (no retries). */
export async function sendTest(
  target: WebhookTarget,
  options: { version: string; timeoutMs: number; now: Date },
): Promise<{ status: number; attempts: number }> {
  return deliver(buildRequest(target, testMessage(target, options.now), options.version), {
    attempts: 1,
    retryDelayMs: 0,
    timeoutMs: options.timeoutMs,
  });
}
