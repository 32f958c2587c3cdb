import type { CoreModule } from "../context";
import { dashboardRoutes } from "./routes";

/** The web UI's read models: dashboard, server detail, latest run per job, unified configuration. */
export const dashboardModule: CoreModule = {
  name: "dashboard",
  routes: (ctx) => dashboardRoutes(ctx),
};
