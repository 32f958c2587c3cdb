import { z } from "zod";
import { type PluginDefinition, type PluginEndpoint, definePlugin } from "../plugins/api";
import type { MetricsCollector } from "./collector";

/** Prometheus text format 0.0.4 (prom-client's Registry.PROMETHEUS_CONTENT_TYPE; test/api/metrics.spec.ts pins it). */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * The collector and prom-client (with @opentelemetry/api, about 12 MB resident) are loaded at the first scrape, or at
 * start when the process metrics are on (they accumulate from then): a server nobody scrapes never loads them.
 */
function loadCollector(): typeof import("./collector") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("./collector") as typeof import("./collector");
}

export const MetricsPluginConfigSchema = z.object({
  /** Add prom-client's default process and Node.js metrics (METRICS_PROCESS). */
  processMetrics: z.boolean().default(false),
});
export type MetricsPluginConfig = z.infer<typeof MetricsPluginConfigSchema>;

/**
 * Prometheus: GET /metrics, computed at scrape time from the plugin API's read services (no background work, no
 * database access of its own). Who may scrape is decided once, from METRICS_ACCESS: "token" (default) makes it a
 * "user" endpoint — a read or admin API token (Authorization: Bearer, X-Api-Key or ?api_key=) or a logged-in user;
 * "open" makes it public.
 */
export function createMetricsPlugin(options: {
  access: PluginEndpoint["access"];
}): PluginDefinition<MetricsPluginConfig> {
  return definePlugin<MetricsPluginConfig>({
    name: "metrics",
    description: "Prometheus metrics at GET /metrics",
    configSchema: MetricsPluginConfigSchema,
    endpoints: [
      {
        path: "/metrics",
        access: options.access,
        summary: "Prometheus metrics",
        description:
          "Text exposition format 0.0.4: per-job state (last run, last success, status, overdue, sizes, versions), " +
          "run counters by status and totals, read at scrape time. Open to anyone with METRICS_ACCESS=open; " +
          "otherwise a read or admin API token (Authorization: Bearer, X-Api-Key or ?api_key=) or a logged-in user.",
        contentType: PROMETHEUS_CONTENT_TYPE,
      },
    ],
    start(ctx) {
      let collector: MetricsCollector | undefined;
      const getCollector = (): MetricsCollector =>
        (collector ??= new (loadCollector().MetricsCollector)({
          jobs: ctx.services.jobs,
          summary: () => ctx.services.summary(),
          version: ctx.host.version,
          processMetrics: ctx.config.processMetrics,
        }));
      if (ctx.config.processMetrics) getCollector();
      ctx.serve("/metrics", async () => ({ body: await getCollector().render() }));
    },
  });
}
