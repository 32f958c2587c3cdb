import type { CoreModule } from "../context";
import { metricsRoutes } from "./routes";

/** Prometheus: GET /metrics, computed from the database at scrape time (no background work). */
export const metricsModule: CoreModule = {
  name: "metrics",
  routes: (ctx) => metricsRoutes(ctx),
};
