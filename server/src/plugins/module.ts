import type { CoreModule } from "../context";
import { pluginRoutes } from "./routes";
import { pluginRuntime } from "./runtime";

/**
 * The plugins room: the management API (/api/plugins…), the webhook test send and the plugins' own endpoints. The
 * host itself is built and started by app.ts (it runs after the core rooms have started).
 */
export const pluginsModule: CoreModule = {
  name: "plugins",
  routes: (ctx) => {
    const runtime = pluginRuntime(ctx);
    return runtime ? pluginRoutes(ctx, runtime) : [];
  },
};
