import type Koa from "koa";
import { actorOf, type Principal } from "./principal";
import type { Caller } from "./user-service";

/** The service-facing description of who made a request (audit actor, origin, session). */
export function callerOf(kctx: Koa.Context, p: Principal): Caller {
  return {
    ...actorOf(p),
    sessionHash: p.kind === "session" ? p.sessionHash : null,
    ipAddress: kctx.ip,
    userAgent: kctx.get("user-agent") || null,
  };
}
