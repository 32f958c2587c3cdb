import type Koa from "koa";
import type { Clock } from "../core/clock";
import { HttpError, forbidden, unauthorized } from "../core/errors";
import type { Logger } from "../core/logger";
import type { Database } from "../db/database";
import { type AccessPolicy, presentedKey, sameSecret } from "../http/access";
import type { Access, RouteDef } from "../http/route";
import { getConfigValue } from "../store/configuration-store";
import type { Principal } from "./principal";
import { SESSION_COOKIE, findSession, touchSession } from "./session-store";
import { findActiveToken, recordTokenUse, shouldRecordUse } from "./token-store";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
export const REQUIRE_KEYS_SETTING = "require_api_keys";

/**
 * The one authorization layer. Every route declares its access level; this resolves who is calling (API token,
 * UPLOAD_TOKEN, session cookie, or nobody) and decides. Rules:
 * - public: anyone.
 * - upload: anyone, unless UPLOAD_TOKEN is set or keys are required; then an upload/admin token or UPLOAD_TOKEN.
 * - read (external reads): anyone, unless keys are required; then a read/admin token or a logged-in user.
 * - user: a logged-in user, a read token for safe methods, or an admin token.
 * - admin: an admin user or an admin token.
 * Cookie sessions must send X-CSRF-Token on state-changing requests; tokens need no CSRF. A user who must change
 * their password can only reach the routes marked allowPendingPasswordChange.
 */
export class SessionAndTokenPolicy implements AccessPolicy {
  private requireKeysCache: { value: boolean; at: number } | null = null;

  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      log: Logger;
      uploadToken: string | undefined;
      requireKeysDefault: boolean;
    },
  ) {}

  /** Forget the cached "require keys" setting (called when it changes). */
  invalidate(): void {
    this.requireKeysCache = null;
  }

  /** The "require keys" setting while the cached value is fresh, else undefined. */
  private keysRequiredCached(now = Date.now()): boolean | undefined {
    // Cached briefly: this sits on the upload and summary hot paths. Other instances see a change within 5 s.
    if (this.requireKeysCache && now - this.requireKeysCache.at < 5_000) return this.requireKeysCache.value;
    return undefined;
  }

  private async keysRequired(): Promise<boolean> {
    const now = Date.now();
    const cached = this.keysRequiredCached(now);
    if (cached !== undefined) return cached;
    const raw = await this.deps.db.read((q) => getConfigValue(q, REQUIRE_KEYS_SETTING));
    const value = raw === null ? this.deps.requireKeysDefault : raw === "true";
    this.requireKeysCache = { value, at: now };
    return value;
  }

  async resolve(ctx: Koa.Context): Promise<Principal> {
    const cached = ctx.state.principal as Principal | undefined;
    if (cached) return cached;
    const principal = await this.resolveUncached(ctx);
    ctx.state.principal = principal;
    return principal;
  }

  private async resolveUncached(ctx: Koa.Context): Promise<Principal> {
    const now = this.deps.clock.now();
    const key = presentedKey(ctx);
    if (key) {
      if (this.deps.uploadToken && sameSecret(key, this.deps.uploadToken)) return { kind: "upload-key" };
      const token = await this.deps.db.read((q) => findActiveToken(q, key));
      // An unknown key is not an error by itself: old Duplicati/Homepage URLs may carry a stale ?token= or
      // ?api_key= while keys are optional. Wherever a key is needed, check() answers 401 "Invalid API token".
      if (!token) return { kind: "anonymous", invalidKey: true };
      if (shouldRecordUse(token, now)) {
        // Awaited (it is throttled, so rare): with a pool (PostgreSQL) a detached write could land after the next
        // request's read, which would then not see the use this request made.
        await this.deps.db
          .write((q) => recordTokenUse(q, token.id, now))
          .catch((err: unknown) => this.deps.log.warn({ err }, "could not record token use"));
      }
      return { kind: "token", tokenId: token.id, name: token.name, scope: token.scope };
    }
    const cookie = ctx.cookies.get(SESSION_COOKIE) ?? ctx.cookies.get("session");
    if (cookie) {
      const session = await this.deps.db.read((q) => findSession(q, cookie, now));
      if (session) {
        await this.deps.db.write((q) => touchSession(q, session, now));
        return {
          kind: "session",
          sessionHash: session.idHash,
          user: session.user,
          csrfToken: session.csrfToken,
          csrfExpiresAt: session.csrfExpiresAt,
        };
      }
    }
    return { kind: "anonymous" };
  }

  check(ctx: Koa.Context, access: Access): Promise<void> | void {
    if (access === "public") return;
    // Without a key, while keys are optional, an external read is allowed whoever calls (a session or nobody: the
    // same outcome as below), and so is an upload when no UPLOAD_TOKEN is set; decided here without looking the
    // session up. The caller is still resolved, lazily, by whatever asks for it (resolve()).
    if (
      (access === "read" || (access === "upload" && !this.deps.uploadToken)) &&
      this.keysRequiredCached() === false &&
      presentedKey(ctx) === undefined
    ) {
      return;
    }
    return this.checkCaller(ctx, access);
  }

  private async checkCaller(ctx: Koa.Context, access: Access): Promise<void> {
    const p = await this.resolve(ctx);
    const route = ctx.state.route as RouteDef | undefined;
    const safe = SAFE_METHODS.has(ctx.method);

    if (access === "upload") {
      if (p.kind === "upload-key" || (p.kind === "token" && (p.scope === "upload" || p.scope === "admin"))) return;
      if (p.kind === "token") throw forbidden("This API token may not upload");
      if (!this.deps.uploadToken && !(await this.keysRequired())) return;
      const invalid = p.kind === "anonymous" && p.invalidKey;
      throw unauthorized(
        invalid ? "Invalid upload token" : p.kind === "anonymous" ? "Upload token required" : "Invalid upload token",
        {
          message: "Send an upload key as ?token=<key>, ?api_key=<key>, X-Api-Key or Authorization: Bearer",
        },
      );
    }

    if (access === "read") {
      if (p.kind === "token") {
        if (p.scope === "read" || p.scope === "admin") return;
        throw forbidden("This API token may not read");
      }
      if (p.kind === "session" && p.user) return;
      if (p.kind === "upload-key") throw forbidden("The upload key may not read");
      if (!(await this.keysRequired())) return;
      throw unauthorized(p.kind === "anonymous" && p.invalidKey ? "Invalid API token" : "API key required", {
        message: "Send a read key as ?api_key=<key>, X-Api-Key or Bearer",
      });
    }

    // user / admin
    if (p.kind === "token") {
      if (p.scope === "admin") return;
      if (access === "user" && p.scope === "read" && safe) return;
      throw forbidden(
        access === "admin" ? "Administrator access required" : "This API token's scope does not allow this",
      );
    }
    if (p.kind === "upload-key") throw forbidden("The upload key may only upload");
    if (p.kind === "anonymous" && p.invalidKey) throw unauthorized("Invalid API token");
    if (p.kind !== "session" || !p.user) throw unauthorized("Authentication required");
    if (!safe) this.checkCsrf(ctx, p);
    if (p.user.mustChangePassword && !route?.allowPendingPasswordChange) {
      throw new HttpError(403, {
        error: "Password change required",
        message: "Change your password with POST /api/auth/change-password first",
      });
    }
    if (access === "admin" && !p.user.isAdmin) throw forbidden("Administrator access required");
  }

  private checkCsrf(ctx: Koa.Context, p: Extract<Principal, { kind: "session" }>): void {
    const sent = ctx.get("x-csrf-token");
    const valid =
      sent !== "" &&
      p.csrfToken !== null &&
      p.csrfExpiresAt !== null &&
      Date.parse(p.csrfExpiresAt) > this.deps.clock.now().getTime() &&
      sameSecret(sent, p.csrfToken);
    if (!valid) throw forbidden("Invalid CSRF token");
  }
}
