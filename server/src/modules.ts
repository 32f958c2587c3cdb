import { maintenanceModule } from "./admin/module";
import { auditModule } from "./audit/module";
import { chartsModule } from "./charts/module";
import { authModule } from "./auth/module";
import type { CoreModule } from "./context";
import { dashboardModule } from "./dashboard/module";
import { duplicatiModule } from "./duplicati/module";
import { importerModule } from "./importer/module";
import { RateLimiter } from "./http/rate-limit";
import { ingestRoutes } from "./ingest/routes";
import { monitoringModule } from "./monitoring/module";
import { notificationsModule } from "./notifications/module";
import { pluginsModule } from "./plugins/module";
import { reportingRoutes } from "./reporting/routes";
import { serversModule } from "./servers/module";
import { applicationLogsModule } from "./system/application-logs";
import { cronModule } from "./system/cron-module";
import { tokensModule } from "./tokens/module";

/**
 * The rooms of the core, in start order. Each owns its routes (and background jobs); app.ts only assembles them.
 * The system room (health, ping, OpenAPI) is added by app.ts because the OpenAPI document needs every other route.
 */
export const CORE_MODULES: CoreModule[] = [
  applicationLogsModule,
  authModule,
  {
    name: "ingest",
    routes: (ctx) => ingestRoutes(ctx.services.ingest, new RateLimiter(ctx.config.uploadRateLimit, 60_000)),
  },
  { name: "reporting", routes: (ctx) => reportingRoutes(ctx.services.reporting) },
  tokensModule,
  auditModule,
  maintenanceModule,
  importerModule,
  monitoringModule,
  notificationsModule,
  serversModule,
  dashboardModule,
  chartsModule,
  duplicatiModule,
  cronModule,
  pluginsModule,
];
