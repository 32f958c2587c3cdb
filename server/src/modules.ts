import { authModule } from "./auth/module";
import type { CoreModule } from "./context";
import { ingestRoutes } from "./ingest/routes";
import { reportingRoutes } from "./reporting/routes";

/**
 * The rooms of the core, in start order. Each owns its routes (and background jobs); app.ts only assembles them.
 * The system room (health, ping, OpenAPI) is added by app.ts because the OpenAPI document needs every other route.
 */
export const CORE_MODULES: CoreModule[] = [
  authModule,
  { name: "ingest", routes: (ctx) => ingestRoutes(ctx.services.ingest) },
  { name: "reporting", routes: (ctx) => reportingRoutes(ctx.services.reporting) },
];
