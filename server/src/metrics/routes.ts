import { z } from "zod";
import type { AppContext } from "../context";
import { type RouteDef, defineRoute } from "../http/route";
import { JobStateService } from "../reporting/job-state-service";
import { VERSION } from "../version";
import { MetricsCollector, PROMETHEUS_CONTENT_TYPE } from "./collector";

/**
 * GET /metrics for Prometheus. Who may scrape is decided once, from METRICS_ACCESS: "token" (default) makes it a
 * "user" route — a read or admin API token (Authorization: Bearer, X-Api-Key or ?api_key=) or a logged-in user;
 * "open" makes it public.
 */
export function metricsRoutes(ctx: AppContext): RouteDef[] {
  const collector = new MetricsCollector({
    db: ctx.db,
    jobs: new JobStateService({ db: ctx.db, clock: ctx.clock }),
    version: VERSION,
    processMetrics: ctx.config.metricsProcess,
  });
  return [
    defineRoute({
      method: "get",
      path: "/metrics",
      access: ctx.config.metricsAccess === "open" ? "public" : "user",
      summary: "Prometheus metrics (text exposition format 0.0.4)",
      description:
        "Per-job state (last run, last success, status, overdue, sizes, versions), run counters by status and " +
        "totals, read from the database at scrape time. Open to anyone with METRICS_ACCESS=open; otherwise a read " +
        "or admin API token (Authorization: Bearer, X-Api-Key or ?api_key=) or a logged-in user.",
      tags: ["metrics"],
      noCache: true,
      responses: {
        200: { description: "Metrics", contentType: PROMETHEUS_CONTENT_TYPE, schema: z.string() },
      },
      handler: async () => ({
        body: await collector.render(),
        headers: { "Content-Type": PROMETHEUS_CONTENT_TYPE },
      }),
    }),
  ];
}
