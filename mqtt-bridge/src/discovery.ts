import { EVENT_TYPES, type JobStatePayload, STATUS_OPTIONS, type ServerStatePayload } from "./payloads";
import { type Topics, entitySlug, idOf, segment } from "./topics";

/**
 * Home Assistant MQTT discovery, one retained config per entity (`<prefix>/<component>/<unique_id>/config`), full
 * key names. Every entity has a unique_id built from stable ids (see topics.ts), a default_entity_id (not the
 * deprecated object_id), the device it belongs to, the origin, and availability on `<base>/status` (the bridge
 * connectivity sensor, which reads that topic itself, has none). Rules followed: timestamp and enum sensors carry
 * no unit and no state_class; sizes are raw bytes with unit B (device_class data_size); durations are seconds;
 * binary sensors get explicit ON/OFF from their templates (a Jinja boolean renders as True/False).
 */

export const ORIGIN_URL = "https://github.com/wsj-br/duplistatus";
export const ONLINE = "online";
export const OFFLINE = "offline";

export type Component = "sensor" | "binary_sensor" | "event";

export interface DiscoveryEntry {
  component: Component;
  uniqueId: string;
  topic: string;
  config: Record<string, unknown>;
}

export interface DiscoveryContext {
  topics: Topics;
  version: string;
}

interface EntitySpec {
  key: string;
  component: Component;
  name: string;
  field?: string;
  /** binary sensors: `{{ 'ON' if value_json.<field> else 'OFF' }}` */
  flag?: boolean;
  extra?: Record<string, unknown>;
}

const value = (field: string) => `{{ value_json.${field} }}`;
const onOff = (field: string) => `{{ 'ON' if value_json.${field} else 'OFF' }}`;

const TIMESTAMP = { device_class: "timestamp" };
const BYTES = {
  device_class: "data_size",
  unit_of_measurement: "B",
  state_class: "measurement",
  suggested_display_precision: 0,
};
const COUNT = { state_class: "measurement" };
const DIAGNOSTIC = { entity_category: "diagnostic" };
const PROBLEM = { device_class: "problem", payload_on: "ON", payload_off: "OFF" };
const STATUS_ENUM = { device_class: "enum", options: [...STATUS_OPTIONS] };

/** Per job (on its server's device; names start with the job name, HA puts the device name in front). */
const JOB_ENTITIES: EntitySpec[] = [
  {
    key: "status",
    component: "sensor",
    name: "status",
    field: "status",
    extra: { ...STATUS_ENUM, icon: "mdi:backup-restore" },
  },
  { key: "last_backup", component: "sensor", name: "last backup", field: "lastBackupAt", extra: TIMESTAMP },
  { key: "last_success", component: "sensor", name: "last success", field: "lastSuccessAt", extra: TIMESTAMP },
  {
    key: "duration",
    component: "sensor",
    name: "duration",
    field: "durationSeconds",
    extra: {
      device_class: "duration",
      unit_of_measurement: "s",
      state_class: "measurement",
      suggested_display_precision: 0,
    },
  },
  { key: "uploaded", component: "sensor", name: "uploaded", field: "uploadedBytes", extra: BYTES },
  { key: "size", component: "sensor", name: "source size", field: "sizeBytes", extra: BYTES },
  { key: "storage", component: "sensor", name: "storage used", field: "storageBytes", extra: BYTES },
  {
    key: "versions",
    component: "sensor",
    name: "versions",
    field: "versions",
    extra: { ...COUNT, icon: "mdi:history" },
  },
  { key: "warnings", component: "sensor", name: "warnings", field: "warnings", extra: { ...COUNT, ...DIAGNOSTIC } },
  { key: "errors", component: "sensor", name: "errors", field: "errors", extra: { ...COUNT, ...DIAGNOSTIC } },
  {
    key: "next_expected",
    component: "sensor",
    name: "next expected",
    field: "nextExpectedAt",
    extra: { ...TIMESTAMP, ...DIAGNOSTIC },
  },
  { key: "overdue", component: "binary_sensor", name: "overdue", field: "overdue", flag: true, extra: PROBLEM },
  { key: "failed", component: "binary_sensor", name: "failed", field: "failed", flag: true, extra: PROBLEM },
  { key: "event", component: "event", name: "event", extra: { event_types: [...EVENT_TYPES] } },
];

/** Per server (on its device). */
const SERVER_ENTITIES: EntitySpec[] = [
  {
    key: "status",
    component: "sensor",
    name: "Status",
    field: "status",
    extra: { ...STATUS_ENUM, icon: "mdi:server" },
  },
  { key: "overdue", component: "binary_sensor", name: "Overdue", field: "overdue", flag: true, extra: PROBLEM },
  { key: "failed", component: "binary_sensor", name: "Failed", field: "failed", flag: true, extra: PROBLEM },
  { key: "last_backup", component: "sensor", name: "Last backup", field: "lastBackupAt", extra: TIMESTAMP },
  { key: "jobs", component: "sensor", name: "Backup jobs", field: "jobs", extra: { ...COUNT, ...DIAGNOSTIC } },
];

/** On the bridge device: the connectivity sensor, the summary, and the event entity of every job. */
const BRIDGE_ENTITIES: EntitySpec[] = [
  { key: "servers", component: "sensor", name: "Servers", field: "totalServers", extra: COUNT },
  { key: "jobs", component: "sensor", name: "Backup jobs", field: "totalBackupJobs", extra: COUNT },
  { key: "overdue_jobs", component: "sensor", name: "Overdue jobs", field: "overdueBackupsCount", extra: COUNT },
  { key: "failed_jobs", component: "sensor", name: "Failed jobs", field: "failedBackups", extra: COUNT },
  {
    key: "any_overdue",
    component: "binary_sensor",
    name: "Any backup overdue",
    field: "anyOverdue",
    flag: true,
    extra: PROBLEM,
  },
  {
    key: "any_failed",
    component: "binary_sensor",
    name: "Any backup failed",
    field: "anyFailed",
    flag: true,
    extra: PROBLEM,
  },
  { key: "last_backup", component: "sensor", name: "Last backup", field: "lastBackupAt", extra: TIMESTAMP },
  { key: "storage", component: "sensor", name: "Storage used", field: "totalStorageUsed", extra: BYTES },
  { key: "events", component: "event", name: "Backup events", extra: { event_types: [...EVENT_TYPES] } },
];

export const JOB_ENTITY_KEYS = JOB_ENTITIES.map((e) => ({ key: e.key, component: e.component }));
export const SERVER_ENTITY_KEYS = SERVER_ENTITIES.map((e) => ({ key: e.key, component: e.component }));

function origin(ctx: DiscoveryContext) {
  return { name: "duplistatus", sw: ctx.version, url: ORIGIN_URL };
}

export function bridgeDeviceId(topics: Topics): string {
  return `${topics.instance}_bridge`;
}

function bridgeDevice(ctx: DiscoveryContext) {
  const base = ctx.topics.base;
  return {
    identifiers: [bridgeDeviceId(ctx.topics)],
    name: base === "duplistatus" ? "duplistatus" : `duplistatus (${base})`,
    manufacturer: "duplistatus",
    model: "Backup monitor",
    sw_version: ctx.version,
  };
}

export function serverDeviceId(topics: Topics, serverId: string): string {
  return idOf(topics.instance, segment(serverId));
}

function serverDevice(ctx: DiscoveryContext, s: { serverId: string; server: string }, url?: string) {
  return {
    identifiers: [serverDeviceId(ctx.topics, s.serverId)],
    name: s.server,
    manufacturer: "Duplicati",
    model: "Duplicati server",
    via_device: bridgeDeviceId(ctx.topics),
    ...(url && /^https?:\/\//i.test(url) ? { configuration_url: url } : {}),
  };
}

function entry(
  ctx: DiscoveryContext,
  spec: EntitySpec,
  uniqueId: string,
  entityBase: string,
  device: Record<string, unknown>,
  stateTopic: string,
  extra: Record<string, unknown> = {},
): DiscoveryEntry {
  const config: Record<string, unknown> = {
    name: spec.name,
    unique_id: uniqueId,
    default_entity_id: `${spec.component}.${entityBase}_${spec.key}`,
    state_topic: stateTopic,
    ...(spec.field ? { value_template: spec.flag ? onOff(spec.field) : value(spec.field) } : {}),
    availability_topic: ctx.topics.status,
    payload_available: ONLINE,
    payload_not_available: OFFLINE,
    ...spec.extra,
    ...extra,
    device,
    origin: origin(ctx),
    qos: 1,
  };
  return { component: spec.component, uniqueId, topic: ctx.topics.discovery(spec.component, uniqueId), config };
}

/** The bridge device: connectivity on `<base>/status` plus the summary entities. */
export function bridgeDiscovery(ctx: DiscoveryContext): DiscoveryEntry[] {
  const { topics } = ctx;
  const device = bridgeDevice(ctx);
  const entityBase = entitySlug(topics.instance);
  const connectivityId = idOf(topics.instance, "bridge");
  const connectivity: DiscoveryEntry = {
    component: "binary_sensor",
    uniqueId: connectivityId,
    topic: topics.discovery("binary_sensor", connectivityId),
    config: {
      name: "Bridge",
      unique_id: connectivityId,
      default_entity_id: `binary_sensor.${entityBase}_bridge`,
      state_topic: topics.status,
      payload_on: ONLINE,
      payload_off: OFFLINE,
      device_class: "connectivity",
      entity_category: "diagnostic",
      device,
      origin: origin(ctx),
      qos: 1,
    },
  };
  return [
    connectivity,
    ...BRIDGE_ENTITIES.map((spec) =>
      entry(
        ctx,
        spec,
        idOf(topics.instance, spec.key),
        entityBase,
        device,
        spec.component === "event" ? topics.events : topics.summary,
      ),
    ),
  ];
}

export function serverDiscovery(ctx: DiscoveryContext, s: ServerStatePayload, url?: string): DiscoveryEntry[] {
  const { topics } = ctx;
  const device = serverDevice(ctx, s, url);
  const entityBase = `${entitySlug(topics.instance)}_${entitySlug(s.server)}`;
  return SERVER_ENTITIES.map((spec) =>
    entry(
      ctx,
      spec,
      idOf(topics.instance, segment(s.serverId), spec.key),
      entityBase,
      device,
      topics.serverState(s.serverId),
    ),
  );
}

export function jobDiscovery(ctx: DiscoveryContext, j: JobStatePayload, url?: string): DiscoveryEntry[] {
  const { topics } = ctx;
  const device = serverDevice(ctx, j, url);
  const entityBase = `${entitySlug(topics.instance)}_${entitySlug(j.server)}_${entitySlug(j.job)}`;
  const stateTopic = topics.jobState(j.serverId, j.job);
  return JOB_ENTITIES.map((spec) => {
    const isEvent = spec.component === "event";
    return entry(
      ctx,
      { ...spec, name: `${j.job} ${spec.name}` },
      jobEntityId(topics, j.serverId, j.job, spec.key),
      entityBase,
      device,
      isEvent ? topics.jobEvent(j.serverId, j.job) : stateTopic,
      // The status sensor carries the whole state as attributes (next expected, counts, overdue since…).
      spec.key === "status" ? { json_attributes_topic: stateTopic } : {},
    );
  });
}

export function jobEntityId(topics: Topics, serverId: string, job: string, key: string): string {
  return idOf(topics.instance, segment(serverId), segment(job), key);
}

/** The config topics of a job or a server by their topic segments (to clear leftovers of an earlier run). */
export function jobDiscoveryTopicsBySegments(topics: Topics, server: string, job: string): string[] {
  return JOB_ENTITY_KEYS.map(({ key, component }) =>
    topics.discovery(component, idOf(topics.instance, server, job, key)),
  );
}

export function serverDiscoveryTopicsBySegments(topics: Topics, server: string): string[] {
  return SERVER_ENTITY_KEYS.map(({ key, component }) =>
    topics.discovery(component, idOf(topics.instance, server, key)),
  );
}
