import { z } from "zod";
import { NOTIFICATION_FREQUENCIES } from "../monitoring/settings-types";
import { CONNECTION_TYPES } from "./notification-config";
import { NTFY_PRIORITIES, TEMPLATE_KINDS, TEMPLATE_LANGUAGES } from "./templates";

/** Request and response schemas of the notification routes (reference §2.5, §2.6). */

export const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });
export const MessageBody = z.looseObject({ message: z.string() });

export const accessErrors = {
  401: { description: "Not logged in, or an invalid / revoked API token", schema: ErrorBody },
  403: { description: "Not allowed for this user or token scope (or a missing CSRF token)", schema: ErrorBody },
};

const noLineBreaks = (what: string) => z.string().regex(/^[^\r\n]*$/, { error: `${what} must be a single line` });

const isHttpUrl = (v: string): boolean => {
  try {
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
};

// ---- ntfy --------------------------------------------------------------------------------------------------------

export const NtfyInput = z.object({
  url: z
    .string({ error: "url must be a string" })
    .trim()
    .max(500, { error: "url must be at most 500 characters" })
    .refine((v) => v === "" || isHttpUrl(v), { error: "url must be an http:// or https:// URL" })
    .optional()
    .describe("ntfy server, default https://ntfy.sh/"),
  topic: z
    .string({ error: "topic must be a string" })
    .trim()
    .max(64, { error: "topic must be at most 64 characters" })
    .regex(/^[-_A-Za-z0-9]*$/, { error: "topic may only contain letters, digits, - and _" })
    .optional()
    .describe("Empty: a duplistatus-XXXXXXXXXXXX topic is generated"),
  accessToken: z
    .string({ error: "accessToken must be a string" })
    .max(1000, { error: "accessToken must be at most 1000 characters" })
    .optional()
    .describe('Omitted: the stored token is kept; "": the token is removed'),
});

export const NtfyView = z.object({ url: z.string(), topic: z.string(), hasAccessToken: z.boolean() });

export const NtfySaved = z.object({ message: z.string(), ntfy: NtfyView });

export const FrequencyValue = z.enum(NOTIFICATION_FREQUENCIES);

/** POST /api/configuration/notifications: the original's two bodies on one path (validated in the handler). */
export const NotificationsBodyDoc = z.union([
  z.object({ value: FrequencyValue }).describe("Re-notification frequency of overdue jobs"),
  z.object({ ntfy: NtfyInput }).describe("ntfy settings"),
]);
export const NotificationsBody = z.looseObject({ value: z.unknown().optional(), ntfy: z.unknown().optional() });

// ---- SMTP --------------------------------------------------------------------------------------------------------

const Bool = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")], {
  error: "must be true or false",
});

const Port = z
  .union([z.number(), z.string().trim().regex(/^\d+$/, { error: "port must be a number from 1 to 65535" })], {
    error: "port must be a number from 1 to 65535",
  })
  .transform(Number)
  .pipe(
    z
      .number()
      .int()
      .min(1, { error: "port must be a number from 1 to 65535" })
      .max(65535, { error: "port must be a number from 1 to 65535" }),
  );

const addresses = (v: string): string[] =>
  v
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");

const Mailto = z
  .string({ error: "mailto is required" })
  .trim()
  .min(1, { error: "mailto is required" })
  .max(2000, { error: "mailto must be at most 2000 characters" })
  .refine((v) => addresses(v).length > 0 && addresses(v).every((a) => /^[^\s@]+@[^\s@]+$/.test(a)), {
    error: "mailto must be an e-mail address (or several, separated by commas)",
  });

const SmtpFields = {
  host: z
    .string({ error: "host is required" })
    .trim()
    .min(1, { error: "host is required" })
    .max(255, { error: "host must be at most 255 characters" })
    .regex(/^[^\s/]+$/, { error: "host must be a host name or IP address" }),
  port: Port,
  connectionType: z
    .enum(CONNECTION_TYPES, { error: 'connectionType must be "plain", "starttls" or "ssl"' })
    .optional()
    .describe('Default: "ssl" when the legacy `secure` is true, else "starttls"'),
  secure: z.union([z.boolean(), z.string()]).optional().describe("Legacy: true means connectionType ssl"),
  username: noLineBreaks("username").max(320, { error: "username must be at most 320 characters" }).optional(),
  mailto: Mailto,
  senderName: noLineBreaks("senderName").max(200, { error: "senderName must be at most 200 characters" }).optional(),
  fromAddress: noLineBreaks("fromAddress")
    .max(320, { error: "fromAddress must be at most 320 characters" })
    .refine((v) => v.trim() === "" || /^[^\s@]+@[^\s@]+$/.test(v.trim()), {
      error: "fromAddress must be an e-mail address",
    })
    .optional(),
  requireAuth: Bool.optional().describe("Default true"),
};

type SmtpShape = {
  username?: string;
  fromAddress?: string;
  requireAuth?: boolean;
};

function checkSmtp(v: SmtpShape, ctx: z.RefinementCtx): void {
  const requireAuth = v.requireAuth !== false;
  const username = v.username?.trim() ?? "";
  if (requireAuth && username === "") {
    ctx.addIssue({ code: "custom", path: ["username"], message: "username is required when requireAuth is true" });
  }
  if (!(v.fromAddress?.trim() ?? "") && !username.includes("@")) {
    ctx.addIssue({
      code: "custom",
      path: ["fromAddress"],
      message: "fromAddress is required when the username is not an e-mail address",
    });
  }
}

export const SmtpBody = z
  .object({
    ...SmtpFields,
    password: z
      .string({ error: "password must be a string" })
      .max(1000, { error: "password must be at most 1000 characters" })
      .optional()
      .describe("Omitted: the stored password is kept"),
  })
  .superRefine(checkSmtp);
export type SmtpBodyInput = z.infer<typeof SmtpBody>;

export const SmtpConfigNoPassword = z.object(SmtpFields).superRefine(checkSmtp);

export const SmtpPasswordBody = z.object({
  password: z
    .string({ error: "password must be a string" })
    .max(1000, { error: "password must be at most 1000 characters" }),
  config: z
    .unknown()
    .optional()
    .describe("SMTP settings {host, port, mailto, …}; needed only when none are stored yet"),
});

export const SmtpView = z.object({
  host: z.string(),
  port: z.number(),
  connectionType: z.enum(CONNECTION_TYPES),
  username: z.string(),
  mailto: z.string(),
  senderName: z.string(),
  fromAddress: z.string(),
  requireAuth: z.boolean(),
  hasPassword: z.boolean(),
});

export const EmailConfigAnswer = z.object({
  configured: z.boolean(),
  config: SmtpView.nullable(),
  message: z.string(),
});

export const MasterKeyAnswer = z.looseObject({
  error: z.string(),
  masterKeyInvalid: z.literal(true),
  configured: z.literal(false),
  config: z.null(),
});

// ---- templates ---------------------------------------------------------------------------------------------------

export const TemplateSchema = z.object({
  title: z.string(),
  message: z.string(),
  priority: z.string(),
  tags: z.string(),
});

const TemplatePatch = z.object({
  title: noLineBreaks("title").max(250, { error: "title must be at most 250 characters" }).optional(),
  message: z
    .string({ error: "message must be a string" })
    .max(10_000, { error: "message must be at most 10000 characters" })
    .optional(),
  priority: z
    .enum(NTFY_PRIORITIES, { error: "priority must be min, low, default, high, max, urgent or 1–5" })
    .optional(),
  tags: noLineBreaks("tags").max(500, { error: "tags must be at most 500 characters" }).optional(),
});

const templateKindShape = Object.fromEntries(TEMPLATE_KINDS.map((k) => [k, TemplatePatch.optional()])) as Record<
  (typeof TEMPLATE_KINDS)[number],
  z.ZodOptional<typeof TemplatePatch>
>;

export const TemplatesBody = z.object({
  templates: z.object(
    {
      language: z
        .enum(TEMPLATE_LANGUAGES, { error: `language must be one of ${TEMPLATE_LANGUAGES.join(", ")}` })
        .optional(),
      ...templateKindShape,
    },
    { error: "templates must be an object" },
  ),
});

export const TemplateSetSchema = z.object(
  Object.fromEntries(TEMPLATE_KINDS.map((k) => [k, TemplateSchema])) as Record<
    (typeof TEMPLATE_KINDS)[number],
    typeof TemplateSchema
  >,
);

export const TemplateSettingsSchema = TemplateSetSchema.extend({ language: z.string() });

export const DefaultsQuery = z.object({
  language: z
    .string()
    .max(20)
    .optional()
    .describe(`One of ${TEMPLATE_LANGUAGES.join(", ")} (default en-GB)`),
});

// ---- test send ---------------------------------------------------------------------------------------------------

export const TestBody = z.object({
  type: z.enum(["simple", "template", "email"], { error: 'type must be "simple", "template" or "email"' }),
  ntfyConfig: z
    .object({
      url: z.string().max(500).optional(),
      topic: z.string().max(64).optional(),
      accessToken: z.string().max(1000).optional().describe("Omitted: the stored token is used"),
    })
    .optional(),
  template: z
    .object({
      title: z.string().max(250).optional(),
      message: z.string().max(10_000).optional(),
      priority: z.string().max(20).optional(),
      tags: z.string().max(500).optional(),
    })
    .optional(),
  toEmail: z.string().max(320).optional(),
});
