import http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerSession } from "smtp-server";
import { expect } from "chai";
import type { BrowserSession } from "../support/auth";

/**
 * Real stand-ins for the notification channels: an HTTP receiver playing ntfy, and an SMTP server (the
 * smtp-server package, with its built-in self-signed certificate for STARTTLS and SSL) that keeps what it receives.
 */

export interface NtfyRequest {
  method: string;
  /** Path without the query, e.g. /my-topic */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface NtfyReceiver {
  url: string;
  requests: NtfyRequest[];
  /** Status the receiver answers (200 by default). */
  status: number;
  close(): Promise<void>;
}

export async function startNtfyReceiver(): Promise<NtfyReceiver> {
  const requests: NtfyRequest[] = [];
  const receiver = { status: 200 } as NtfyReceiver;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://receiver");
      requests.push({
        method: req.method ?? "",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.statusCode = receiver.status;
      res.setHeader("content-type", "application/json");
      res.end(
        receiver.status === 200 ? '{"id":"x","event":"message"}' : '{"code":40301,"http":403,"error":"forbidden"}',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---- SMTP --------------------------------------------------------------------------------------------------------

export interface ReceivedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  /** The session was TLS (STARTTLS or implicit). */
  secure: boolean;
  user: string | null;
  headers: Map<string, string>;
  subject: string;
  from: string;
  to: string;
  text: string;
  html: string;
}

export interface SmtpSink {
  port: number;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

export async function startSmtpServer(
  options: { ssl?: boolean; auth?: { user: string; pass: string } } = {},
): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    secure: options.ssl === true,
    authOptional: !options.auth,
    allowInsecureAuth: false,
    disableReverseLookup: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        callback(null, { user: auth.username });
      } else callback(new Error("Invalid username or password"));
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push(parseMail(Buffer.concat(chunks).toString("latin1"), session));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

// A small MIME reader: enough for what nodemailer writes (headers with RFC 2047 words, multipart/alternative,
// quoted-printable / base64 / 7bit parts).

function splitHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return headers;
}

const latin1Bytes = (s: string): Buffer => Buffer.from(s, "latin1");

function decodeQp(body: string): Buffer {
  const soft = body.replace(/=\r?\n/g, "");
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(soft.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes);
}

/** Decodes RFC 2047 encoded words (adjacent words joined before decoding, so split characters survive). */
export function decodeWords(value: string): string {
  const WORD = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g;
  const joined = value.replace(/\?=\s+=\?/g, "?==?");
  let out = "";
  let last = 0;
  let pending: Buffer[] = [];
  const flush = () => {
    if (pending.length) out += Buffer.concat(pending).toString("utf8");
    pending = [];
  };
  for (const m of joined.matchAll(WORD)) {
    const idx = m.index ?? 0;
    if (idx > last) {
      flush();
      out += joined.slice(last, idx);
    }
    const data = m[3] ?? "";
    pending.push((m[2] ?? "").toUpperCase() === "B" ? Buffer.from(data, "base64") : decodeQp(data.replace(/_/g, " ")));
    last = idx + m[0].length;
  }
  flush();
  return out + joined.slice(last);
}

function decodePart(headers: Map<string, string>, body: string): string {
  const cte = (headers.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  const bytes =
    cte === "quoted-printable"
      ? decodeQp(body)
      : cte === "base64"
        ? Buffer.from(body.replace(/\s+/g, ""), "base64")
        : latin1Bytes(body);
  return bytes.toString("utf8").replace(/\r\n/g, "\n");
}

function parseMail(raw: string, session: SMTPServerSession): ReceivedMail {
  const split = raw.indexOf("\r\n\r\n");
  const headers = splitHeaders(raw.slice(0, split));
  const body = raw.slice(split + 4);
  let text = "";
  let html = "";
  const type = headers.get("content-type") ?? "text/plain";
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  const parts = boundary
    ? body
        .split(`--${boundary}`)
        .slice(1)
        .filter((p) => !p.startsWith("--"))
    : [raw.slice(0, split) + "\r\n\r\n" + body];
  for (const part of parts) {
    const p = part.replace(/^\r\n/, "");
    const end = p.indexOf("\r\n\r\n");
    const h = splitHeaders(p.slice(0, end));
    const content = decodePart(h, p.slice(end + 4).replace(/\r\n$/, ""));
    const ct = h.get("content-type") ?? "";
    if (ct.startsWith("text/plain")) text = content;
    else if (ct.startsWith("text/html")) html = content;
  }
  return {
    envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
    envelopeTo: session.envelope.rcptTo.map((r) => r.address),
    secure: session.secure,
    user: typeof session.user === "string" ? session.user : null,
    headers,
    subject: decodeWords(headers.get("subject") ?? ""),
    from: decodeWords(headers.get("from") ?? ""),
    to: decodeWords(headers.get("to") ?? ""),
    text,
    html,
  };
}

// ---- API helpers -------------------------------------------------------------------------------------------------

export async function expectStatus(res: Response, status: number): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect(res.status, `${res.url}: ${text}`).to.equal(status);
  return JSON.parse(text) as Record<string, unknown>;
}

export interface AuditRow {
  action: string;
  category: string;
  status: string;
  username: string | null;
  targetId: string | null;
  details: Record<string, unknown> | null;
  errorMessage: string | null;
}

export async function auditRows(admin: BrowserSession, action: string): Promise<AuditRow[]> {
  const res = await admin.request(`/api/audit-log?action=${encodeURIComponent(action)}&limit=500`);
  const body = (await expectStatus(res, 200)) as { logs: Array<Record<string, unknown>> };
  return body.logs.map((l) => ({
    action: String(l.action),
    category: String(l.category),
    status: String(l.status),
    username: (l.username as string | null) ?? null,
    targetId: (l.targetId as string | null) ?? (l.target_id as string | null) ?? null,
    details: (typeof l.details === "string" ? JSON.parse(l.details) : l.details) as Record<string, unknown> | null,
    errorMessage: (l.errorMessage as string | null) ?? (l.error_message as string | null) ?? null,
  }));
}

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 5000, what = "condition"): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
