/** The MQTT bridge with Home Assistant discovery: a plugin of the server's plugin host (see README.md). */
export { MqttBridgeConfigSchema, createMqttBridgePlugin } from "./plugin";
export { type MqttBridgeConfig, MQTT_BRIDGE_DEFAULTS, mqttBridgeConfig } from "./config";
export { MqttBridge, type MqttBridgeServices, redactUrl } from "./bridge";
export { Topics, entitySlug, segment } from "./topics";
