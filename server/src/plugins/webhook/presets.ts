import { renderText } from "../api";
import { TELEGRAM_API, type WebhookTarget } from "./schema";

/** What a delivery says, whatever the target: built once per event, then shaped per preset. */
export interface WebhookMessage {
  /** The event name, or "test" for a test send. */
  event: string;
  /** The notification template used (success, warning, overdueBackup, overdueCleared), or null. */
  kind: string | null;
  title: string;
  message: string;
  /** ntfy-style priority of the template (min, low, default, high, max/urgent, 1–5). */
  priority: string;
  tags: string;
  severity: Severity;
  /** The notification template variables of the event. */
  variables: Record<string, string>;
  /** The event payload (sent as event_json / data). */
  payload: unknown;
}

export type Severity = "info" | "success" | "warning" | "failure";

export interface WebhookRequest {
  url: string;
  method: "POST" | "PUT" | "PATCH";
  headers: Record<string, string>;
  body: string;
}

const COLORS: Record<Severity, number> = {
  info: 0x3b82f6,
  success: 0x2eb886,
  warning: 0xf5a623,
  failure: 0xd0021b,
};

/** Gotify priorities (0–10) for the template priorities. */
const GOTIFY_PRIORITY: Record<string, number> = {
  min: 1,
  "1": 1,
  low: 3,
  "2": 3,
  default: 5,
  "3": 5,
  high: 8,
  "4": 8,
  max: 10,
  urgent: 10,
  "5": 10,
};

export const gotifyPriority = (priority: string): number => GOTIFY_PRIORITY[priority.trim().toLowerCase()] ?? 5;

/** At most `max` characters (UTF-16 units), the last one an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const trimSlash = (url: string): string => url.replace(/\/+$/, "");

/** The variables a body template can use: the notification variables plus the message and the event. */
export function templateVariables(msg: WebhookMessage, json: boolean): Record<string, string> {
  const plain: Record<string, string> = {
    ...msg.variables,
    event: msg.event,
    title: msg.title,
    message: msg.message,
    priority: msg.priority,
    tags: msg.tags,
    severity: msg.severity,
  };
  const out: Record<string, string> = {};
  // In a JSON template the placeholders sit inside quotes: the values are escaped as JSON string content.
  for (const [k, v] of Object.entries(plain)) out[k] = json ? JSON.stringify(String(v)).slice(1, -1) : String(v);
  out.event_json = JSON.stringify(msg.payload ?? null);
  return out;
}

function jsonBody(target: WebhookTarget, msg: WebhookMessage): unknown {
  const { title, message } = msg;
  switch (target.preset) {
    case "discord":
      // Discord: content up to 2000 characters, an embed description up to 4096.
      return {
        content: truncate(title, 2000),
        embeds: [{ description: truncate(message, 4096), color: COLORS[msg.severity] }],
      };
    case "slack":
      return { text: truncate(`*${title}*\n${message}`, 3900) };
    case "teams":
      // A Teams "Workflows" webhook (Power Automate) takes an Adaptive Card in a message envelope.
      return {
        type: "message",
        attachments: [
          {
            contentType: "application/vnd.microsoft.card.adaptive",
            contentUrl: null,
            content: {
              $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
              type: "AdaptiveCard",
              version: "1.4",
              body: [
                { type: "TextBlock", text: title, weight: "Bolder", size: "Medium", wrap: true },
                // TextBlocks read Markdown: a single line break needs an empty line to show.
                { type: "TextBlock", text: message.replace(/\n/g, "\n\n"), wrap: true },
              ],
            },
          },
        ],
      };
    case "gotify":
      return { title, message, priority: gotifyPriority(msg.priority) };
    case "telegram":
      return { chat_id: target.chatId ?? "", text: truncate(`${title}\n\n${message}`, 4096) };
    case "apprise":
      return { title, body: message, type: msg.severity };
    case "generic":
    default:
      return {
        event: msg.event,
        title,
        message,
        severity: msg.severity,
        priority: msg.priority,
        tags: msg.tags,
        variables: msg.variables,
        data: msg.payload ?? null,
      };
  }
}

function presetUrl(target: WebhookTarget): string {
  const base = target.url ?? "";
  switch (target.preset) {
    case "telegram":
      return `${trimSlash(base || TELEGRAM_API)}/bot${target.token ?? ""}/sendMessage`;
    case "gotify":
      return /\/message\/?$/.test(base) ? base : `${trimSlash(base)}/message`;
    default:
      return base;
  }
}

/** The exact HTTP request a target gets for a message. */
export function buildRequest(target: WebhookTarget, msg: WebhookMessage, version: string): WebhookRequest {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": `duplistatus/${version}`,
  };
  if (target.preset === "gotify") headers["X-Gotify-Key"] = target.token ?? "";
  // The target's own headers win (matched without regard to case).
  for (const [name, value] of Object.entries(target.headers ?? {})) {
    for (const existing of Object.keys(headers))
      if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
    headers[name] = value;
  }
  const contentType = Object.entries(headers).find(([k]) => k.toLowerCase() === "content-type")?.[1] ?? "";
  const json = /json/i.test(contentType);
  const body =
    target.bodyTemplate !== undefined
      ? renderText(target.bodyTemplate, templateVariables(msg, json))
      : JSON.stringify(jsonBody(target, msg));
  return {
    url: presetUrl(target),
    method: target.preset === "generic" ? target.method : "POST",
    headers,
    body,
  };
}
