import { z } from "zod";
import { defineRoute, type RouteDef, type RouteResult } from "../http/route";
import type { ChartService } from "./chart-service";
import { ChartError } from "./params";
import {
  AggregatedDataSchema,
  ChartErrorSchema,
  ChartQuerySchema,
  JobDataSchema,
  JobParamsSchema,
  ServerDataSchema,
  ServerParamsSchema,
  envelope,
} from "./schemas";

const DESCRIPTION =
  "Time series for charts and Grafana. Buckets are UTC (weeks start on Monday 00:00 UTC), named by their start; " +
  "empty buckets are omitted. Durations are seconds. duration and uploaded are summed per bucket; size, files, " +
  "storage and versions are gauges: each job's last run in the bucket, summed over the jobs that ran in it. " +
  "from/to (epoch ms or ISO 8601; also startDate/endDate) override period, and the range is widened to whole buckets.";

const errors = {
  400: { description: "Invalid parameter (ValidationError)", schema: ChartErrorSchema },
};
const lookupErrors = {
  ...errors,
  404: { description: "Unknown server or backup job (NotFoundError)", schema: ChartErrorSchema },
};
const JSON_TYPE = { "Content-Type": "application/json; charset=utf-8" };
const internalError = { status: "error", error: "InternalError", message: "Failed to fetch chart data" };

/** The seed document's error bodies are answers of the route, so they are validated like the successes. */
async function answer(work: () => Promise<unknown>): Promise<RouteResult> {
  try {
    return { body: { status: "success", data: await work() } };
  } catch (err) {
    if (err instanceof ChartError) return { status: err.status, body: err.body };
    throw err;
  }
}

export function chartRoutes(charts: ChartService): RouteDef[] {
  return [
    defineRoute({
      method: "get",
      path: "/api/chart-data/aggregated",
      access: "user",
      summary: "Chart data over all servers",
      description: DESCRIPTION,
      tags: ["charts"],
      query: ChartQuerySchema,
      noCache: true,
      internalError,
      responses: {
        // The handler sends ready-made JSON text (ChartService.aggregatedJson); checked as the JSON it holds.
        200: {
          description: "Series, statistics and summary",
          schema: z.preprocess((v) => (typeof v === "string" ? JSON.parse(v) : v), envelope(AggregatedDataSchema)),
        },
        ...errors,
      },
      handler: async (_ctx, { query }) => {
        try {
          return { body: await charts.aggregatedJson(query), headers: JSON_TYPE };
        } catch (err) {
          if (err instanceof ChartError) return { status: err.status, body: err.body };
          throw err;
        }
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/chart-data/server/:serverId",
      access: "user",
      summary: "Chart data of one server (by id or name), with a per-job breakdown",
      description: DESCRIPTION,
      tags: ["charts"],
      params: ServerParamsSchema,
      query: ChartQuerySchema,
      noCache: true,
      internalError,
      responses: {
        200: { description: "Series, per-job breakdown and summary", schema: envelope(ServerDataSchema) },
        ...lookupErrors,
      },
      handler: (_ctx, { params, query }) => answer(() => charts.server(params.serverId, query)),
    }),
    defineRoute({
      method: "get",
      path: "/api/chart-data/server/:serverId/backup/:backupName",
      access: "user",
      summary: "Chart data of one backup job",
      description: DESCRIPTION,
      tags: ["charts"],
      params: JobParamsSchema,
      query: ChartQuerySchema,
      noCache: true,
      internalError,
      responses: {
        200: { description: "Series and summary of the job", schema: envelope(JobDataSchema) },
        ...lookupErrors,
      },
      handler: (_ctx, { params, query }) => answer(() => charts.job(params.serverId, params.backupName, query)),
    }),
  ];
}
