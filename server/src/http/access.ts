import { createHash, timingSafeEqual } from "node:crypto";
import type Koa from "koa";
import { HttpError, unauthorized } from "../core/errors";
import type { Access } from "./route";

/** Decides whether a request may call a route of a given access level; throws an HttpError when not. */
export interface AccessPolicy {
  check(ctx: Koa.Context, access: Access): Promise<void> | void;
}

const BEARER = /^Bearer\s+(.+)$/i;

/**
 * The key a client presents, from any of the transports Duplicati and Homepage can use: `?token=` / `?api_key=`
 * (Duplicati can only set a URL), `X-Api-Key`, or `Authorization: Bearer`.
 */
export function presentedKey(ctx: Koa.Context): string | undefined {
  const q = ctx.query;
  if (typeof q.token === "string" && q.token !== "") return q.token;
  if (typeof q.api_key === "string" && q.api_key !== "") return q.api_key;
  const header = ctx.get("x-api-key");
  if (header) return header;
  const auth = ctx.get("authorization");
  if (!auth) return undefined;
  const m = BEARER.exec(auth);
  return m?.[1]?.trim();
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Constant-time comparison (hashing first makes the lengths equal). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Access before user accounts exist: public and read routes are open, uploads need UPLOAD_TOKEN when it is set,
 * and management routes are closed.
 */
export class UploadKeyPolicy implements AccessPolicy {
  constructor(private readonly uploadToken: string | undefined) {}

  check(ctx: Koa.Context, access: Access): void {
    if (access === "public" || access === "read") return;
    if (access === "upload") {
      if (!this.uploadToken) return;
      const key = presentedKey(ctx);
      if (key && sameSecret(key, this.uploadToken)) return;
      throw unauthorized(key ? "Invalid upload token" : "Upload token required", {
        message: "Send the upload token as ?token=<token> or Authorization: Bearer <token>",
      });
    }
    throw new HttpError(401, { error: "Authentication required" });
  }
}
