import { z } from "zod";
import { requestActor } from "../audit/request-actor";
import type { AppContext } from "../context";
import { DashboardService } from "../dashboard/dashboard-service";
import { RunsPageQuery } from "../dashboard/routes";
import { defineRoute, type RouteDef } from "../http/route";
import {
  DuplicatesResponse,
  ErrorBody,
  ListQuery,
  MergeBody,
  MergeResponse,
  ServerDeletedResponse,
  ServerGetResponse,
  ServerIdParam,
  ServerListResponse,
  ServerPatchBody,
  ServerUpdatedResponse,
  ServerUrlBody,
  ServerUrlResponse,
  ServerUrlUpdatedResponse,
  isTrue,
} from "./schemas";
import { ServerAdminService } from "./server-admin-service";

const TAGS = ["servers"];
const userAccess = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Token scope does not allow this", schema: ErrorBody },
};
const adminAccess = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Not an administrator, or CSRF token missing", schema: ErrorBody },
};
const notFound = { 404: { description: "No such server", schema: ErrorBody } };

/** The original takes PATCH; the older documents use PUT: both are served, with the same declaration. */
function patchAndPut<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  def: Omit<RouteDef<P, Q, B>, "method">,
): RouteDef[] {
  return (["patch", "put"] as const).map((method) => defineRoute<P, Q, B>({ ...def, method }));
}

const GetQuery = RunsPageQuery.extend({
  includeBackups: z.string().optional().describe('"true": the full server with its runs and chart points'),
  includeChartData: z.string().optional().describe('"true": same as includeBackups'),
});

/** Server management (reference §2.4): list, view, edit, delete, duplicates and merge, Duplicati UI address. */
export function serverRoutes(ctx: AppContext): RouteDef[] {
  const service = new ServerAdminService({ db: ctx.db, clock: ctx.clock, events: ctx.events, audit: ctx.audit });
  const views = new DashboardService({ db: ctx.db, clock: ctx.clock });
  const actor = (kctx: Parameters<RouteDef["handler"]>[0]) => requestActor(ctx.access, kctx);

  return [
    defineRoute({
      method: "get",
      path: "/api/servers",
      access: "user",
      summary: "List servers by name (or, with includeBackups=true, one row per server × backup job)",
      tags: TAGS,
      query: ListQuery,
      responses: { 200: { description: "Servers", schema: ServerListResponse }, ...userAccess },
      handler: async (_kctx, { query }) => ({
        body: isTrue(query.includeBackups) ? await service.listWithJobs() : await service.list(),
      }),
    }),
    // Declared before /api/servers/:id so that these fixed paths are not read as server ids.
    defineRoute({
      method: "get",
      path: "/api/servers/duplicates",
      access: "admin",
      summary: "Groups of servers that share a name (candidates for a merge), newest first within a group",
      tags: TAGS,
      responses: { 200: { description: "Duplicate groups", schema: DuplicatesResponse }, ...adminAccess },
      handler: async () => ({ body: await service.duplicates() }),
    }),
    defineRoute({
      method: "post",
      path: "/api/servers/merge",
      access: "admin",
      summary: "Merge servers into a target server (runs, job state and settings re-keyed), then delete them",
      description:
        "One transaction. A run both servers have (same job, same begin time) is kept as the target's; per-job " +
        "monitoring and notification settings move to the target unless it has its own for that job; the target's " +
        "job totals and latest run are recomputed; each merged job's runs take the backup_id of its newest run; " +
        "empty alias, note, URL and password of the target are filled from the merged servers.",
      tags: TAGS,
      body: MergeBody,
      internalError: { error: "Failed to merge servers" },
      responses: {
        200: { description: "Merged", schema: MergeResponse },
        400: {
          description: "Empty list, missing or unknown target, target in the list, unknown ids",
          schema: ErrorBody,
        },
        ...adminAccess,
      },
      handler: async (kctx, { body }) => ({
        body: await service.merge(body.oldServerIds ?? [], body.targetServerId ?? "", await actor(kctx)),
      }),
    }),
    defineRoute({
      method: "get",
      path: "/api/servers/:id",
      access: "user",
      summary: "One server; with includeBackups or includeChartData the full server with its runs and chart points",
      description: "Runs are paginated with limit (default 100, at most 1000) and offset, newest first.",
      tags: TAGS,
      params: ServerIdParam,
      query: GetQuery,
      responses: {
        200: { description: "Server", schema: ServerGetResponse },
        400: { description: "Invalid paging", schema: ErrorBody },
        ...notFound,
        ...userAccess,
      },
      handler: async (_kctx, { params, query }) => {
        const full = isTrue(query.includeBackups) || isTrue(query.includeChartData);
        return { body: full ? await views.serverWithBackups(params.id, query) : await service.get(params.id) };
      },
    }),
    ...patchAndPut({
      path: "/api/servers/:id",
      access: "admin",
      summary: "Change a server's Duplicati UI address, alias or note (only the fields sent)",
      description: 'server_url must be an http(s) URL or "" (400 otherwise).',
      tags: TAGS,
      params: ServerIdParam,
      body: ServerPatchBody,
      responses: {
        200: { description: "Updated", schema: ServerUpdatedResponse },
        400: { description: "Invalid URL or field, or nothing to update", schema: ErrorBody },
        ...notFound,
        ...adminAccess,
      },
      handler: async (kctx, { params, body }) => ({
        body: await service.updateFields(params.id, body, await actor(kctx)),
      }),
    }),
    defineRoute({
      method: "delete",
      path: "/api/servers/:id",
      access: "admin",
      summary: "Delete a server with its runs, job state and per-job settings",
      tags: TAGS,
      params: ServerIdParam,
      internalError: { error: "Failed to delete server" },
      responses: { 200: { description: "Deleted", schema: ServerDeletedResponse }, ...notFound, ...adminAccess },
      handler: async (kctx, { params }) => ({ body: await service.delete(params.id, await actor(kctx)) }),
    }),
    defineRoute({
      method: "get",
      path: "/api/servers/:id/server-url",
      access: "user",
      summary: "A server's Duplicati UI address",
      tags: TAGS,
      params: ServerIdParam,
      responses: { 200: { description: "Address", schema: ServerUrlResponse }, ...notFound, ...userAccess },
      handler: async (_kctx, { params }) => {
        const server = await service.get(params.id);
        return { body: { serverId: server.id, server_url: server.server_url } };
      },
    }),
    ...patchAndPut({
      path: "/api/servers/:id/server-url",
      access: "admin",
      summary: "Set a server's Duplicati UI address",
      tags: TAGS,
      params: ServerIdParam,
      body: ServerUrlBody,
      responses: {
        200: { description: "Updated", schema: ServerUrlUpdatedResponse },
        400: { description: "Missing, invalid or non-http(s) URL", schema: ErrorBody },
        ...notFound,
        ...adminAccess,
      },
      handler: async (kctx, { params, body }) => {
        const server = await service.update(params.id, { server_url: body.server_url }, await actor(kctx));
        return {
          body: {
            message: "Server URL updated successfully",
            serverId: server.id,
            serverName: server.name,
            server_url: server.server_url,
          },
        };
      },
    }),
  ];
}
