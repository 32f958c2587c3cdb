import type { SMTPTransportOptions } from "nodemailer";
import type { SmtpConfig } from "./notification-config";

/**
 * Sending e-mail through SMTP with nodemailer (reference §6.5). SMTP (greeting, EHLO, STARTTLS, AUTH mechanisms,
 * dot-stuffing, MIME and header encoding) is left to that well-kept library; this file only maps our settings to
 * its options and its errors to sentences an admin can act on.
 *
 * Connection types: plain = no TLS at all (STARTTLS is not tried even when offered); starttls = the upgrade is
 * required (fails when the server does not offer it); ssl = implicit TLS from the first byte (port 465). With TLS,
 * at least TLS 1.2 and self-signed certificates are accepted, as in the original (home servers rarely have a
 * public certificate).
 */

export const SMTP_TIMEOUT_MS = 20_000;

/** nodemailer (about 12 MB resident) is loaded when the first message is sent, not when the server starts. */
function loadNodemailer(): typeof import("nodemailer") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("nodemailer") as typeof import("nodemailer");
}

export interface EmailMessage {
  /** One address or a comma-separated list. */
  to: string;
  subject: string;
  text: string;
}

export class EmailError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export function transportOptions(cfg: SmtpConfig, timeoutMs = SMTP_TIMEOUT_MS): SMTPTransportOptions {
  const tls = { rejectUnauthorized: false, minVersion: "TLSv1.2" as const };
  const base: SMTPTransportOptions = {
    host: cfg.host,
    port: cfg.port,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    ...(cfg.requireAuth ? { auth: { user: cfg.username, pass: cfg.password } } : {}),
  };
  switch (cfg.connectionType) {
    case "plain":
      return { ...base, secure: false, ignoreTLS: true };
    case "starttls":
      return { ...base, secure: false, requireTLS: true, tls };
    case "ssl":
      return { ...base, secure: true, tls };
  }
}

/** `"<sender name or duplistatus>" <from address or username>`; throws when neither is an address. */
export function fromOf(cfg: SmtpConfig): { name: string; address: string } {
  const address = (cfg.fromAddress.trim() || cfg.username.trim()).trim();
  if (!address.includes("@")) {
    throw new EmailError(
      "No sender address: set a From address in the e-mail settings (the SMTP username is not an e-mail address)",
      "ECONFIG",
    );
  }
  return { name: cfg.senderName.trim() || "duplistatus", address };
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

/**
 * A simple HTML version of a text message: the text escaped, URLs made links, line breaks kept, **bold** and
 * *italic* marked up (the original's conventions). The text is escaped first, so backup names or log lines can
 * never inject markup.
 */
export function textToHtml(text: string): string {
  const body = escapeHtml(text)
    .replace(/(https?:\/\/[^\s<>"']+)/g, '<a href="$1">$1</a>')
    .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\n]+)\*(?!\*)/g, "$1<em>$2</em>")
    .replace(/\r?\n/g, "<br>\n");
  return `<!DOCTYPE html>\n<html><body style="font-family: sans-serif; font-size: 14px; line-height: 1.4">\n${body}\n</body></html>\n`;
}

function describe(err: unknown, cfg: SmtpConfig): EmailError {
  const e = err as { code?: string; message?: string; responseCode?: number };
  const where = `${cfg.host}:${cfg.port}`;
  const detail = e.message ?? String(err);
  switch (e.code) {
    case "EAUTH":
      return new EmailError(`The SMTP server at ${where} refused the username or password (${detail})`, e.code);
    case "ENOAUTH":
      return new EmailError("The SMTP server needs a username and password, and none are set", e.code);
    case "ETLS":
      return new EmailError(
        cfg.connectionType === "starttls"
          ? `The SMTP server at ${where} does not offer STARTTLS, or the upgrade failed; try "ssl" or "plain" (${detail})`
          : `TLS with the SMTP server at ${where} failed (${detail})`,
        e.code,
      );
    case "EDNS":
      return new EmailError(`Cannot resolve the SMTP server's host name ${cfg.host} (${detail})`, e.code);
    case "ETIMEDOUT":
      return new EmailError(`The SMTP server at ${where} did not answer in time`, e.code);
    case "ESOCKET":
    case "ECONNECTION":
      return new EmailError(
        cfg.connectionType === "ssl"
          ? `Cannot open an SSL/TLS connection to ${where}; the server may expect "starttls" or "plain" (${detail})`
          : `Cannot connect to the SMTP server at ${where} (${detail})`,
        e.code,
      );
    case "EENVELOPE":
      return new EmailError(`The SMTP server refused the sender or a recipient (${detail})`, e.code);
    default:
      return new EmailError(`Sending e-mail through ${where} failed: ${detail}`, e.code);
  }
}

/** Sends one message; rejects with an EmailError whose message never contains the password. */
export async function sendEmail(
  cfg: SmtpConfig,
  msg: EmailMessage,
  options: { timeoutMs?: number } = {},
): Promise<{ messageId: string }> {
  const from = fromOf(cfg);
  if (!msg.to.includes("@")) throw new EmailError("No recipient address", "EENVELOPE");
  const transporter = loadNodemailer().createTransport(transportOptions(cfg, options.timeoutMs));
  try {
    const info = await transporter.sendMail({
      from,
      to: msg.to,
      subject: msg.subject,
      text: msg.text,
      html: textToHtml(msg.text),
    });
    return { messageId: String(info.messageId ?? "") };
  } catch (err) {
    const described = describe(err, cfg);
    throw cfg.password
      ? new EmailError(described.message.split(cfg.password).join("[redacted]"), described.code)
      : described;
  } finally {
    transporter.close();
  }
}
