import { z } from "zod";
import type { AppConfig } from "../config";
import { type PluginDefinition, definePlugin } from "../plugins/api";
import { type Notice, auditBase, errorText, onNotices } from "./notices";
import { NTFY_DEFAULTS, NtfyError, type NtfyOptions, sendNtfy } from "./ntfy-transport";
import { notificationContext } from "./plugin-services";
import type { RenderedNotification } from "./templates";

/** Retry and timeout of the ntfy sends (reference §6.4: 5 tries, 3 s apart, on network errors only). */
export type NtfyPluginConfig = Omit<NtfyOptions, "signal">;

export const NtfyPluginConfigSchema = z.object({
  attempts: z.int().min(1).max(20).default(NTFY_DEFAULTS.attempts),
  retryDelayMs: z.int().min(0).max(600_000).default(NTFY_DEFAULTS.retryDelayMs),
  timeoutMs: z.int().min(100).max(600_000).default(NTFY_DEFAULTS.timeoutMs),
}) satisfies z.ZodType<NtfyPluginConfig>;

/**
 * The ntfy channel: new runs (success / warning templates), overdue jobs and jobs back on schedule, to the global
 * topic (when the job's ntfyEnabled is on) and to the job's additional topic on the same server with the same token.
 * Nothing is sent until an admin has saved ntfy settings. Every send is audited (notification_sent /
 * notification_failed, category system) and logged without the token.
 */
export function createNtfyPlugin(): PluginDefinition<NtfyPluginConfig> {
  let stopping: AbortController | null = null;
  return definePlugin<NtfyPluginConfig>({
    name: "notify-ntfy",
    description: "ntfy notifications (the ntfy settings, templates and per-job preferences of the notifications)",
    configSchema: NtfyPluginConfigSchema,
    start(publicCtx) {
      const controller = new AbortController();
      stopping = controller;
      const ctx = notificationContext(publicCtx);
      const options: NtfyOptions = { ...NTFY_DEFAULTS, ...ctx.config, signal: controller.signal };
      const { services, log } = ctx;

      const failed = (n: Notice, rendered: RenderedNotification | null, destination: string, err: unknown) => {
        const base = auditBase(n, rendered);
        log.warn(
          { event: n.event, serverId: n.serverId, backupName: n.backupName, destination, error: errorText(err) },
          "ntfy notification failed",
        );
        return services.audit({
          ...base,
          action: "notification_failed",
          status: "failure",
          details: {
            ...base.details,
            channel: "ntfy",
            destination,
            attempts: err instanceof NtfyError ? err.attempts : 0,
          },
          errorMessage: errorText(err),
        });
      };

      onNotices(ctx, async (n) => {
        const standard = n.standard && n.prefs.ntfyEnabled;
        const extraTopic = n.additional ? (n.prefs.additionalNtfyTopic ?? "").trim() : "";
        if (!standard && !extraTopic) return;
        let config;
        try {
          config = await services.notificationConfig.ntfy();
        } catch (err) {
          await failed(n, null, standard ? "standard" : "additional", err);
          return;
        }
        if (!config) return;
        const rendered = await n.render();
        const targets: Array<{ destination: "standard" | "additional"; topic: string }> = [];
        if (standard) targets.push({ destination: "standard", topic: config.topic });
        if (extraTopic && !(standard && extraTopic === config.topic))
          targets.push({ destination: "additional", topic: extraTopic });

        await Promise.all(
          targets.map(async ({ destination, topic }) => {
            try {
              const { attempts } = await sendNtfy({ ...config, topic }, rendered, options);
              const base = auditBase(n, rendered);
              log.info(
                { event: n.event, serverId: n.serverId, backupName: n.backupName, destination, attempts },
                "ntfy notification sent",
              );
              await services.audit({
                ...base,
                action: "notification_sent",
                status: "success",
                details: { ...base.details, channel: "ntfy", destination, attempts },
              });
            } catch (err) {
              await failed(n, rendered, destination, err);
            }
          }),
        );
      });
    },
    stop() {
      // Ends the waits between retries of sends still in flight.
      stopping?.abort();
      stopping = null;
    },
  });
}

/**
 * The ntfy plugin's settings for this process: the original's 5 tries 3 s apart and 10 s per try. Under
 * NODE_ENV=test the tries are 50 ms apart, so the tests of a dead ntfy server do not wait 12 s per message.
 */
export function ntfyPluginConfig(config: Pick<AppConfig, "nodeEnv">): NtfyPluginConfig {
  return { ...NTFY_DEFAULTS, ...(config.nodeEnv === "test" ? { retryDelayMs: 50 } : {}) };
}
