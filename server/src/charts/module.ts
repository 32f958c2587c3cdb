import type { CoreModule } from "../context";
import { ChartService } from "./chart-service";
import { chartRoutes } from "./routes";

/**
 * Chart data (/api/chart-data/*): bucketed time series for the web UI and the Grafana data source. The roll-ups it
 * reads are maintained by the upload transaction (addRunToChartRollups) and rebuilt with rebuildChartRollups.
 */
export const chartsModule: CoreModule = {
  name: "charts",
  routes: (ctx) => chartRoutes(new ChartService({ db: ctx.db, clock: ctx.clock })),
};
