import Router from "@koa/router";
import Koa from "koa";
import { HttpMethodEnum, koaBody } from "koa-body";
import type { z } from "zod";
import { HttpError } from "../core/errors";
import type { Logger } from "../core/logger";
import type { AccessPolicy } from "./access";
import { createDispatcher } from "./dispatch";
import { multipartBodyParser } from "./multipart";
import type { RouteDef } from "./route";

export interface HttpAppOptions {
  routes: readonly RouteDef[];
  access: AccessPolicy;
  trustProxy: boolean;
  log: Logger;
  isDevelopment: boolean;
  validateResponses: boolean;
  uploadMaxBytes: number;
  jsonMaxBytes: number;
}

const NO_CACHE: ReadonlyArray<readonly [string, string]> = [
  ["Cache-Control", "no-store, no-cache, must-revalidate"],
  ["Pragma", "no-cache"],
];

/** Headers for a JSON API that no browser should frame, sniff or cache with credentials. */
const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "DENY"],
  ["Referrer-Policy", "no-referrer"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
  ["Cross-Origin-Resource-Policy", "same-origin"],
];
const HSTS = "max-age=31536000; includeSubDomains";

/** Koa's Content-Type for a JSON body (mime-types' contentType("json")). */
const JSON_TYPE = "application/json; charset=utf-8";

/** A body Koa serializes as JSON: a plain object or an array (not a Buffer, stream, Blob or Response). */
const isPlainJson = (body: unknown): boolean =>
  typeof body === "object" &&
  body !== null &&
  (Array.isArray(body) || Object.getPrototypeOf(body) === Object.prototype);

/** Sets constant headers straight on the response (what ctx.set does, without its argument handling per call). */
function setHeaders(ctx: Koa.Context, headers: ReadonlyArray<readonly [string, string]>): void {
  const res = ctx.res;
  if (res.headersSent) return;
  for (const [name, value] of headers) res.setHeader(name, value);
}

/** Query parameters that carry secrets never reach the logs. */
const SECRET_QUERY = /([?&](?:token|api_key|apikey|password)=)[^&]*/gi;

function zodIssues(err: z.ZodError): Array<{ field: string; message: string }> {
  return err.issues.map((i) => ({ field: i.path.map(String).join("."), message: i.message }));
}

/** Maps errors from the body parser (co-body / raw-body) to clear 4xx bodies. */
function bodyParserError(
  err: { status?: number; type?: string; message?: string; code?: string },
  limit: number,
): HttpError | null {
  if (err.status === 413 || err.type === "entity.too.large") {
    return new HttpError(413, { error: "Request body too large", message: `The limit is ${limit} bytes` });
  }
  if (err.type === "encoding.unsupported" || err.status === 415) {
    return new HttpError(415, { error: "Unsupported content encoding" });
  }
  if (err.status === 400) {
    return new HttpError(400, { error: "Invalid JSON", message: "The request body is not valid JSON" });
  }
  if (err.type === "request.aborted") return new HttpError(400, { error: "Request aborted" });
  // A body declared gzip/deflate that does not decompress (zlib's Z_DATA_ERROR, Z_BUF_ERROR, …) is the client's fault.
  if (typeof err.code === "string" && err.code.startsWith("Z_")) {
    return new HttpError(400, {
      error: "Invalid compressed body",
      message: "The request body could not be decompressed",
    });
  }
  return null;
}

function uploadBodyParser(limit: number): Koa.Middleware {
  const parse = koaBody({
    json: true,
    jsonStrict: false,
    urlencoded: true,
    text: true,
    multipart: false,
    jsonLimit: limit,
    formLimit: limit,
    textLimit: limit,
  });
  return async (ctx, next) => {
    // Some senders post the report without a content type, or as text/plain: read those as text, then as JSON.
    if (!ctx.get("content-type")) ctx.request.headers["content-type"] = "text/plain";
    try {
      await parse(ctx, async () => undefined);
    } catch (err) {
      throw bodyParserError(err as { status?: number }, limit) ?? err;
    }
    const raw: unknown = ctx.request.body;
    const body = ctx.request as { body: unknown };
    // Only a body read as text is JSON still to decode; a JSON body that is a string literal stays a string
    // (and is then refused as "not an object") instead of being decoded a second time.
    if (typeof raw === "string" && ctx.is("text/*")) body.body = parseJsonText(raw);
    else if (ctx.is("urlencoded") && raw && typeof raw === "object") {
      // Duplicati's form variant: message=<json report>
      const message = (raw as Record<string, unknown>).message;
      if (typeof message === "string") body.body = parseJsonText(message);
    }
    await next();
  };
}

function parseJsonText(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, { error: "Invalid JSON", message: "The request body is not valid JSON" });
  }
}

function jsonBodyParser(limit: number): Koa.Middleware {
  // DELETE too: koa-body skips it by default, but a route that asks for "json" (delete-job) takes a JSON body.
  const parsedMethods = [HttpMethodEnum.POST, HttpMethodEnum.PUT, HttpMethodEnum.PATCH, HttpMethodEnum.DELETE];
  const parse = koaBody({
    json: true,
    jsonStrict: false,
    urlencoded: false,
    text: false,
    jsonLimit: limit,
    parsedMethods,
  });
  return async (ctx, next) => {
    try {
      await parse(ctx, async () => undefined);
    } catch (err) {
      throw bodyParserError(err as { status?: number }, limit) ?? err;
    }
    await next();
  };
}

function routeMiddleware(route: RouteDef, opts: HttpAppOptions): Koa.Middleware[] {
  const chain: Koa.Middleware[] = [];
  chain.push((ctx, next) => {
    ctx.state.route = route;
    if (route.rateLimit) {
      const retryAfter = route.rateLimit.hit(ctx.ip);
      if (retryAfter > 0) {
        ctx.set("Retry-After", String(retryAfter));
        throw new HttpError(429, { error: "Too many requests", message: `Retry after ${retryAfter} s`, retryAfter });
      }
    }
    // The policy may decide without waiting (public routes, open reads): no extra turn of the microtask queue then.
    const checked = opts.access.check(ctx, route.access);
    return checked ? checked.then(() => next()) : next();
  });
  const parser = route.bodyParser ?? (route.method === "get" || route.method === "delete" ? "none" : "json");
  if (parser === "upload") chain.push(uploadBodyParser(opts.uploadMaxBytes));
  else if (parser === "json") chain.push(jsonBodyParser(opts.jsonMaxBytes));
  else if (parser === "multipart") {
    if (!route.multipart) throw new Error(`${route.path}: bodyParser "multipart" needs route.multipart`);
    chain.push(multipartBodyParser(route.multipart));
  }

  chain.push(async (ctx) => {
    const params = route.params ? route.params.safeParse(ctx.params) : { success: true as const, data: ctx.params };
    if (!params.success)
      throw new HttpError(400, { error: "Invalid path parameters", invalidFields: zodIssues(params.error) });
    const query = route.query ? route.query.safeParse(ctx.query) : { success: true as const, data: ctx.query };
    if (!query.success)
      throw new HttpError(400, { error: "Invalid query parameters", invalidFields: zodIssues(query.error) });
    const body = route.body
      ? route.body.safeParse(ctx.request.body)
      : { success: true as const, data: ctx.request.body };
    if (!body.success) {
      throw new HttpError(400, {
        error: "Invalid request body",
        message: zodIssues(body.error)
          .map((i) => `${i.field || "body"}: ${i.message}`)
          .join("; "),
        invalidFields: zodIssues(body.error),
      });
    }
    const result = await route.handler(ctx, { params: params.data, query: query.data, body: body.data });
    const status = result.status ?? 200;
    if (opts.validateResponses) {
      const schema = route.responses[status]?.schema;
      if (!route.responses[status]) {
        throw new Error(`Route ${route.method.toUpperCase()} ${route.path} answered undeclared status ${status}`);
      }
      const check = schema?.safeParse(result.body);
      if (check && !check.success) {
        throw new Error(
          `Response of ${route.method.toUpperCase()} ${route.path} does not match its schema: ${JSON.stringify(zodIssues(check.error))}`,
        );
      }
    }
    ctx.status = status;
    if (route.noCache) setHeaders(ctx, NO_CACHE);
    if (result.headers) ctx.set(result.headers);
    // The type Koa would give a JSON body, set here so that it does not look it up again for every response.
    if (isPlainJson(result.body) && !ctx.res.hasHeader("content-type")) ctx.res.setHeader("Content-Type", JSON_TYPE);
    ctx.body = result.body;
  });
  return chain;
}

/** The security headers; HSTS only when the request arrived over HTTPS (directly or via a trusted proxy). */
function setSecurityHeaders(ctx: Koa.Context): void {
  setHeaders(ctx, SECURITY_HEADERS);
  if (ctx.secure) ctx.set("Strict-Transport-Security", HSTS);
}

/** The URL as logged: the values of secret query parameters replaced. */
const loggedUrl = (url: string): string => (url.includes("?") ? url.replace(SECRET_QUERY, "$1[redacted]") : url);

/** The Koa application: request log and error mapping around the declared routes, JSON 404/405 for the rest. */
export function createHttpApp(opts: HttpAppOptions): { app: Koa; router: Router } {
  const app = new Koa({ proxy: opts.trustProxy });
  const router = new Router();
  for (const route of opts.routes) router[route.method](route.path, ...routeMiddleware(route, opts));

  app.use(async (ctx, next) => {
    // The request line is logged at info; below that level (production runs at warn) none of it is computed.
    const started = opts.log.isLevelEnabled("info") ? performance.now() : -1;
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        const matched = router.match(ctx.path, ctx.method);
        if (matched.path.length > 0) {
          ctx.status = 405;
          // RFC 9110 §15.5.6: a 405 carries the methods the resource does support.
          ctx.set("Allow", [...new Set(matched.path.flatMap((layer) => layer.methods))].join(", "));
          ctx.body = { error: "Method not allowed", message: `${ctx.method} is not supported on ${ctx.path}` };
        } else {
          ctx.status = 404;
          ctx.body = { error: "Not found", message: `No route for ${ctx.method} ${ctx.path}` };
        }
      }
    } catch (err) {
      const route = ctx.state.route as RouteDef | undefined;
      if (err instanceof HttpError) {
        ctx.status = err.status;
        ctx.body = err.body;
        if (route?.noCache) setHeaders(ctx, NO_CACHE);
      } else {
        opts.log.error({ err, method: ctx.method, path: ctx.path }, "request failed");
        ctx.status = 500;
        ctx.body = {
          ...(route?.internalError ?? { error: "Internal server error" }),
          ...(opts.isDevelopment && err instanceof Error ? { message: err.message, stack: err.stack } : {}),
        };
      }
    } finally {
      setSecurityHeaders(ctx);
      if (started >= 0) {
        opts.log.info(
          {
            method: ctx.method,
            url: loggedUrl(ctx.originalUrl),
            status: ctx.status,
            ms: Math.round((performance.now() - started) * 100) / 100,
          },
          "request",
        );
      }
    }
  });
  app.use(createDispatcher(router)?.middleware ?? router.routes());
  // Errors Koa reports outside the middleware chain (a client that hangs up mid-request) go to our log, not to
  // Koa's default handler, which prints stacks to stderr.
  app.on("error", (err: unknown) => opts.log.warn({ err }, "connection error"));
  return { app, router };
}
