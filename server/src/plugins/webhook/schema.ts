import { z } from "zod";
import { renderText } from "../api";

/** The webhook plugin's configuration: any number of targets, and the retry policy shared by all of them. */

export const WEBHOOK_PRESETS = ["generic", "discord", "slack", "teams", "gotify", "telegram", "apprise"] as const;
export type WebhookPreset = (typeof WEBHOOK_PRESETS)[number];

export const WEBHOOK_EVENTS = ["backupReceived", "backupOverdue", "overdueCleared", "serverChanged"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Events a target gets when it names none: the ones the notification templates exist for. */
export const DEFAULT_WEBHOOK_EVENTS: WebhookEvent[] = ["backupReceived", "backupOverdue", "overdueCleared"];

export const RUN_STATUSES = ["Success", "Unknown", "Warning", "Error", "Fatal"] as const;

export const TELEGRAM_API = "https://api.telegram.org";

/** Fields whose values are stored encrypted and never answered: URLs (Discord, Slack and Teams URLs are keys), header values, tokens. */
export const WEBHOOK_SECRETS = ["targets.*.url", "targets.*.headers.*", "targets.*.token"];

const isHttpUrl = (v: string): boolean => {
  try {
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
};

/** A body template must give valid JSON when the target sends JSON: placeholders go inside quotes, {event_json} not. */
export function bodyTemplateProblem(template: string): string | null {
  const vars: Record<string, string> = {};
  for (const m of template.matchAll(/\{([0-9a-zA-Z_]+)\}/g)) {
    const name = m[1] ?? "";
    vars[name] = name === "event_json" ? "{}" : "x";
  }
  try {
    JSON.parse(renderText(template, vars));
    return null;
  } catch {
    return 'bodyTemplate does not produce valid JSON (put placeholders inside quotes, except {event_json}); set a "Content-Type" header for other formats';
  }
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const WebhookTargetSchema = z
  .object({
    /** Unique among the targets; shown in failures and audit entries. */
    name: z.string().trim().min(1).max(64),
    preset: z.enum(WEBHOOK_PRESETS).default("generic"),
    /** The endpoint (Telegram: the Bot API base, default https://api.telegram.org; Gotify: the server URL). */
    url: z
      .string()
      .trim()
      .refine((v) => v === "" || isHttpUrl(v), { error: "must be an http:// or https:// URL" })
      .optional(),
    /** generic only: presets always POST. */
    method: z.enum(["POST", "PUT", "PATCH"]).default("POST"),
    /** Extra request headers (values are secret). A "Content-Type" here replaces the preset's. */
    headers: z
      .record(
        z.string().regex(HEADER_NAME, { error: "invalid header name" }),
        z.string().regex(/^[^\r\n\0]*$/, { error: "header values must be a single line" }),
      )
      .default({}),
    /** Gotify: the application token (X-Gotify-Key); Telegram: the bot token. */
    token: z.string().trim().optional(),
    /** Telegram: the chat id (number or @channel). */
    chatId: z.string().trim().optional(),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).default(DEFAULT_WEBHOOK_EVENTS),
    /** backupReceived: only runs with these statuses (default: all). */
    statuses: z.array(z.enum(RUN_STATUSES)).min(1).optional(),
    /** Replaces the preset's body. {placeholders}: the notification variables, event, event_json, title, message… */
    bodyTemplate: z.string().max(65_536).optional(),
    enabled: z.boolean().default(true),
  })
  .superRefine((t, ctx) => {
    const need = (field: "url" | "token" | "chatId", why: string) => {
      if (!t[field]) ctx.addIssue({ code: "custom", path: [field], message: `required for ${why}` });
    };
    if (t.preset === "telegram") {
      need("token", "Telegram (the bot token)");
      need("chatId", "Telegram");
    } else {
      need("url", `the ${t.preset} preset`);
    }
    if (t.preset === "gotify") need("token", "Gotify (the application token)");
    if (t.bodyTemplate !== undefined) {
      const contentType = Object.entries(t.headers).find(([k]) => k.toLowerCase() === "content-type")?.[1];
      if (!contentType || /json/i.test(contentType)) {
        const problem = bodyTemplateProblem(t.bodyTemplate);
        if (problem) ctx.addIssue({ code: "custom", path: ["bodyTemplate"], message: problem });
      }
    }
  });

export type WebhookTarget = z.output<typeof WebhookTargetSchema>;

export const WebhookConfigSchema = z
  .object({
    targets: z.array(WebhookTargetSchema).max(100).default([]),
    /** Tries per delivery, in all (network errors and 5xx are retried; any other answer is final). */
    attempts: z.int().min(1).max(10).default(3),
    /** Wait before the first retry; doubled before each further one. */
    retryDelayMs: z.int().min(0).max(600_000).default(2_000),
    /** Limit of one try, connection to response. */
    timeoutMs: z.int().min(100).max(120_000).default(10_000),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.targets.forEach((t, i) => {
      if (seen.has(t.name)) {
        ctx.addIssue({ code: "custom", path: ["targets", i, "name"], message: `duplicate target name "${t.name}"` });
      }
      seen.add(t.name);
    });
  });

export type WebhookConfig = z.output<typeof WebhookConfigSchema>;
