import { z } from "zod";
import type { Logger } from "../core/logger";
import type { Plugin, PluginContext as LegacyPluginContext } from "../core/plugin-host";
import type { JobStateView, PluginDefinition, ServerDetails, Summary } from "./api";

/**
 * TEMPORARY bridge for a plugin still written against the pre-API shape (core/plugin-host.ts `Plugin`, started with
 * `{config, log, clock, services, on}`): it becomes a PluginDefinition whose legacy services are built from the public
 * context only. Used for the MQTT bridge until it is moved onto plugins/api.ts; then this file goes.
 */
export interface LegacyServices {
  jobs: { list(): Promise<JobStateView[]> };
  reporting: { summary(): Promise<Summary> };
  servers: { get(serverId: string): Promise<ServerDetails | null> };
}

export function legacyPlugin<TConfig extends object>(
  plugin: Plugin<TConfig, LegacyServices>,
  options: { description?: string; secrets?: string[] } = {},
): PluginDefinition<TConfig> {
  return {
    name: plugin.name,
    description: options.description,
    // The configuration comes from the environment; any object is accepted here.
    configSchema: z.custom<TConfig>((v) => typeof v === "object" && v !== null && !Array.isArray(v), {
      error: "must be an object",
    }),
    secrets: options.secrets ?? [],
    start(ctx) {
      const legacy: LegacyPluginContext<TConfig, LegacyServices> = {
        config: ctx.config,
        log: ctx.log as unknown as Logger,
        clock: ctx.clock,
        services: {
          jobs: ctx.services.jobs,
          reporting: { summary: () => ctx.services.summary() },
          servers: ctx.services.servers,
        },
        on: (name, handler) => ctx.on(name, handler),
      };
      return plugin.start(legacy);
    },
    stop: () => plugin.stop(),
  };
}
