import { z } from "zod";
import { requestActor } from "../audit/request-actor";
import type { TokenScope } from "../auth/principal";
import type { AppContext } from "../context";
import { defineRoute, type RouteDef } from "../http/route";
import { ApiKeySetting } from "./api-key-setting";
import { TokenService } from "./token-service";

const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });
const SCOPES = ["upload", "read", "admin"] as const satisfies readonly TokenScope[];
const Scope = z.enum(SCOPES);

/** Refusals of the access policy, declared so the OpenAPI document shows them. */
const accessErrors = {
  401: { description: "Not logged in, or an invalid / revoked API token", schema: ErrorBody },
  403: { description: "Not allowed for this user or token scope (or a missing CSRF token)", schema: ErrorBody },
};

const CreateTokenBody = z.object({
  name: z
    .string({ error: "name must be a string" })
    .trim()
    .min(1, { error: "name must not be empty" })
    .max(100, { error: "name must be at most 100 characters" }),
  scope: z.enum(SCOPES, { error: 'scope must be "upload", "read" or "admin"' }),
});

const TokenView = z.object({
  id: z.string(),
  name: z.string(),
  scope: Scope,
  prefix: z.string(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  revoked: z.boolean(),
});

const ListQuery = z.object({
  includeRevoked: z
    .enum(["true", "false"], { error: 'includeRevoked must be "true" or "false"' })
    .optional()
    .describe("Also list revoked tokens (default false)"),
});

const IdParam = z.object({ id: z.string().min(1).max(100).describe("Token id") });

const RequireKeysBody = z.object({
  requireApiKeys: z.boolean({ error: "requireApiKeys must be true or false" }),
});

/** API tokens (`/api/tokens`) and the "require keys for the external endpoints" setting (contract §6). */
export function tokenRoutes(ctx: AppContext): RouteDef[] {
  const tokens = new TokenService({ db: ctx.db, clock: ctx.clock, audit: ctx.audit });
  const setting = new ApiKeySetting({
    db: ctx.db,
    audit: ctx.audit,
    access: ctx.access,
    envDefault: ctx.config.requireApiKeys,
  });

  const updateSetting = (method: "put" | "patch") =>
    defineRoute({
      method,
      path: "/api/settings/api-keys",
      access: "admin",
      summary: `Turn "require keys for the external endpoints" on or off${method === "put" ? " (alias of PATCH)" : ""}`,
      tags: ["tokens"],
      body: RequireKeysBody,
      responses: {
        200: {
          description: "Stored; applies at once",
          schema: z.object({ success: z.literal(true), requireApiKeys: z.boolean() }),
        },
        400: { description: "requireApiKeys missing or not a boolean", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => {
        const value = await setting.set(body.requireApiKeys, await requestActor(ctx.access, kctx));
        return { body: { success: true, requireApiKeys: value } };
      },
    });

  return [
    defineRoute({
      method: "post",
      path: "/api/tokens",
      access: "admin",
      summary: "Create an API token (its value is shown in this answer only)",
      description:
        "Send the token as `Authorization: Bearer <token>`, `X-Api-Key: <token>` or `?api_key=<token>`. " +
        "Scopes: upload (POST /api/upload), read (external reads and the read-only management API), admin.",
      tags: ["tokens"],
      body: CreateTokenBody,
      responses: {
        201: {
          description: "Created; store the token now, it cannot be shown again",
          schema: z.object({ id: z.string(), name: z.string(), scope: Scope, token: z.string() }),
        },
        400: { description: "Invalid name or scope", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { body }) => {
        const created = await tokens.create(body, await requestActor(ctx.access, kctx));
        return { status: 201, headers: { "Cache-Control": "no-store" }, body: created };
      },
    }),

    defineRoute({
      method: "get",
      path: "/api/tokens",
      access: "admin",
      summary: "List API tokens (never their values)",
      tags: ["tokens"],
      query: ListQuery,
      noCache: true,
      responses: {
        200: { description: "Tokens, newest first", schema: z.object({ tokens: z.array(TokenView) }) },
        400: { description: "Invalid query parameter", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (_kctx, { query }) => ({ body: { tokens: await tokens.list(query.includeRevoked === "true") } }),
    }),

    defineRoute({
      method: "delete",
      path: "/api/tokens/:id",
      access: "admin",
      summary: "Revoke an API token (refused from the next request on)",
      tags: ["tokens"],
      params: IdParam,
      responses: {
        200: { description: "Revoked", schema: z.object({ success: z.literal(true) }) },
        404: { description: "No active token with this id", schema: ErrorBody },
        ...accessErrors,
      },
      handler: async (kctx, { params }) => {
        await tokens.revoke(params.id, await requestActor(ctx.access, kctx));
        return { body: { success: true } };
      },
    }),

    defineRoute({
      method: "get",
      path: "/api/settings/api-keys",
      access: "user",
      summary: 'Whether the external endpoints require an API key ("require keys")',
      tags: ["tokens"],
      noCache: true,
      responses: {
        200: { description: "Current setting", schema: z.object({ requireApiKeys: z.boolean() }) },
        ...accessErrors,
      },
      handler: async () => ({ body: { requireApiKeys: await setting.get() } }),
    }),
    updateSetting("patch"),
    updateSetting("put"),
  ];
}
