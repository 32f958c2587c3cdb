import { setTimeout as sleep } from "node:timers/promises";

/**
 * Publishing to ntfy (reference §6.4): `POST <url>/<topic>` with the title, priority and tags as query parameters
 * and the message as a UTF-8 text body; `Authorization: Bearer <token>` when a token is set.
 *
 * Query parameters rather than the X-Title / X-Priority / X-Tags headers: HTTP header values are Latin-1, and the
 * titles carry emoji and any language's text (ntfy would need RFC 2047 encoding in a header), while a URL parameter
 * is plain percent-encoded UTF-8. It is also what the original sends, so existing ntfy setups see the same requests.
 *
 * Only network failures are retried (refused, reset, unresolvable, timed out): an ntfy server that answers, even
 * with an error, has decided, and asking again would not change its answer.
 */

export interface NtfyTarget {
  url: string;
  topic: string;
  /** "" for none. */
  accessToken: string;
}

export interface NtfyMessage {
  title: string;
  message: string;
  priority: string;
  tags: string;
}

export interface NtfyOptions {
  /** Tries in all (default 5). */
  attempts: number;
  /** Wait between tries after a network failure (default 3 s). */
  retryDelayMs: number;
  /** Limit for one try, connection to response (default 10 s). */
  timeoutMs: number;
  /** Aborts the send, including a wait between tries. */
  signal?: AbortSignal;
}

export const NTFY_DEFAULTS: NtfyOptions = { attempts: 5, retryDelayMs: 3_000, timeoutMs: 10_000 };

export class NtfyError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The publish URL: the server URL without trailing slashes, the topic, and the non-empty parameters. */
export function ntfyPublishUrl(target: Pick<NtfyTarget, "url" | "topic">, msg: Omit<NtfyMessage, "message">): URL {
  const url = new URL(`${target.url.replace(/\/+$/, "")}/${encodeURIComponent(target.topic)}`);
  if (msg.title.trim()) url.searchParams.set("title", msg.title);
  if (msg.priority.trim()) url.searchParams.set("priority", msg.priority.trim());
  // "duplicati, duplistatus, success" → "duplicati,duplistatus,success" (ntfy's own list form).
  const tags = msg.tags
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "")
    .join(",");
  if (tags) url.searchParams.set("tags", tags);
  return url;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === "object"; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

const isTimeout = (err: unknown): boolean => err instanceof Error && err.name === "TimeoutError";

/** A failure worth another try: no answer came back. */
export function isNetworkError(err: unknown): boolean {
  if (isTimeout(err)) return true;
  const code = errorCode(err);
  return code !== undefined && NETWORK_CODES.has(code);
}

function describeNetworkError(err: unknown, origin: string): string {
  const code = errorCode(err);
  if (isTimeout(err)) return `The ntfy server at ${origin} did not answer in time`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `Cannot resolve the ntfy server's host name (${origin})`;
  if (code === "ECONNREFUSED") return `Cannot connect to the ntfy server at ${origin} (connection refused)`;
  if (code && /CERT|SSL|TLS/i.test(code)) return `TLS certificate error with the ntfy server at ${origin} (${code})`;
  const message = err instanceof Error ? err.message : String(err);
  return `Network error with the ntfy server at ${origin}: ${code ?? message}`;
}

async function describeHttpError(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { code?: unknown; error?: unknown };
    if (body.code === 42901) return "ntfy is rate limiting this sender (HTTP 429); try again later";
    if (typeof body.error === "string") return `ntfy answered ${res.status}: ${body.error}`;
  } catch {
    // not JSON: fall through
  }
  return `ntfy answered ${res.status} ${res.statusText}`.trim();
}

/** Publishes one message. Resolves with the number of tries it took; rejects with an NtfyError. */
export async function sendNtfy(
  target: NtfyTarget,
  msg: NtfyMessage,
  options: Partial<NtfyOptions> = {},
): Promise<{ attempts: number }> {
  const opts = { ...NTFY_DEFAULTS, ...options };
  if (!target.url.trim() || !target.topic.trim()) throw new NtfyError("NTFY URL and topic are required", 0);
  let url: URL;
  try {
    url = ntfyPublishUrl(target, msg);
  } catch {
    throw new NtfyError(`Invalid ntfy URL: ${target.url}`, 0);
  }
  const headers: Record<string, string> = { "Content-Type": "text/plain; charset=utf-8" };
  if (target.accessToken.trim()) headers.Authorization = `Bearer ${target.accessToken.trim()}`;
  const body = Buffer.from(msg.message, "utf8");
  const attempts = Math.max(1, opts.attempts);

  for (let attempt = 1; ; attempt++) {
    const signals = [AbortSignal.timeout(opts.timeoutMs), ...(opts.signal ? [opts.signal] : [])];
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.any(signals) });
    } catch (err) {
      if (opts.signal?.aborted) throw new NtfyError("Sending to ntfy was cancelled", attempt);
      if (!isNetworkError(err) || attempt >= attempts) {
        throw new NtfyError(
          `${describeNetworkError(err, url.origin)}${attempt > 1 ? ` (after ${attempt} tries)` : ""}`,
          attempt,
        );
      }
      try {
        await sleep(opts.retryDelayMs, undefined, opts.signal ? { signal: opts.signal } : undefined);
      } catch {
        throw new NtfyError("Sending to ntfy was cancelled", attempt);
      }
      continue;
    }
    if (!res.ok) throw new NtfyError(await describeHttpError(res), attempt, res.status);
    await res.arrayBuffer().catch(() => undefined);
    return { attempts: attempt };
  }
}
