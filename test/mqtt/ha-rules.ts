import { expect } from "chai";

/**
 * Home Assistant's MQTT discovery rules for the sensor, binary_sensor and event platforms, as far as our payloads
 * use them (integrations.md B1, B2, B4). HA itself cannot run here, so the tests check each config field by field
 * against these rules and render its value_template against the state JSON it points at.
 */

const OBJECT_ID = /^[a-zA-Z0-9_-]+$/;
const ENTITY_ID = /^(sensor|binary_sensor|event)\.[a-z0-9_]+$/;

const COMMON_KEYS = [
  "name",
  "unique_id",
  "default_entity_id",
  "state_topic",
  "value_template",
  "json_attributes_topic",
  "json_attributes_template",
  "availability_topic",
  "payload_available",
  "payload_not_available",
  "device",
  "origin",
  "device_class",
  "entity_category",
  "icon",
  "qos",
  "enabled_by_default",
  "expire_after",
  "force_update",
];
const PLATFORM_KEYS: Record<string, string[]> = {
  sensor: ["unit_of_measurement", "state_class", "suggested_display_precision", "options"],
  binary_sensor: ["payload_on", "payload_off", "off_delay"],
  event: ["event_types"],
};
const DEVICE_KEYS = [
  "identifiers",
  "name",
  "manufacturer",
  "model",
  "sw_version",
  "hw_version",
  "serial_number",
  "configuration_url",
  "via_device",
];
const SENSOR_DEVICE_CLASSES: Record<string, { units: (string | undefined)[]; stateClasses: (string | undefined)[] }> = {
  timestamp: { units: [undefined], stateClasses: [undefined] },
  enum: { units: [undefined], stateClasses: [undefined] },
  duration: {
    units: ["d", "h", "min", "s", "ms"],
    stateClasses: [undefined, "measurement", "total", "total_increasing"],
  },
  data_size: {
    units: ["B", "kB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "PiB", "bit", "kbit", "Mbit", "Gbit"],
    stateClasses: [undefined, "measurement", "total", "total_increasing"],
  },
};
const BINARY_DEVICE_CLASSES = ["problem", "connectivity", "running"];
const STATE_CLASSES = ["measurement", "total", "total_increasing"];

export interface Expectations {
  availabilityTopic: string;
  /** Topic → the JSON document published there (to render value templates against). */
  statePayloads?: Map<string, string>;
}

/**
 * Renders the only template forms the bridge uses, as Jinja would: `{{ value_json.f }}` (None for null) and
 * `{{ 'ON' if value_json.f else 'OFF' }}`. Anything else fails the test (so a new form gets a rule here first).
 */
export function renderTemplate(template: string, value: unknown): string {
  const json = value as Record<string, unknown>;
  let m = /^\{\{ value_json\.([A-Za-z_][A-Za-z0-9_]*) \}\}$/.exec(template);
  if (m?.[1]) {
    const v = json[m[1]];
    expect(v, `${template}: field missing in the state JSON`).to.not.equal(undefined);
    if (v === null) return "None";
    if (typeof v === "boolean") return v ? "True" : "False";
    if (typeof v === "object") expect.fail(`${template}: renders an object`);
    return String(v);
  }
  m = /^\{\{ 'ON' if value_json\.([A-Za-z_][A-Za-z0-9_]*) else 'OFF' \}\}$/.exec(template);
  if (m?.[1]) {
    const v = json[m[1]];
    expect(v, `${template}: field missing in the state JSON`).to.be.a("boolean");
    return v ? "ON" : "OFF";
  }
  return expect.fail(`unsupported template form: ${template}`);
}

/** Checks one discovery config; returns the rendered state when the state payload is known. */
export function checkDiscovery(
  topic: string,
  raw: string,
  exp: Expectations,
): { config: Record<string, unknown>; rendered?: string } {
  const parts = topic.split("/");
  const component = parts[parts.length - 3] ?? "";
  const objectId = parts[parts.length - 2] ?? "";
  expect(parts[parts.length - 1], topic).to.equal("config");
  expect(Object.keys(PLATFORM_KEYS), `${topic}: component`).to.include(component);
  expect(objectId, `${topic}: object id charset`).to.match(OBJECT_ID);

  const config = JSON.parse(raw) as Record<string, unknown>;
  const where = (k: string) => `${topic}: ${k}`;
  const allowed = [...COMMON_KEYS, ...(PLATFORM_KEYS[component] ?? [])];
  for (const key of Object.keys(config)) expect(allowed, where(`unknown key "${key}"`)).to.include(key);
  expect(config, where("object_id is deprecated")).to.not.have.property("object_id");

  // identity
  expect(config.unique_id, where("unique_id")).to.be.a("string").and.equal(objectId);
  expect(config.default_entity_id, where("default_entity_id")).to.be.a("string").and.match(ENTITY_ID);
  expect((config.default_entity_id as string).split(".")[0], where("default_entity_id domain")).to.equal(component);
  expect(config.name, where("name")).to.be.a("string").and.not.equal("");
  expect(config.state_topic, where("state_topic")).to.be.a("string").and.not.match(/[+#]/);

  // device and origin
  const device = config.device as Record<string, unknown>;
  expect(device, where("device")).to.be.an("object");
  for (const key of Object.keys(device)) expect(DEVICE_KEYS, where(`device key "${key}"`)).to.include(key);
  expect(device.identifiers, where("device.identifiers")).to.be.an("array").with.length.greaterThan(0);
  for (const id of device.identifiers as unknown[]) expect(id, where("device identifier")).to.be.a("string");
  expect(device.name, where("device.name")).to.be.a("string").and.not.equal("");
  if (device.configuration_url !== undefined) {
    expect(device.configuration_url, where("configuration_url")).to.match(/^https?:\/\//);
  }
  const origin = config.origin as Record<string, unknown>;
  expect(origin, where("origin")).to.be.an("object");
  expect(origin.name, where("origin.name")).to.be.a("string").and.not.equal("");
  expect(origin.sw, where("origin.sw")).to.be.a("string");
  expect(origin.url, where("origin.url")).to.match(/^https?:\/\//);

  // availability: on <base>/status, except the connectivity sensor that reads that topic itself
  const isConnectivity = config.device_class === "connectivity";
  if (isConnectivity) {
    expect(config.state_topic, where("connectivity state_topic")).to.equal(exp.availabilityTopic);
    expect(config, where("connectivity availability")).to.not.have.property("availability_topic");
    expect(config.payload_on).to.equal("online");
    expect(config.payload_off).to.equal("offline");
  } else {
    expect(config.availability_topic, where("availability_topic")).to.equal(exp.availabilityTopic);
    expect(config.payload_available, where("payload_available")).to.equal("online");
    expect(config.payload_not_available, where("payload_not_available")).to.equal("offline");
  }
  if (config.entity_category !== undefined) {
    expect(config.entity_category, where("entity_category (config is not allowed on sensors)")).to.equal("diagnostic");
  }
  expect(config, where("no expire_after on backup entities")).to.not.have.property("expire_after");
  if (config.qos !== undefined) expect([0, 1, 2]).to.include(config.qos);

  // platform rules
  const dc = config.device_class as string | undefined;
  const unit = config.unit_of_measurement as string | undefined;
  const sc = config.state_class as string | undefined;
  if (component === "sensor") {
    if (sc !== undefined) expect(STATE_CLASSES, where("state_class")).to.include(sc);
    if (dc !== undefined) {
      const rule = SENSOR_DEVICE_CLASSES[dc];
      expect(rule, where(`sensor device_class ${dc}`)).to.not.equal(undefined);
      expect(rule?.units, where(`unit ${unit} for ${dc}`)).to.include(unit);
      expect(rule?.stateClasses, where(`state_class ${sc} for ${dc}`)).to.include(sc);
    }
    if (dc === "enum") {
      expect(config.options, where("enum options")).to.be.an("array").with.length.greaterThan(0);
    } else {
      expect(config, where("options only on enum sensors")).to.not.have.property("options");
    }
    expect(config.value_template, where("value_template")).to.be.a("string");
  } else if (component === "binary_sensor") {
    expect(BINARY_DEVICE_CLASSES, where("binary_sensor device_class")).to.include(dc);
    expect(config, where("no unit on binary sensors")).to.not.have.any.keys("unit_of_measurement", "state_class");
    if (!isConnectivity) {
      expect(config.payload_on, where("payload_on")).to.equal("ON");
      expect(config.payload_off, where("payload_off")).to.equal("OFF");
      expect(config.value_template, where("value_template")).to.be.a("string");
    }
  } else {
    expect(config.event_types, where("event_types")).to.be.an("array").with.length.greaterThan(0);
    expect(config, where("no device_class/unit on our events")).to.not.have.any.keys(
      "unit_of_measurement",
      "state_class",
    );
  }

  // the template against the state it reads
  const stateRaw = exp.statePayloads?.get(config.state_topic as string);
  if (stateRaw === undefined || typeof config.value_template !== "string") return { config };
  const rendered = renderTemplate(config.value_template, JSON.parse(stateRaw));
  checkRenderedState(topic, config, rendered);
  return { config, rendered };
}

/** What HA would do with the rendered state: a timestamp must carry a zone, an enum be an option, a number parse. */
export function checkRenderedState(topic: string, config: Record<string, unknown>, rendered: string): void {
  const where = `${topic}: rendered "${rendered}"`;
  const dc = config.device_class as string | undefined;
  if (rendered === "None") {
    // HA shows unknown; never valid for binary sensors
    expect(config.payload_on, where).to.equal(undefined);
    return;
  }
  if (dc === "timestamp") {
    expect(rendered, where).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
    expect(Number.isNaN(Date.parse(rendered)), where).to.equal(false);
  } else if (dc === "enum") {
    expect(config.options as string[], where).to.include(rendered);
  } else if (config.payload_on !== undefined) {
    expect([config.payload_on, config.payload_off], where).to.include(rendered);
  } else if (config.unit_of_measurement !== undefined || config.state_class !== undefined) {
    expect(Number.isFinite(Number(rendered)) && rendered.trim() !== "", where).to.equal(true);
  }
}
