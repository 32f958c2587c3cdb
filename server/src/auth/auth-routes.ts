import { z } from "zod";
import type { AppContext } from "../context";
import { HttpError, forbidden } from "../core/errors";
import { sameSecret } from "../http/access";
import { RateLimiter } from "../http/rate-limit";
import { defineRoute, type RouteDef } from "../http/route";
import { actorOf, type Principal } from "./principal";
import { clearSessionCookie, setSessionCookie } from "./cookies";
import { dummyVerify, verifyPassword } from "./passwords";
import { ErrorBody, PublicUser } from "./schemas";
import { createSession, deleteSession, issueCsrfToken } from "./session-store";
import { getUserByUsername, publicUser, recordLoginFailure, recordLoginSuccess } from "./user-store";

const LoginBody = z.object({
  username: z.string().max(100).optional(),
  password: z.string().max(1024).optional(),
});

/** Session, CSRF and login endpoints (reference §1, §2.3). */
export function authRoutes(ctx: AppContext): RouteDef[] {
  const { db, clock, audit, access, config } = ctx;
  // Login attempts per client IP: 10 a minute, on top of the per-account lockout.
  const loginLimiter = new RateLimiter(config.loginRateLimit, 60_000);

  return [
    defineRoute({
      method: "get",
      path: "/api/csrf",
      // Each call without a session creates one: bounded per client address.
      rateLimit: new RateLimiter(120, 60_000),
      access: "public",
      summary: "Get a CSRF token (creates an anonymous session when there is none)",
      tags: ["auth"],
      noCache: true,
      responses: {
        200: {
          description: "Token for the X-CSRF-Token header",
          schema: z.object({ token: z.string(), csrfToken: z.string(), message: z.string() }),
        },
      },
      handler: async (kctx) => {
        const p = await access.resolve(kctx).catch(() => ({ kind: "anonymous" }) as Principal);
        const now = clock.now();
        const token = await db.write(async (q) => {
          if (p.kind === "session") {
            return issueCsrfToken(
              q,
              { idHash: p.sessionHash, csrfToken: p.csrfToken, csrfExpiresAt: p.csrfExpiresAt },
              now,
            );
          }
          const s = await createSession(q, { userId: null, now, ip: kctx.ip, userAgent: kctx.get("user-agent") });
          setSessionCookie(kctx, s.cookieValue, config.secureCookies);
          return issueCsrfToken(q, { idHash: s.idHash, csrfToken: null, csrfExpiresAt: null }, now);
        });
        return { body: { token, csrfToken: token, message: "CSRF token generated successfully" } };
      },
    }),

    defineRoute({
      method: "post",
      path: "/api/auth/login",
      access: "public",
      summary: "Log in with username and password (send X-CSRF-Token from GET /api/csrf)",
      tags: ["auth"],
      body: LoginBody,
      responses: {
        200: {
          description: "Logged in; the sessionId cookie is set",
          schema: z.object({ success: z.literal(true), user: PublicUser, keyChanged: z.boolean() }),
        },
        400: { description: "Username or password missing", schema: ErrorBody },
        401: { description: "Wrong username or password", schema: ErrorBody },
        403: { description: "CSRF token missing/invalid, or account locked", schema: ErrorBody },
        429: { description: "Too many attempts from this address", schema: ErrorBody },
      },
      handler: async (kctx, { body }) => {
        const now = clock.now();
        const retryAfter = loginLimiter.hit(kctx.ip, now.getTime());
        if (retryAfter > 0) {
          kctx.set("Retry-After", String(retryAfter));
          throw new HttpError(429, { error: "Too many login attempts", errorCode: "RATE_LIMITED", retryAfter });
        }
        // Login CSRF (reference §1.2 LOGIN): the header must be present, and match when a session exists.
        const sentCsrf = kctx.get("x-csrf-token");
        if (!sentCsrf) throw forbidden("CSRF token required", { errorCode: "CSRF_REQUIRED" });
        const p = await access.resolve(kctx).catch(() => ({ kind: "anonymous" }) as Principal);
        if (p.kind === "session" && p.csrfToken && !sameSecret(sentCsrf, p.csrfToken)) {
          throw forbidden("Invalid CSRF token", { errorCode: "CSRF_INVALID" });
        }
        const username = body.username?.trim() ?? "";
        const password = body.password ?? "";
        if (!username || !password) {
          throw new HttpError(400, { error: "Username and password are required", errorCode: "REQUIRED_CREDENTIALS" });
        }
        const meta = { ipAddress: kctx.ip, userAgent: kctx.get("user-agent") || null };
        const user = await db.read((q) => getUserByUsername(q, username));
        if (!user) {
          await dummyVerify(password);
          await audit.record({
            ...meta,
            action: "login",
            category: "auth",
            status: "failure",
            username,
            errorMessage: "unknown user",
          });
          throw new HttpError(401, { error: "Invalid username or password", errorCode: "INVALID_CREDENTIALS" });
        }
        if (user.locked_until && user.locked_until > now.toISOString()) {
          const minutesRemaining = Math.ceil((Date.parse(user.locked_until) - now.getTime()) / 60_000);
          await audit.record({
            ...meta,
            action: "login",
            category: "auth",
            status: "failure",
            userId: user.id,
            username: user.username,
            errorMessage: "account locked",
          });
          throw new HttpError(403, {
            error: `Account is locked. Try again in ${minutesRemaining} minute(s).`,
            errorCode: "ACCOUNT_LOCKED",
            lockedUntil: user.locked_until,
            minutesRemaining,
          });
        }
        if (!(await verifyPassword(user.password_hash, password))) {
          const { lockedUntil } = await db.write((q) => recordLoginFailure(q, user, now));
          await audit.record({
            ...meta,
            action: "login",
            category: "auth",
            status: "failure",
            userId: user.id,
            username: user.username,
            errorMessage: lockedUntil ? "wrong password; account locked" : "wrong password",
          });
          throw new HttpError(401, { error: "Invalid username or password", errorCode: "INVALID_CREDENTIALS" });
        }
        const session = await db.write(async (q) => {
          await recordLoginSuccess(q, user.id, now, kctx.ip);
          // A new session id at login: a session fixed before login (e.g. by GET /api/csrf) is not promoted.
          if (p.kind === "session") await deleteSession(q, p.sessionHash);
          return createSession(q, { userId: user.id, now, ip: kctx.ip, userAgent: kctx.get("user-agent") });
        });
        setSessionCookie(kctx, session.cookieValue, config.secureCookies);
        loginLimiter.reset(kctx.ip);
        await audit.record({ ...meta, action: "login", category: "auth", userId: user.id, username: user.username });
        return { body: { success: true, user: publicUser(user), keyChanged: false } };
      },
    }),

    defineRoute({
      method: "post",
      path: "/api/auth/logout",
      access: "user",
      allowPendingPasswordChange: true,
      summary: "Log out (ends the session)",
      tags: ["auth"],
      responses: {
        200: {
          description: "Logged out",
          schema: z.object({ success: z.literal(true), message: z.string(), successCode: z.string() }),
        },
        400: { description: "Not a browser session", schema: ErrorBody },
      },
      handler: async (kctx) => {
        const p = await access.resolve(kctx);
        if (p.kind !== "session")
          throw new HttpError(400, { error: "No active session", errorCode: "NO_ACTIVE_SESSION" });
        await db.write((q) => deleteSession(q, p.sessionHash));
        clearSessionCookie(kctx);
        await audit.record({ ...actorOf(p), action: "logout", category: "auth", ipAddress: kctx.ip });
        return { body: { success: true, message: "Logged out successfully", successCode: "LOGGED_OUT" } };
      },
    }),

    defineRoute({
      method: "get",
      path: "/api/auth/me",
      access: "user",
      allowPendingPasswordChange: true,
      summary: "The current user (or API token)",
      tags: ["auth"],
      noCache: true,
      responses: {
        200: {
          description: "Who is calling",
          schema: z.object({
            authenticated: z.literal(true),
            user: PublicUser.nullable(),
            token: z.object({ id: z.string(), name: z.string(), scope: z.string() }).optional(),
          }),
        },
      },
      handler: async (kctx) => {
        const p = await access.resolve(kctx);
        if (p.kind === "token") {
          return { body: { authenticated: true, user: null, token: { id: p.tokenId, name: p.name, scope: p.scope } } };
        }
        if (p.kind !== "session" || !p.user) throw new HttpError(401, { error: "Authentication required" });
        return { body: { authenticated: true, user: p.user } };
      },
    }),
  ];
}
