import { z } from "zod";
import type { AppContext } from "../context";
import { defineRoute, type RouteDef } from "../http/route";
import { notificationCore } from "../notifications/plugin-services";
import { ServerLookupErrorSchema } from "../reporting/schemas";
import { DashboardService, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./dashboard-service";
import {
  DashboardResponseSchema,
  DetailResponseSchema,
  ErrorBody,
  LastTimestampsSchema,
  UnifiedConfigSchema,
} from "./schemas";
import { unifiedConfiguration } from "./unified-config";

const TAGS = ["dashboard"];
const accessResponses = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Token scope does not allow this", schema: ErrorBody },
};

/** `?limit=&offset=` of a server's runs (newest first). */
export const RunsPageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .optional()
    .describe(`Runs per page (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE})`),
  offset: z.coerce.number().int().min(0).optional().describe("Runs to skip (default 0)"),
  backupName: z.string().min(1).optional().describe("Only the runs of this job"),
});

/** Dashboard, server detail, latest run per job and the unified configuration: the web UI's reads. */
export function dashboardRoutes(ctx: AppContext): RouteDef[] {
  const service = new DashboardService({ db: ctx.db, clock: ctx.clock });
  const { monitoring } = ctx.services;
  const notifications = notificationCore(ctx).config;
  return [
    defineRoute({
      method: "get",
      path: "/api/dashboard",
      access: "user",
      summary: "Everything the dashboard shows: per-server job summaries, overall totals, per-day chart points",
      description:
        "statusHistory holds the last 10 runs of each job (the original sends every run). chartData has one point " +
        "per UTC day over the last 30 days (the original sends one point per stored run): uploaded bytes and run " +
        "time are summed; file count, size, storage and versions are the last run of each job that day, summed " +
        "over jobs. overallSummary sums each job's latest run.",
      tags: TAGS,
      noCache: true,
      internalError: { error: "Failed to fetch dashboard data" },
      responses: { 200: { description: "Dashboard data", schema: DashboardResponseSchema }, ...accessResponses },
      handler: async () => ({ body: await service.dashboard() }),
    }),
    defineRoute({
      method: "get",
      path: "/api/detail/:serverId",
      access: "user",
      summary: "A server with its runs (newest first, paginated), chart points and overdue jobs",
      description:
        `Runs are paginated (limit default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE}; the original returns ` +
        "every run); server.pagination.total is the number of runs. chartData: one point per UTC day over the " +
        "last 30 days.",
      tags: TAGS,
      params: z.object({ serverId: z.string().min(1).describe("Server id, or its name when unique") }),
      query: RunsPageQuery,
      responses: {
        200: { description: "Server detail", schema: DetailResponseSchema },
        400: { description: "Invalid paging, or several servers have this name", schema: ErrorBody },
        404: { description: "No such server", schema: ServerLookupErrorSchema },
        ...accessResponses,
      },
      handler: async (_kctx, { params, query }) => ({ body: await service.detail(params.serverId, query) }),
    }),
    defineRoute({
      method: "get",
      path: "/api/backups/last-timestamps",
      access: "user",
      summary: "Date of the latest run of every job",
      tags: TAGS,
      noCache: true,
      responses: {
        200: { description: '"serverId:backupName" → ISO date', schema: LastTimestampsSchema },
        ...accessResponses,
      },
      handler: async () => ({ body: await service.lastTimestamps() }),
    }),
    defineRoute({
      method: "get",
      path: "/api/configuration/unified",
      access: "user",
      summary: "All configuration in one object (secrets replaced by has* flags)",
      description:
        "The ntfy access token, the SMTP username and password and server passwords are never returned; " +
        "hasAccessToken, hasUsername and hasPassword say whether they are set.",
      tags: TAGS,
      responses: { 200: { description: "Configuration", schema: UnifiedConfigSchema }, ...accessResponses },
      handler: async () => ({ body: await unifiedConfiguration({ db: ctx.db, monitoring, notifications }) }),
    }),
  ];
}
