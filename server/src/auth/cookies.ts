import type Koa from "koa";
import { SESSION_COOKIE, SESSION_TTL_MS } from "./session-store";

/** The session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS (or when SECURE_COOKIES=true). */
export function setSessionCookie(ctx: Koa.Context, value: string, secureCookies: boolean): void {
  ctx.cookies.set(SESSION_COOKIE, value, {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    maxAge: SESSION_TTL_MS,
    secure: secureCookies || ctx.secure,
    overwrite: true,
  });
}

export function clearSessionCookie(ctx: Koa.Context): void {
  ctx.cookies.set(SESSION_COOKIE, "", { httpOnly: true, sameSite: "lax", path: "/", maxAge: 0, overwrite: true });
}
