import http from "node:http";
import https from "node:https";

/** Why a request to a Duplicati server failed, as the API reports it. */
export type DuplicatiFailure = "auth" | "unreachable" | "timeout" | "not-duplicati" | "api";

/** A failed exchange with a Duplicati server: `kind` decides the HTTP status, `message` is for the user. */
export class DuplicatiError extends Error {
  constructor(
    readonly kind: DuplicatiFailure,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

export interface HttpReply {
  status: number;
  contentType: string;
  text: string;
}

export interface RequestOptions {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Aborts the request (the application is stopping). */
  signal?: AbortSignal;
}

/** Backup logs with pagesize=999 can be large, but not this large. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/** Errors from the socket layer, with the code (ECONNREFUSED, ENOTFOUND, EPROTO…) when there is one. */
function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e?.code ?? e?.cause?.code;
  const message = (e instanceof Error ? e.message : String(err)).replace(/\s+/g, " ").trim();
  // OpenSSL's texts are long and cryptic: keep the reason ("wrong version number" = not TLS on that port).
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(message);
  if (ssl) return `${code ?? "EPROTO"}: TLS handshake failed (${ssl[1]})`;
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * One HTTP(S) request to a Duplicati server with a hard timeout over the whole exchange (connect, headers, body).
 * HTTPS accepts self-signed certificates: Duplicati generates one for its web UI, and these calls only ever go to
 * the address an administrator typed in. Rejects with DuplicatiError "timeout" or "unreachable".
 */
export function requestOnce(url: URL, options: RequestOptions): Promise<HttpReply> {
  const transport = url.protocol === "https:" ? https : http;
  return new Promise<HttpReply>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const req = transport.request(
      url,
      {
        method: options.method ?? "GET",
        headers: { Accept: "application/json", ...options.headers },
        // Only for these calls: no shared agent, so the relaxed certificate check cannot leak into other requests.
        agent: false,
        ...(url.protocol === "https:" ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY_BYTES) {
            req.destroy(new Error(`reply larger than ${MAX_REPLY_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () =>
          finish(() =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: String(res.headers["content-type"] ?? ""),
              text: Buffer.concat(chunks).toString("utf8"),
            }),
          ),
        );
        res.on("error", (err) => finish(() => reject(new DuplicatiError("unreachable", describe(err)))));
      },
    );
    const timer = setTimeout(() => {
      finish(() => reject(new DuplicatiError("timeout", `no answer within ${options.timeoutMs} ms`)));
      req.destroy();
    }, options.timeoutMs);
    const onAbort = () => {
      finish(() => reject(new DuplicatiError("unreachable", "request cancelled: the server is stopping")));
      req.destroy();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => finish(() => reject(new DuplicatiError("unreachable", describe(err)))));
    if (options.body !== undefined) {
      req.setHeader("Content-Type", "application/json");
      req.setHeader("Content-Length", Buffer.byteLength(options.body));
      req.end(options.body);
    } else {
      req.end();
    }
  });
}

/** Parses a JSON reply, or undefined when it is not JSON. */
export function jsonOf(reply: HttpReply): unknown {
  try {
    return JSON.parse(reply.text) as unknown;
  } catch {
    return undefined;
  }
}

/** "host:port" with brackets around an IPv6 address. */
export function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}
