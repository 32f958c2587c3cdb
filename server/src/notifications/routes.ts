import type Koa from "koa";
import { z } from "zod";
import { requestActor } from "../audit/request-actor";
import type { AuditEntry } from "../audit/audit-service";
import type { AppContext } from "../context";
import { HttpError } from "../core/errors";
import { defineRoute, type RouteDef } from "../http/route";
import { EmailError, sendEmail } from "./email-transport";
import { MasterKeyError, type SmtpConfig, type SmtpInput } from "./notification-config";
import { addressList } from "./notices";
import { NTFY_DEFAULTS, type NtfyTarget, sendNtfy } from "./ntfy-transport";
import { notificationCore } from "./plugin-services";
import {
  DefaultsQuery,
  EmailConfigAnswer,
  ErrorBody,
  FrequencyValue,
  MasterKeyAnswer,
  MessageBody,
  NotificationsBody,
  NotificationsBodyDoc,
  NtfyInput,
  NtfySaved,
  NtfyView,
  SmtpBody,
  type SmtpBodyInput,
  SmtpConfigNoPassword,
  SmtpPasswordBody,
  TemplateSetSchema,
  TemplateSettingsSchema,
  TemplatesBody,
  TestBody,
  accessErrors,
} from "./schemas";
import {
  type NotificationTemplate,
  defaultTemplates,
  isTemplateLanguage,
  renderNotification,
  sampleVariables,
} from "./templates";

const TAGS = ["notifications"];

function zodMessage(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.map(String).join(".") || "body"}: ${i.message}`).join("; ");
}

function toSmtpInput(body: Omit<SmtpBodyInput, "password"> & { password?: string }): SmtpInput {
  const legacySecure = body.secure === true || body.secure === "true";
  return {
    host: body.host,
    port: body.port,
    connectionType: body.connectionType ?? (legacySecure ? "ssl" : "starttls"),
    username: body.username?.trim() ?? "",
    ...(body.password !== undefined ? { password: body.password } : {}),
    mailto: addressList(body.mailto).join(", "),
    senderName: body.senderName?.trim() ?? "",
    fromAddress: body.fromAddress?.trim() ?? "",
    requireAuth: body.requireAuth !== false,
  };
}

const masterKeyAnswer = (err: MasterKeyError) => ({
  status: 400,
  body: { error: err.message, masterKeyInvalid: true as const, configured: false as const, config: null },
});

/**
 * The notification settings and the test send (reference §2.5, §2.6): ntfy, SMTP, templates, the overdue
 * re-notification frequency. Secrets are write-only: answers say hasAccessToken / hasPassword instead.
 */
export function notificationRoutes(ctx: AppContext): RouteDef[] {
  const { config: settings } = notificationCore(ctx);
  const { monitoring } = ctx.services;

  const audit = async (
    kctx: Koa.Context,
    entry: Omit<AuditEntry, "category"> & { category?: AuditEntry["category"] },
  ) => ctx.audit.record({ category: "config", ...(await requestActor(ctx.access, kctx)), ...entry });

  const saveNtfy = async (kctx: Koa.Context, raw: unknown) => {
    const parsed = NtfyInput.safeParse(raw);
    if (!parsed.success) {
      throw new HttpError(400, { error: "Invalid ntfy configuration", message: zodMessage(parsed.error) });
    }
    const ntfy = await settings.saveNtfy(parsed.data);
    await audit(kctx, {
      action: "ntfy_config_updated",
      details: {
        url: ntfy.url,
        topicChanged: parsed.data.topic !== undefined,
        // Named so that the audit redaction (which blanks keys such as "token") keeps this harmless summary.
        credential: parsed.data.accessToken === undefined ? "kept" : parsed.data.accessToken === "" ? "removed" : "set",
      },
    });
    return { body: { message: "NTFY config updated successfully", ntfy } };
  };

  const ntfySaveRoute = (method: "post" | "put") =>
    defineRoute({
      method,
      path: "/api/configuration/ntfy",
      access: "admin",
      summary: "Save the ntfy settings (url, topic, access token)",
      description:
        'Same body as POST /api/configuration/notifications with "ntfy". An empty topic gets a generated one; an omitted accessToken keeps the stored token, "" removes it. The token is never returned.',
      tags: TAGS,
      body: z.object({ ntfy: NtfyInput }, { error: 'ntfy settings are required: {"ntfy": {url, topic, accessToken}}' }),
      responses: {
        200: { description: "Saved", schema: NtfySaved },
        400: { description: "Invalid settings", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => saveNtfy(kctx, body.ntfy),
    });

  const saveEmail = async (kctx: Koa.Context, body: SmtpBodyInput) => {
    const input = toSmtpInput(body);
    await settings.saveSmtp(input);
    await audit(kctx, {
      action: "email_config_updated",
      details: {
        host: input.host,
        port: input.port,
        connectionType: input.connectionType,
        requireAuth: input.requireAuth,
        mailto: input.mailto,
        credentialChanged: body.password !== undefined,
      },
    });
    return { body: { success: true as const, message: "SMTP configuration saved successfully" } };
  };

  const emailSaveRoute = (method: "post" | "put") =>
    defineRoute({
      method,
      path: "/api/configuration/email",
      access: "admin",
      summary: "Save the SMTP settings",
      description:
        "host, port and mailto are required; a username when requireAuth (default true); a fromAddress when the username is not an e-mail address. An omitted password keeps the stored one. The username and password are stored encrypted.",
      tags: TAGS,
      body: SmtpBody,
      responses: {
        200: { description: "Saved", schema: z.object({ success: z.literal(true), message: z.string() }) },
        400: { description: "Invalid settings", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => saveEmail(kctx, body),
    });

  const emailPasswordRoute = (method: "patch" | "put") =>
    defineRoute({
      method,
      path: "/api/configuration/email/password",
      access: "admin",
      summary: 'Set the SMTP password ("" removes it)',
      description:
        "With no SMTP settings stored yet, `config` must hold them (host, port, mailto, …). The password is stored encrypted and never returned.",
      tags: TAGS,
      body: SmtpPasswordBody,
      responses: {
        200: { description: "Saved", schema: MessageBody },
        400: { description: "No SMTP settings stored and `config` incomplete, or an invalid body", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => {
        const stored = await settings.hasSmtpSettings();
        let config: Omit<SmtpInput, "password"> | undefined;
        if (!stored) {
          const parsed = SmtpConfigNoPassword.safeParse(body.config ?? {});
          if (!parsed.success) {
            throw new HttpError(400, {
              error: "SMTP configuration is required",
              message: `No SMTP settings are stored yet; config: ${zodMessage(parsed.error)}`,
            });
          }
          config = toSmtpInput(parsed.data);
        }
        await settings.setSmtpPassword(body.password, config);
        await audit(kctx, {
          action: "email_password_updated",
          details: { cleared: body.password === "", created: !stored },
        });
        return { body: { message: "Email password updated successfully" } };
      },
    });

  const templatesSaveRoute = (method: "post" | "put") =>
    defineRoute({
      method,
      path: "/api/configuration/templates",
      access: "admin",
      summary: "Save notification templates (partial update)",
      description:
        "Merged into the stored templates: only the templates, and within a template only the fields (title, message, priority, tags), that are sent change. Placeholders are {name} (see GET /api/configuration/templates/defaults); {{name}} writes a literal {name}.",
      tags: TAGS,
      body: TemplatesBody,
      responses: {
        200: {
          description: "Saved; the whole stored set",
          schema: z.object({ message: z.string(), templates: TemplateSettingsSchema }),
        },
        400: { description: "Invalid template", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => {
        const templates = await settings.saveTemplates(body.templates);
        await audit(kctx, {
          action: "notification_template_updated",
          details: {
            language: body.templates.language ?? null,
            templates: Object.keys(body.templates).filter((k) => k !== "language"),
          },
        });
        return { body: { message: "Notification templates updated successfully", templates } };
      },
    });

  return [
    // ---- ntfy and frequency ----------------------------------------------------------------------------------------
    defineRoute({
      method: "get",
      path: "/api/configuration/ntfy",
      access: "user",
      summary: "The ntfy settings (the access token is never returned: hasAccessToken says whether one is set)",
      description:
        "Before an admin saves ntfy settings, defaults are shown (https://ntfy.sh/ and a generated topic, kept from then on) and nothing is sent.",
      tags: TAGS,
      responses: {
        200: { description: "ntfy settings", schema: z.object({ ntfy: NtfyView }) },
        ...accessErrors,
      },
      handler: async () => ({ body: { ntfy: await settings.ntfyView() } }),
    }),
    ntfySaveRoute("post"),
    ntfySaveRoute("put"),
    defineRoute({
      method: "get",
      path: "/api/configuration/notifications",
      access: "user",
      summary: "How often an ongoing overdue backup is notified again",
      tags: TAGS,
      responses: {
        200: { description: "Frequency", schema: z.object({ value: FrequencyValue }) },
        ...accessErrors,
      },
      handler: async () => ({ body: { value: await monitoring.frequency() } }),
    }),
    defineRoute({
      method: "post",
      path: "/api/configuration/notifications",
      access: "admin",
      summary: 'Set the re-notification frequency ({"value": …}) or the ntfy settings ({"ntfy": {…}})',
      tags: TAGS,
      body: NotificationsBody,
      bodyDoc: NotificationsBodyDoc,
      responses: {
        200: {
          description: "The saved frequency, or the saved ntfy settings",
          schema: z.union([z.object({ value: FrequencyValue }), NtfySaved]),
        },
        400: { description: '"Invalid value", "ntfy config is required" or invalid ntfy settings', schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => {
        if (body.value !== undefined) {
          const value = FrequencyValue.safeParse(body.value);
          if (!value.success) {
            throw new HttpError(400, {
              error: "Invalid value",
              message: `value must be one of ${FrequencyValue.options.join(", ")}`,
            });
          }
          await monitoring.setFrequency(value.data);
          await audit(kctx, { action: "notification_frequency_updated", details: { value: value.data } });
          return { body: { value: value.data } };
        }
        if (body.ntfy === undefined || body.ntfy === null) {
          throw new HttpError(400, {
            error: "ntfy config is required",
            message: 'Send {"value": "<frequency>"} or {"ntfy": {url, topic, accessToken}}',
          });
        }
        return saveNtfy(kctx, body.ntfy);
      },
    }),

    // ---- e-mail ----------------------------------------------------------------------------------------------------
    defineRoute({
      method: "get",
      path: "/api/configuration/email",
      access: "user",
      summary: "The SMTP settings (never the password: hasPassword says whether one is set)",
      tags: TAGS,
      responses: {
        200: { description: "Settings, or configured false", schema: EmailConfigAnswer },
        400: {
          description: "The stored settings cannot be decrypted with this installation's key",
          schema: MasterKeyAnswer,
        },
        ...accessErrors,
      },
      handler: async () => {
        try {
          const config = await settings.smtpView();
          return config
            ? { body: { configured: true, config, message: "Email is configured and ready to use." } }
            : {
                body: {
                  configured: false,
                  config: null,
                  message: "Email is not configured. Please configure SMTP settings.",
                },
              };
        } catch (err) {
          if (err instanceof MasterKeyError) return masterKeyAnswer(err);
          throw err;
        }
      },
    }),
    emailSaveRoute("post"),
    emailSaveRoute("put"),
    defineRoute({
      method: "delete",
      path: "/api/configuration/email",
      access: "admin",
      summary: "Delete the SMTP settings",
      tags: TAGS,
      responses: {
        200: { description: "Deleted", schema: z.object({ success: z.literal(true), message: z.string() }) },
        404: { description: "No SMTP settings stored", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx) => {
        if (!(await settings.deleteSmtp())) {
          throw new HttpError(404, {
            error: "SMTP configuration not found",
            message: "There are no SMTP settings to delete",
          });
        }
        await audit(kctx, { action: "email_config_deleted", details: {} });
        return { body: { success: true as const, message: "SMTP configuration deleted successfully" } };
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/configuration/email/password",
      access: "user",
      summary: "Whether an SMTP password is stored",
      description:
        'The original answers {"csrfToken"} here (its UI fetched a CSRF token before the PATCH); CSRF tokens come from GET /api/csrf, so this says {"hasPassword": true|false} instead. The password itself is never returned.',
      tags: TAGS,
      responses: {
        200: { description: "Whether a password is stored", schema: z.object({ hasPassword: z.boolean() }) },
        ...accessErrors,
      },
      handler: async () => ({ body: { hasPassword: await settings.hasSmtpPassword() } }),
    }),
    emailPasswordRoute("patch"),
    emailPasswordRoute("put"),

    // ---- templates -------------------------------------------------------------------------------------------------
    defineRoute({
      method: "get",
      path: "/api/configuration/templates",
      access: "user",
      summary: "The notification templates in use (language, success, warning, overdueBackup, overdueCleared)",
      tags: TAGS,
      responses: {
        200: { description: "Templates", schema: z.object({ templates: TemplateSettingsSchema }) },
        ...accessErrors,
      },
      handler: async () => ({ body: { templates: await settings.templates() } }),
    }),
    templatesSaveRoute("post"),
    templatesSaveRoute("put"),
    defineRoute({
      method: "get",
      path: "/api/configuration/templates/defaults",
      access: "user",
      summary: "The default templates of a language",
      description:
        "Default texts exist in English; every accepted language answers them (the language still sets the number and date formats once saved).",
      tags: TAGS,
      query: DefaultsQuery,
      responses: {
        200: { description: "Default templates", schema: TemplateSetSchema },
        400: { description: "Invalid language", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (_kctx, { query }) => {
        const language = query.language?.trim() || "en-GB";
        if (!isTemplateLanguage(language)) {
          throw new HttpError(400, { error: "Invalid language", message: `"${language}" is not a supported language` });
        }
        return { body: defaultTemplates(language) };
      },
    }),

    // ---- test send -------------------------------------------------------------------------------------------------
    defineRoute({
      method: "post",
      path: "/api/notifications/test",
      access: "admin",
      summary: "Send a test notification: simple (ntfy), template (ntfy and e-mail) or email",
      description:
        "simple: posts a short message to the ntfy settings in `ntfyConfig`. template: renders `template` with each variable replaced by its own name and sends it through ntfy (`ntfyConfig`, else the stored settings) and, when SMTP is set up, by e-mail. email: sends a diagnostic message to `toEmail`, else to the configured mailto. A missing ntfyConfig.accessToken means the stored token. Test sends are tried once (no retries).",
      tags: TAGS,
      body: TestBody,
      responses: {
        200: {
          description: "Sent",
          schema: z.union([
            z.object({ message: z.string() }),
            z.object({ success: z.literal(true), message: z.string(), channels: z.array(z.string()) }),
          ]),
        },
        400: { description: "Missing ntfy settings, template or SMTP settings", schema: ErrorBody },
        500: { description: "The channel failed: the reason", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => {
        const sentAt = `(test sent at ${ctx.clock.now().toISOString()})`;
        /** The ntfy settings in the body, else the stored ones (400 when there are neither). */
        const ntfyTarget = async (): Promise<NtfyTarget> => {
          const given = body.ntfyConfig;
          if (given) {
            if (!given.url?.trim() || !given.topic?.trim()) {
              throw new HttpError(400, { error: "NTFY URL and topic are required" });
            }
            const accessToken = given.accessToken ?? (await settings.ntfyStoredToken().catch(() => ""));
            return { url: given.url.trim(), topic: given.topic.trim(), accessToken };
          }
          const stored = await settings.ntfy().catch(() => null);
          if (!stored) throw new HttpError(400, { error: "NTFY configuration is required" });
          return stored;
        };
        const once = { ...NTFY_DEFAULTS, attempts: 1 };

        if (body.type === "simple") {
          if (!body.ntfyConfig) throw new HttpError(400, { error: "NTFY configuration is required" });
          const target = await ntfyTarget();
          try {
            await sendNtfy(
              target,
              {
                title: "Test Notification",
                message: `This is a test notification from duplistatus.\n\n${sentAt}`,
                priority: "default",
                tags: "test",
              },
              once,
            );
          } catch (err) {
            const reason = err instanceof Error ? err.message : String(err);
            await audit(kctx, {
              action: "test_notification_sent",
              status: "failure",
              details: { type: "simple" },
              errorMessage: reason,
            });
            return { status: 500, body: { error: `Failed to send test notification: ${reason}` } };
          }
          await audit(kctx, { action: "test_notification_sent", details: { type: "simple", channels: ["NTFY"] } });
          return { body: { message: "Test notification sent successfully" } };
        }

        if (body.type === "template") {
          const t = body.template;
          if (!t || (t.title === undefined && t.message === undefined)) {
            throw new HttpError(400, { error: "Template is required for template type" });
          }
          const template: NotificationTemplate = {
            title: t.title ?? "",
            message: t.message ?? "",
            priority: t.priority ?? "default",
            tags: t.tags ?? "",
          };
          const rendered = renderNotification("success", template, sampleVariables(), { keepUnknown: true });
          const message = `${rendered.message}\n\n${sentAt}`;
          const target = await ntfyTarget();
          // SMTP settings that cannot be decrypted count as "not set up" here; GET /api/configuration/email says why.
          const smtp = await settings.smtp().catch((): SmtpConfig | null => null);
          const channels: string[] = [];
          try {
            await sendNtfy(target, { ...rendered, message }, once);
            channels.push("NTFY");
            if (smtp) {
              await sendEmail(smtp, { to: smtp.mailto, subject: rendered.title, text: message });
              channels.push("Email");
            }
          } catch (err) {
            const reason = err instanceof Error ? err.message : String(err);
            const channel = channels.length === 0 ? "NTFY" : "Email";
            await audit(kctx, {
              action: "test_notification_sent",
              status: "failure",
              details: { type: "template", channels, failed: channel },
              errorMessage: reason,
            });
            return { status: 500, body: { error: `Failed to send test notification: ${reason}`, channels } };
          }
          await audit(kctx, { action: "test_notification_sent", details: { type: "template", channels } });
          return {
            body: {
              success: true as const,
              message: `Test notifications sent successfully via ${channels.join(" and ")}`,
              channels,
            },
          };
        }

        // email
        let smtp: SmtpConfig | null;
        try {
          smtp = await settings.smtp();
        } catch (err) {
          if (err instanceof MasterKeyError) throw new HttpError(400, { error: err.message, masterKeyInvalid: true });
          throw err;
        }
        if (!smtp) {
          throw new HttpError(400, {
            error: "Email is not configured",
            message: "Save SMTP settings with POST /api/configuration/email first",
          });
        }
        const to = body.toEmail?.trim() || smtp.mailto;
        if (addressList(to).length === 0)
          throw new HttpError(400, { error: "Invalid toEmail", message: "toEmail must be an e-mail address" });
        const text = [
          "This is a test e-mail from duplistatus.",
          "",
          `SMTP server: ${smtp.host}:${smtp.port}`,
          `Connection type: ${smtp.connectionType}`,
          `Authentication: ${smtp.requireAuth ? `yes (user ${smtp.username})` : "no"}`,
          `Recipient: ${to}`,
          `From address: ${smtp.fromAddress || smtp.username}`,
          `Sender name: ${smtp.senderName || "duplistatus"}`,
          "",
          sentAt,
        ].join("\n");
        try {
          await sendEmail(smtp, { to, subject: "duplistatus test e-mail", text });
        } catch (err) {
          const reason = err instanceof EmailError || err instanceof Error ? err.message : String(err);
          await audit(kctx, { action: "test_email_sent", status: "failure", details: { to }, errorMessage: reason });
          return { status: 500, body: { error: `Failed to send test email: ${reason}` } };
        }
        await audit(kctx, { action: "test_email_sent", details: { to } });
        return { body: { message: "Test email sent successfully" } };
      },
    }),
  ];
}
