/** Who is calling: resolved once per request by the access policy and kept in ctx.state.principal. */
export type TokenScope = "upload" | "read" | "admin";
export const TOKEN_SCOPES: readonly TokenScope[] = ["upload", "read", "admin"];

export interface SessionUser {
  id: string;
  username: string;
  isAdmin: boolean;
  mustChangePassword: boolean;
}

export type Principal =
  /** Nobody; `invalidKey` when a key was presented that matches nothing (ignored where keys are optional). */
  | { kind: "anonymous"; invalidKey?: boolean }
  /** A browser session (cookie). `user` is null for an anonymous session (made by GET /api/csrf). */
  | {
      kind: "session";
      sessionHash: string;
      user: SessionUser | null;
      csrfToken: string | null;
      csrfExpiresAt: string | null;
    }
  | { kind: "token"; tokenId: string; name: string; scope: TokenScope }
  /** UPLOAD_TOKEN from the environment: a pre-made upload key. */
  | { kind: "upload-key" };

export const isLoggedIn = (p: Principal): p is Extract<Principal, { kind: "session" }> & { user: SessionUser } =>
  p.kind === "session" && p.user !== null;

/** Audit/log identity of a principal. */
export function actorOf(p: Principal): { userId: string | null; username: string | null } {
  if (p.kind === "session" && p.user) return { userId: p.user.id, username: p.user.username };
  if (p.kind === "token") return { userId: null, username: `token:${p.name}` };
  return { userId: null, username: null };
}
