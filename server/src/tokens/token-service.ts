import { randomUUID } from "node:crypto";
import type { AuditActor, AuditService } from "../audit/audit-service";
import type { TokenScope } from "../auth/principal";
import { sha256Hex } from "../auth/session-store";
import { newTokenValue } from "../auth/token-store";
import type { Clock } from "../core/clock";
import { notFound } from "../core/errors";
import type { Database } from "../db/database";
import { type ApiTokenRow, getActiveApiToken, insertApiToken, listApiTokens, revokeApiToken } from "./api-token-store";

/** How many leading characters of a token are kept in clear, so people can tell their tokens apart. */
export const TOKEN_DISPLAY_PREFIX_LENGTH = 8;

export interface CreatedToken {
  id: string;
  name: string;
  scope: TokenScope;
  /** The token itself: shown once, never stored. */
  token: string;
}

export interface TokenView {
  id: string;
  name: string;
  scope: TokenScope;
  prefix: string;
  createdAt: string;
  createdBy: string | null;
  lastUsedAt: string | null;
  revoked: boolean;
}

const view = (r: ApiTokenRow): TokenView => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  prefix: r.token_prefix,
  createdAt: r.created_at,
  createdBy: r.created_by,
  lastUsedAt: r.last_used_at,
  revoked: r.revoked_at !== null,
});

/** Creating, listing and revoking API tokens. Checking a presented token is the access policy's job. */
export class TokenService {
  constructor(private readonly deps: { db: Database; clock: Clock; audit: AuditService }) {}

  async create(input: { name: string; scope: TokenScope }, actor: AuditActor): Promise<CreatedToken> {
    const token = newTokenValue();
    const id = randomUUID();
    const now = this.deps.clock.now().toISOString();
    await this.deps.db.write(async (q) => {
      await insertApiToken(q, {
        id,
        name: input.name,
        scope: input.scope,
        tokenHash: sha256Hex(token),
        tokenPrefix: token.slice(0, TOKEN_DISPLAY_PREFIX_LENGTH),
        // The creator's name as it was then, like the audit log: it stays readable if the account goes away.
        createdBy: actor.username ?? null,
        createdAt: now,
      });
      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "token_created",
        category: "auth",
        targetType: "api_token",
        targetId: id,
        details: { name: input.name, scope: input.scope },
      });
    });
    return { id, name: input.name, scope: input.scope, token };
  }

  list(includeRevoked = false): Promise<TokenView[]> {
    return this.deps.db.read(async (q) => (await listApiTokens(q, includeRevoked)).map(view));
  }

  /** Revokes an active token; the access policy refuses it from the next request on. */
  async revoke(id: string, actor: AuditActor): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    const revoked = await this.deps.db.write(async (q) => {
      const row = await getActiveApiToken(q, id);
      if (!row || !(await revokeApiToken(q, id, now))) return false;
      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "token_revoked",
        category: "auth",
        targetType: "api_token",
        targetId: id,
        details: { name: row.name, scope: row.scope },
      });
      return true;
    });
    if (!revoked) throw notFound("API token not found", { message: `No active API token with id ${id}` });
  }
}
