import type { Plugin } from "../../server/src/core/plugin-host";
import { MqttBridge, type MqttBridgeServices } from "./bridge";
import type { MqttBridgeConfig } from "./config";
import { clearedEvent, overdueEvent, receivedEvent } from "./payloads";

/**
 * The MQTT bridge as a plugin of the server's plugin host: it reads only ctx.services (job states, summary, server
 * lookup) and the domain events. Handlers only note the change and return; publishing happens in the bridge's
 * debounced sync, so a slow or absent broker never delays an upload.
 */
export function createMqttBridgePlugin(): Plugin<MqttBridgeConfig, MqttBridgeServices> {
  let bridge: MqttBridge | null = null;
  return {
    name: "mqtt-bridge",
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
  };
}
