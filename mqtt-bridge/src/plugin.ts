import { z } from "zod";
import { type PluginDefinition, definePlugin } from "../../server/src/plugins/api";
import { MqttBridge } from "./bridge";
import { MQTT_BRIDGE_DEFAULTS, type MqttBridgeConfig } from "./config";
import { clearedEvent, overdueEvent, receivedEvent } from "./payloads";

const ms = (min: number, fallback: number) => z.int().min(min).max(86_400_000).default(fallback);

/** The bridge's configuration (defaults from the MQTT_* variables, see mqttBridgeConfig); `password` is a secret. */
export const MqttBridgeConfigSchema = z.object({
  url: z.string().regex(/^(mqtts?|wss?|tcp|tls|ssl):\/\/\S+$/i, "must be an mqtt://, mqtts://, ws:// or wss:// URL"),
  username: z.string().optional(),
  password: z.string().optional(),
  caFile: z.string().optional(),
  certFile: z.string().optional(),
  keyFile: z.string().optional(),
  clientId: z.string().min(1).max(128),
  baseTopic: z.string().min(1),
  discoveryPrefix: z.string().min(1),
  discovery: z.boolean().default(true),
  version: z.string(),
  resyncMs: z.int().min(0).default(60_000),
  reconnectMinMs: ms(1, MQTT_BRIDGE_DEFAULTS.reconnectMinMs),
  reconnectMaxMs: ms(1, MQTT_BRIDGE_DEFAULTS.reconnectMaxMs),
  connectTimeoutMs: ms(1, MQTT_BRIDGE_DEFAULTS.connectTimeoutMs),
  eventBuffer: z.int().min(0).max(100_000).default(MQTT_BRIDGE_DEFAULTS.eventBuffer),
  syncDelayMs: ms(0, MQTT_BRIDGE_DEFAULTS.syncDelayMs),
  birthDelayMaxMs: ms(0, MQTT_BRIDGE_DEFAULTS.birthDelayMaxMs),
  stopTimeoutMs: ms(0, MQTT_BRIDGE_DEFAULTS.stopTimeoutMs),
}) satisfies z.ZodType<MqttBridgeConfig>;

/**
 * The MQTT bridge as a plugin of the public plugin API (server/src/plugins/api.ts): it reads only ctx.services (job
 * states, summary, server lookup) and the plugin events. Handlers only note the change and return; publishing
 * happens in the bridge's debounced sync, so a slow or absent broker never delays an upload.
 */
export function createMqttBridgePlugin(): PluginDefinition<MqttBridgeConfig> {
  let bridge: MqttBridge | null = null;
  return definePlugin<MqttBridgeConfig>({
    name: "mqtt-bridge",
    description: "MQTT bridge with Home Assistant discovery (job, server and summary states, events)",
    configSchema: MqttBridgeConfigSchema,
    secrets: ["password"],
    start(ctx) {
      const b = new MqttBridge({ config: ctx.config, services: ctx.services, log: ctx.log, clock: ctx.clock });
      b.start();
      bridge = b;
      const now = () => ctx.clock.now();
      ctx.on("backupReceived", (e) => b.publishEvent(e.server.id, e.job.backupName, receivedEvent(e, now())));
      ctx.on("backupOverdue", (e) => b.publishEvent(e.server.id, e.job.backupName, overdueEvent(e, now())));
      ctx.on("overdueCleared", (e) => b.publishEvent(e.server.id, e.job.backupName, clearedEvent(e, now())));
      // created/renamed/updated change names and devices; deleted/merged make jobs vanish (their topics are cleared).
      ctx.on("serverChanged", (e) => {
        b.serverChanged(e.serverId);
        if (e.mergedInto) b.serverChanged(e.mergedInto);
      });
    },
    async stop() {
      const b = bridge;
      bridge = null;
      await b?.stop();
    },
  });
}
