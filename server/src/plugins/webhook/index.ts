/** The webhook plugin (built in): see plugin.ts, and docs/plugins.md for the configuration. */
export { WEBHOOK_PLUGIN, buildMessage, createWebhookPlugin, sendTest, testMessage } from "./plugin";
export { WebhookError, deliver } from "./deliver";
export { buildRequest, type WebhookMessage, type WebhookRequest } from "./presets";
export {
  WEBHOOK_EVENTS,
  WEBHOOK_PRESETS,
  WEBHOOK_SECRETS,
  type WebhookConfig,
  WebhookConfigSchema,
  type WebhookTarget,
  WebhookTargetSchema,
} from "./schema";
