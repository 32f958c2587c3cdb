import type Koa from "koa";
import { z } from "zod";
import type { AppContext } from "../context";
import { HttpError } from "../core/errors";
import { RateLimiter } from "../http/rate-limit";
import { defineRoute, type RouteDef } from "../http/route";
import { clearSessionCookie, setSessionCookie } from "./cookies";
import { ErrorBody } from "./schemas";
import { SESSION_COOKIE, createSession, deleteSession, findSession } from "./session-store";

/** The original's legacy cookie name, still read (and cleared) here and by the access policy. */
const LEGACY_SESSION_COOKIE = "session";

/**
 * What the API calls a session's id. The cookie value is a bearer secret (the cookie is HttpOnly so scripts cannot
 * read it), so it is never echoed in a body; clients get a prefix of its SHA-256 digest instead: stable for the
 * session, useless as a credential.
 */
const publicSessionId = (idHash: string): string => idHash.slice(0, 32);

/** The session cookie the request carries: undefined when none, "" when present but empty. */
function presentedCookie(kctx: Koa.Context): string | undefined {
  return kctx.cookies.get(SESSION_COOKIE) ?? kctx.cookies.get(LEGACY_SESSION_COOKIE);
}

/**
 * The legacy session endpoints (reference §2.3), kept for old clients. All three are public, like the original:
 * - POST creates an anonymous session (as GET /api/csrf does) and sets the `sessionId` cookie; a live anonymous
 *   session the request carried is replaced. A logged-in session is never touched here: ending it without a CSRF
 *   token would be a forgeable logout.
 * - GET says whether the request's own cookie names a live session.
 * - DELETE ends only the session of the request's own cookie (knowing the cookie is the proof of ownership; a
 *   cross-site page cannot send a DELETE with cookies without a CORS preflight, which this server never grants).
 *   Ending a logged-in session this way is a logout and is audited as one.
 */
export function sessionRoutes(ctx: AppContext): RouteDef[] {
  const { db, clock, audit, config } = ctx;
  return [
    defineRoute({
      method: "post",
      path: "/api/session",
      // Each call may create a session row: bounded per client address.
      rateLimit: new RateLimiter(120, 60_000),
      access: "public",
      summary: "Create an anonymous session (legacy; GET /api/csrf does the same and returns a CSRF token)",
      tags: ["auth"],
      bodyParser: "none",
      noCache: true,
      responses: {
        200: {
          description: "Session created; the sessionId cookie is set. sessionId is a public id, not the cookie value",
          schema: z.object({ sessionId: z.string(), message: z.string() }),
        },
      },
      handler: async (kctx) => {
        const now = clock.now();
        const previous = presentedCookie(kctx);
        const created = await db.write(async (q) => {
          if (previous) {
            const old = await findSession(q, previous, now);
            if (old && !old.user) await deleteSession(q, old.idHash);
          }
          return createSession(q, { userId: null, now, ip: kctx.ip, userAgent: kctx.get("user-agent") });
        });
        setSessionCookie(kctx, created.cookieValue, config.secureCookies);
        return { body: { sessionId: publicSessionId(created.idHash), message: "Session created successfully" } };
      },
    }),

    defineRoute({
      method: "get",
      path: "/api/session",
      access: "public",
      summary: "Whether the request's session cookie names a live session (legacy)",
      tags: ["auth"],
      noCache: true,
      responses: {
        200: {
          description: "valid=false with sessionId null when the session is unknown, expired or its user locked",
          schema: z.object({ valid: z.boolean(), sessionId: z.string().nullable() }),
        },
        401: {
          description: "No session cookie (or an empty one)",
          schema: ErrorBody.extend({ valid: z.literal(false) }),
        },
      },
      handler: async (kctx) => {
        const cookie = presentedCookie(kctx);
        if (cookie === undefined) throw new HttpError(401, { valid: false, error: "No session cookie" });
        if (cookie === "") throw new HttpError(401, { valid: false, error: "No session ID" });
        const session = await db.read((q) => findSession(q, cookie, clock.now()));
        return { body: { valid: session !== null, sessionId: session ? publicSessionId(session.idHash) : null } };
      },
    }),

    defineRoute({
      method: "delete",
      path: "/api/session",
      access: "public",
      summary: "End the request's own session (legacy; a logged-in session is logged out)",
      tags: ["auth"],
      noCache: true,
      responses: {
        200: {
          description: '"Session deleted successfully", or "No session to delete"; the cookie is cleared either way',
          schema: z.object({ message: z.string() }),
        },
      },
      handler: async (kctx) => {
        const cookie = presentedCookie(kctx);
        if (!cookie) return { body: { message: "No session to delete" } };
        const ended = await db.write(async (q) => {
          const session = await findSession(q, cookie, clock.now());
          if (session) await deleteSession(q, session.idHash);
          return session;
        });
        clearSessionCookie(kctx);
        if (kctx.cookies.get(LEGACY_SESSION_COOKIE) !== undefined) {
          kctx.cookies.set(LEGACY_SESSION_COOKIE, "", {
            httpOnly: true,
            sameSite: "lax",
            path: "/",
            maxAge: 0,
            overwrite: true,
          });
        }
        if (ended?.user) {
          await audit.record({
            userId: ended.user.id,
            username: ended.user.username,
            action: "logout",
            category: "auth",
            ipAddress: kctx.ip,
            userAgent: kctx.get("user-agent") || null,
            details: { via: "DELETE /api/session" },
          });
        }
        return { body: { message: ended ? "Session deleted successfully" : "No session to delete" } };
      },
    }),
  ];
}
