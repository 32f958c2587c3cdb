import type Koa from "koa";
import type { z } from "zod";
import type { MultipartOptions } from "./multipart";
import type { RateLimiter } from "./rate-limit";

/**
 * Who may call a route. Declared once per route; the access middleware enforces it and the OpenAPI document
 * publishes it (x-access), so there is one place that says who may call what.
 * - public: anyone (health, ping, docs, login)
 * - upload: Duplicati's report endpoint (open, or an upload key when one is configured)
 * - read:   the external read endpoints (Homepage, scripts)
 * - user / admin: the management API (needs a login or an API token)
 */
export type Access = "public" | "upload" | "read" | "user" | "admin";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}

export interface RouteResult {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

export interface RouteDef<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: HttpMethod;
  path: string;
  access: Access;
  summary: string;
  description?: string;
  tags: string[];
  params?: P;
  query?: Q;
  body?: B;
  /** Documented request body when validation happens in the service (the upload's staged checks). */
  bodyDoc?: z.ZodType;
  /** Body parsing: JSON (default for non-GET), the upload's lenient parser, multipart file upload, or none. */
  bodyParser?: "json" | "upload" | "none" | "multipart";
  /** Where uploaded files go and how large they may be; required with bodyParser "multipart". */
  multipart?: MultipartOptions;
  responses: Record<number, ResponseSpec>;
  /** The body of an unexpected 500 on this route (the original uses route-specific texts). */
  internalError?: Record<string, unknown>;
  /** Per-client-IP limit checked before the body is read (429 with Retry-After beyond it). */
  rateLimit?: RateLimiter;
  /** Reachable by a user who must change their password first (auth endpoints). */
  allowPendingPasswordChange?: boolean;
  /** Send the no-cache headers of the original's external endpoints. */
  noCache?: boolean;
  handler: (ctx: Koa.Context, input: RouteInput<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<RouteResult>;
}

/** Identity helper that keeps the schema types flowing into the handler's input. */
export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  def: RouteDef<P, Q, B>,
): RouteDef {
  return def as unknown as RouteDef;
}
