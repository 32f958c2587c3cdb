import { z } from "zod";
import { requestActor } from "../audit/request-actor";
import type { AppContext } from "../context";
import { badRequest } from "../core/errors";
import { defineRoute, type RouteDef } from "../http/route";
import { URL_MAX } from "../servers/schemas";
import { checkServerUrl } from "../servers/url";
import type { DuplicatiService } from "./collect-service";

const TAGS = ["duplicati"];
const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });
const userAccess = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Token scope does not allow this", schema: ErrorBody },
};
const adminAccess = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Not an administrator, or CSRF token missing", schema: ErrorBody },
};
const duplicatiFailures = {
  400: {
    description:
      'Invalid request, wrong Duplicati password ("Authentication failed: wrong Duplicati password"), or a stored ' +
      "password this installation's key cannot decrypt (masterKeyInvalid)",
    schema: ErrorBody,
  },
  404: { description: "Unknown serverId, or no password stored for it", schema: ErrorBody },
  502: {
    description: "The Duplicati server cannot be reached, is not a Duplicati server, or its API failed",
    schema: ErrorBody,
  },
  504: { description: "The Duplicati server did not answer within the timeout", schema: ErrorBody },
};

const PASSWORD_MAX = 1024;
const ServerIdParam = z.object({ id: z.string().min(1).describe("Server id (Duplicati machine-id)") });
const PasswordBody = z.object({
  password: z.string().max(PASSWORD_MAX).describe('The Duplicati UI password; "" clears it'),
});

const CollectBody = z.object({
  hostname: z
    .string()
    .max(4000)
    .optional()
    .describe("Duplicati host (name, IP or URL); a comma-separated list collects from each (same port and password)"),
  port: z
    .union([z.number().int(), z.string().max(10)])
    .optional()
    .describe("Duplicati UI port (default 8200)"),
  password: z.string().max(PASSWORD_MAX).optional().describe("Duplicati UI password (stored encrypted when it works)"),
  serverId: z
    .string()
    .max(500)
    .optional()
    .describe("A known server: its stored address and password are used unless hostname / password are given"),
  downloadJson: z.boolean().optional().describe("Also answer the collected data as pretty JSON (jsonData)"),
});
const SyncBody = CollectBody.omit({ downloadJson: true });

const Stats = z.object({ processed: z.number().int(), skipped: z.number().int(), errors: z.number().int() });
const SyncStats = z.object({ processed: z.number().int(), errors: z.number().int() });
const BulkResult = z.object({
  success: z.boolean(),
  message: z.string().optional(),
  results: z.array(
    z.object({
      hostname: z.string(),
      port: z.number().int(),
      success: z.boolean(),
      serverId: z.string().optional(),
      serverName: z.string().optional(),
      error: z.string().optional(),
      message: z.string().optional(),
      stats: z.union([Stats, SyncStats]).optional(),
    }),
  ),
  stats: Stats,
});
const CollectResult = z.object({
  success: z.literal(true),
  serverId: z.string(),
  serverName: z.string(),
  serverAlias: z.string(),
  message: z.string().optional(),
  stats: Stats,
  backupSettings: z.object({ message: z.string() }),
  errors: z.array(z.string()).optional(),
  jsonData: z.string().optional(),
});
const SyncResult = z.object({
  success: z.literal(true),
  serverId: z.string(),
  serverName: z.string(),
  message: z.string().optional(),
  stats: SyncStats,
  errors: z.array(z.string()).optional(),
});

const MODES =
  "Modes: hostname + password (a new or known server; several hostnames separated by commas → one result per " +
  "host); serverId alone (its stored address and password); serverId with hostname and/or password (those are " +
  "used and stored); no hostname and no serverId → every server with a stored address and password. HTTPS is tried " +
  "first (self-signed certificates accepted), then HTTP.";

/** The Duplicati connection of a server, the connection test, collect and schedule sync (reference §2.4, §8.3). */
export function duplicatiRoutes(ctx: AppContext, service: DuplicatiService): RouteDef[] {
  const actor = (kctx: Parameters<RouteDef["handler"]>[0]) => requestActor(ctx.access, kctx);

  const passwordRoute = (method: "patch" | "put") =>
    defineRoute({
      method,
      path: "/api/servers/:id/password",
      access: "admin",
      summary: 'Store the server\'s Duplicati password, encrypted ("" clears it)',
      description: "The password is never returned; GET tells only whether one is stored.",
      tags: TAGS,
      params: ServerIdParam,
      bodyDoc: PasswordBody,
      responses: {
        200: {
          description: "Stored",
          schema: z.object({ message: z.literal("Password updated successfully"), serverId: z.string() }),
        },
        400: { description: "Password missing, not a string or too long", schema: ErrorBody },
        404: { description: "No such server", schema: ErrorBody },
        ...adminAccess,
      },
      internalError: { error: "Failed to update password" },
      handler: async (kctx, { params, body }) => {
        const password = (body as { password?: unknown } | undefined)?.password;
        if (typeof password !== "string") throw badRequest("Password must be a string");
        if (password.length > PASSWORD_MAX) {
          throw badRequest("Password is too long", { message: `At most ${PASSWORD_MAX} characters` });
        }
        await service.setPassword(params.id, password, await actor(kctx));
        return { body: { message: "Password updated successfully" as const, serverId: params.id } };
      },
    });

  return [
    defineRoute({
      method: "get",
      path: "/api/servers/:id/password",
      access: "user",
      summary: "Whether a Duplicati password is stored for the server",
      description:
        'The original answers {"csrfToken","serverId"} here (its UI fetched a CSRF token before the PATCH); CSRF ' +
        'tokens come from GET /api/csrf, so this says {"hasPassword","serverId"}. The password is never returned.',
      tags: TAGS,
      params: ServerIdParam,
      responses: {
        200: {
          description: "Whether a password is stored",
          schema: z.object({ hasPassword: z.boolean(), serverId: z.string() }),
        },
        404: { description: "No such server", schema: ErrorBody },
        ...userAccess,
      },
      handler: async (_kctx, { params }) => ({ body: await service.passwordStatus(params.id) }),
    }),
    passwordRoute("patch"),
    passwordRoute("put"),
    defineRoute({
      method: "post",
      path: "/api/servers/test-connection",
      access: "user",
      summary: "Check that a Duplicati server answers at an address",
      description:
        'POSTs {"Password":"x","RememberMe":true} to <origin>/api/v1/auth/login; Duplicati refusing the login (HTTP ' +
        "401) proves it is there. Always 200 with success true/false once the URL is valid. HTTPS addresses with a " +
        "self-signed certificate are accepted.",
      tags: TAGS,
      body: z.object({ server_url: z.string().max(URL_MAX).optional().describe("http(s) URL of the Duplicati UI") }),
      internalError: { error: "Failed to test connection" },
      responses: {
        200: { description: "Result", schema: z.object({ success: z.boolean(), message: z.string() }) },
        400: { description: "Missing or invalid URL", schema: ErrorBody },
        ...userAccess,
      },
      handler: async (_kctx, { body }) => {
        const url = checkServerUrl(body.server_url ?? "");
        if (url === "") throw badRequest("Server URL is required");
        return { body: await service.testConnection(new URL(url)) };
      },
    }),
    defineRoute({
      method: "post",
      path: "/api/backups/collect",
      access: "admin",
      summary: "Pull backup logs (and schedules) from Duplicati servers",
      description:
        `${MODES} Runs not stored yet become runs as if Duplicati had pushed them (a run already pushed or collected ` +
        "is skipped); each job's interval, weekdays and next run are taken from its Duplicati schedule.",
      tags: TAGS,
      body: CollectBody,
      internalError: { error: "Failed to collect backups" },
      responses: {
        200: {
          description: "One server's result, or one result per server",
          schema: z.union([CollectResult, BulkResult]),
        },
        ...duplicatiFailures,
        ...adminAccess,
      },
      handler: async (kctx, { body }) => ({ body: await service.collect(body, await actor(kctx)) }),
    }),
    defineRoute({
      method: "post",
      path: "/api/backups/sync-schedule",
      access: "admin",
      summary: "Take each job's schedule (interval, weekdays, next run) from Duplicati servers",
      description: MODES,
      tags: TAGS,
      body: SyncBody,
      internalError: { error: "Failed to sync backup schedules" },
      responses: {
        200: {
          description: "One server's result, or one result per server",
          schema: z.union([SyncResult, BulkResult]),
        },
        ...duplicatiFailures,
        ...adminAccess,
      },
      handler: async (kctx, { body }) => ({ body: await service.syncSchedule(body, await actor(kctx)) }),
    }),
  ];
}
