import type { WebhookRequest } from "./presets";

export interface DeliveryOptions {
  /** Tries in all. */
  attempts: number;
  /** Wait before the first retry; doubled before each further one. */
  retryDelayMs: number;
  /** Limit of one try. */
  timeoutMs: number;
  /** Ends the delivery, including a wait between tries (the plugin stopping). */
  signal?: AbortSignal;
}

/** A delivery that did not succeed. The message never contains the URL or a header value (they may be secret). */
export class WebhookError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Why a fetch threw, without the URL: network errors (retried) or a request that cannot be made (final). */
function failure(err: unknown, timeoutMs: number): { reason: string; retriable: boolean } {
  const e = err as { name?: string; message?: string; cause?: { code?: unknown; name?: string } };
  if (e?.name === "TimeoutError" || e?.cause?.name === "TimeoutError") {
    return { reason: `no answer within ${timeoutMs} ms`, retriable: true };
  }
  if (typeof e?.cause?.code === "string") return { reason: `network error (${e.cause.code})`, retriable: true };
  if (e?.message === "fetch failed") return { reason: "network error", retriable: true };
  return { reason: "the request could not be made (invalid URL or header)", retriable: false };
}

/**
 * Sends one webhook request: network errors and 5xx answers are tried again (up to `attempts`, waiting
 * retryDelayMs, 2×, 4×… in between); a 2xx answer is success; any other answer (4xx, or a redirect, which is not
 * followed so secret headers never reach another host) is final at once.
 */
export async function deliver(
  req: WebhookRequest,
  options: DeliveryOptions,
): Promise<{ status: number; attempts: number }> {
  const attempts = Math.max(1, Math.floor(options.attempts));
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new WebhookError("cancelled: the plugin stopped", attempt - 1);
    let reason: string;
    let retriable: boolean;
    let status: number | undefined;
    try {
      new URL(req.url);
    } catch {
      throw new WebhookError("the request could not be made (invalid URL)", attempt - 1);
    }
    try {
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        redirect: "manual",
        signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
      });
      // Read (and drop) the answer so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { status: res.status, attempts: attempt };
      status = res.status;
      reason = `HTTP ${res.status}`;
      retriable = res.status >= 500;
    } catch (err) {
      if (options.signal?.aborted) throw new WebhookError("cancelled: the plugin stopped", attempt);
      ({ reason, retriable } = failure(err, options.timeoutMs));
    }
    if (!retriable || attempt >= attempts) {
      throw new WebhookError(attempt > 1 ? `${reason} (after ${attempt} attempts)` : reason, attempt, status);
    }
    await sleep(options.retryDelayMs * 2 ** (attempt - 1), options.signal);
  }
}
