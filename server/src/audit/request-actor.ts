import type Koa from "koa";
import type { SessionAndTokenPolicy } from "../auth/access-policy";
import { actorOf } from "../auth/principal";
import type { AuditActor } from "./audit-service";

/** Who made this request, as the audit log records it (the access policy has already resolved the caller). */
export async function requestActor(access: SessionAndTokenPolicy, kctx: Koa.Context): Promise<AuditActor> {
  const p = await access.resolve(kctx);
  return { ...actorOf(p), ipAddress: kctx.ip, userAgent: kctx.get("user-agent") || null };
}
