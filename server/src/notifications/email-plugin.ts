import { z } from "zod";
import type { AppConfig } from "../config";
import { type PluginDefinition, definePlugin } from "../plugins/api";
import { SMTP_TIMEOUT_MS, sendEmail } from "./email-transport";
import { type Notice, addressList, auditBase, errorText, onNotices } from "./notices";
import { notificationContext } from "./plugin-services";
import type { RenderedNotification } from "./templates";

export interface EmailPluginConfig {
  /** Connection, greeting and socket timeout of one SMTP session (default 20 s). */
  timeoutMs: number;
}

export const EMAIL_DEFAULTS: EmailPluginConfig = { timeoutMs: SMTP_TIMEOUT_MS };

export const EmailPluginConfigSchema = z.object({
  timeoutMs: z.int().min(100).max(600_000).default(SMTP_TIMEOUT_MS),
}) satisfies z.ZodType<EmailPluginConfig>;

/**
 * The e-mail channel: the same notices as ntfy, to the configured `mailto` (when the job's emailEnabled is on) and
 * one message to each additional address. Subject = the rendered title, body = the rendered message (text, plus a
 * simple HTML version). Nothing is sent while no SMTP settings are stored. Every message is audited (email_sent /
 * email_failed, category system) and logged without the password.
 */
export function createEmailPlugin(): PluginDefinition<EmailPluginConfig> {
  return definePlugin<EmailPluginConfig>({
    name: "notify-email",
    description: "E-mail notifications (the SMTP settings, templates and per-job preferences of the notifications)",
    configSchema: EmailPluginConfigSchema,
    start(publicCtx) {
      const ctx = notificationContext(publicCtx);
      const { services, log } = ctx;
      const options = { ...EMAIL_DEFAULTS, ...ctx.config };

      const audit = (
        n: Notice,
        rendered: RenderedNotification | null,
        destination: string,
        to: string,
        err: unknown | null,
      ): Promise<void> => {
        const base = auditBase(n, rendered);
        const details = { ...base.details, channel: "email", destination, to };
        if (err === null) {
          log.info(
            { event: n.event, serverId: n.serverId, backupName: n.backupName, destination },
            "e-mail notification sent",
          );
          return services.audit({ ...base, action: "email_sent", status: "success", details });
        }
        log.warn(
          { event: n.event, serverId: n.serverId, backupName: n.backupName, destination, error: errorText(err) },
          "e-mail notification failed",
        );
        return services.audit({
          ...base,
          action: "email_failed",
          status: "failure",
          details,
          errorMessage: errorText(err),
        });
      };

      onNotices(ctx, async (n) => {
        const standard = n.standard && n.prefs.emailEnabled;
        const extra = n.additional ? addressList(n.prefs.additionalEmails) : [];
        if (!standard && extra.length === 0) return;
        let config;
        try {
          config = await services.notificationConfig.smtp();
        } catch (err) {
          await audit(n, null, standard ? "standard" : "additional", "", err);
          return;
        }
        if (!config) return;
        const rendered = await n.render();
        const mailto = addressList(config.mailto);
        const sends: Array<{ destination: "standard" | "additional"; to: string }> = [];
        if (standard && mailto.length > 0) sends.push({ destination: "standard", to: mailto.join(", ") });
        // An additional address that already gets the standard message is not sent a second copy.
        const already = new Set(standard ? mailto.map((a) => a.toLowerCase()) : []);
        for (const to of extra) if (!already.has(to.toLowerCase())) sends.push({ destination: "additional", to });

        await Promise.all(
          sends.map(async ({ destination, to }) => {
            try {
              await sendEmail(config, { to, subject: rendered.title, text: rendered.message }, options);
              await audit(n, rendered, destination, to, null);
            } catch (err) {
              await audit(n, rendered, destination, to, err);
            }
          }),
        );
      });
    },
    stop() {
      // Nothing held between sends: each message opens and closes its own SMTP connection.
    },
  });
}

export function emailPluginConfig(_config: AppConfig): EmailPluginConfig {
  return { ...EMAIL_DEFAULTS };
}
