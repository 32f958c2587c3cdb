import type { AppContext } from "../context";
import type { PluginHost } from "../core/plugin-host";

/** What the plugins room's routes need beside the application context: the host and the user plugins' folder. */
export interface PluginRuntime {
  host: PluginHost;
  pluginsDir: string;
  version: string;
}

const runtimes = new WeakMap<AppContext, PluginRuntime>();

/** app.ts attaches the plugin host to its context before the routes are built. */
export function attachPluginRuntime(ctx: AppContext, runtime: PluginRuntime): void {
  runtimes.set(ctx, runtime);
}

export function pluginRuntime(ctx: AppContext): PluginRuntime | undefined {
  return runtimes.get(ctx);
}
