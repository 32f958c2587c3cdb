import { z } from "zod";
import { type PluginDefinition, type PluginEndpoint, definePlugin } from "../plugins/api";
import { MetricsCollector, PROMETHEUS_CONTENT_TYPE } from "./collector";

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
      const collector = new MetricsCollector({
        jobs: ctx.services.jobs,
        summary: () => ctx.services.summary(),
        version: ctx.host.version,
        processMetrics: ctx.config.processMetrics,
      });
      ctx.serve("/metrics", async () => ({ body: await collector.render() }));
    },
  });
}
