import { randomBytes } from "node:crypto";
import type { AppConfig } from "../../server/src/config";

/** What the bridge plugin is started with (from the MQTT_* variables, see mqttBridgeConfig). */
export interface MqttBridgeConfig {
  /** mqtt://, mqtts://, ws:// or wss:// */
  url: string;
  username?: string;
  password?: string;
  /** PEM contents (read from the MQTT_CA / MQTT_CERT / MQTT_KEY files at start). */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  clientId: string;
  baseTopic: string;
  discoveryPrefix: string;
  discovery: boolean;
  /** Our version, for the HA origin and the bridge device. */
  version: string;
  /** Full re-derivation of every retained topic from the database, also catching jobs deleted through maintenance. */
  resyncMs: number;
  /** First reconnect delay; doubles per failed attempt up to reconnectMaxMs, back to the first on success. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  connectTimeoutMs: number;
  /** Events seen while the broker is away are kept, up to this many (the oldest are dropped). */
  eventBuffer: number;
  /** Bursts of changes are published together after this delay. */
  syncDelayMs: number;
  /** Discovery is re-sent this long (random, up to) after Home Assistant's birth message, as HA advises. */
  birthDelayMaxMs: number;
  /** How long a clean stop waits for the last publishes and the "offline" status. */
  stopTimeoutMs: number;
}

export const MQTT_BRIDGE_DEFAULTS = {
  reconnectMinMs: 1_000,
  reconnectMaxMs: 60_000,
  connectTimeoutMs: 10_000,
  eventBuffer: 100,
  syncDelayMs: 50,
  birthDelayMaxMs: 3_000,
  stopTimeoutMs: 3_000,
} as const;

/**
 * The bridge's settings for this process, or null when MQTT_URL is unset (no bridge). Under NODE_ENV=test the
 * reconnect and birth delays are short so tests of a restarted broker do not wait a minute.
 */
export function mqttBridgeConfig(
  config: Pick<AppConfig, "mqttUrl" | "mqtt" | "nodeEnv">,
  version: string,
): MqttBridgeConfig | null {
  if (!config.mqttUrl) return null;
  const m = config.mqtt;
  return {
    url: config.mqttUrl,
    username: m.username,
    password: m.password,
    caFile: m.ca,
    certFile: m.cert,
    keyFile: m.key,
    // Random per process: two instances (or a restart racing the old session) never take over each other's session.
    clientId: m.clientId ?? `duplistatus-${randomBytes(4).toString("hex")}`,
    baseTopic: m.baseTopic,
    discoveryPrefix: m.discoveryPrefix,
    discovery: m.discovery,
    version,
    resyncMs: m.resyncSeconds * 1000,
    ...MQTT_BRIDGE_DEFAULTS,
    ...(config.nodeEnv === "test"
      ? { reconnectMinMs: 100, reconnectMaxMs: 1_000, syncDelayMs: 10, birthDelayMaxMs: 100, connectTimeoutMs: 3_000 }
      : {}),
  };
}
