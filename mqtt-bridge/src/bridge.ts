import fs from "node:fs";
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import type { PluginLogger, PluginServices } from "../../server/src/plugins/api";
import type { MqttBridgeConfig } from "./config";
import {
  type DiscoveryContext,
  OFFLINE,
  ONLINE,
  bridgeDiscovery,
  jobDiscovery,
  jobDiscoveryTopicsBySegments,
  serverDiscovery,
  serverDiscoveryTopicsBySegments,
} from "./discovery";
import { type EventPayload, type JobStatePayload, jobState, serverState, summaryState } from "./payloads";
import { Topics } from "./topics";

/**
 * mqtt (with its streams and packet codec, about 12 MB resident) is loaded when a bridge first connects, not when
 * the server starts: most installations never enable the bridge.
 */
function loadMqtt(): typeof import("mqtt") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("mqtt") as typeof import("mqtt");
}

/**
 * The read services the bridge uses: a subset of the public plugin API's PluginServices (the Duplicati UI address
 * of a server, from servers.get, becomes its HA device's configuration_url).
 */
export type MqttBridgeServices = Pick<PluginServices, "summary" | "jobs" | "servers">;

/** A retained topic whose payload on the broker is not known (learned from an earlier run, or after HA's birth). */
const UNKNOWN = "\u0000unknown";
/** A sync with thousands of jobs is sent in slices of this many unacknowledged publishes (MQTT ids are 16-bit). */
const MAX_INFLIGHT = 1_000;

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The broker URL for logs: credentials in it are masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username) u.username = "***";
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

/**
 * Publishes duplistatus' state to MQTT. Every retained topic (discovery configs, server and job states) is derived
 * from the read services in one pass (`sync`) and compared with what the broker is believed to hold, so only
 * changes go out and topics of jobs or servers that no longer exist are cleared with an empty retained message.
 * Events only ask for a sync (debounced): handlers never wait on the broker. While disconnected nothing is
 * published or queued except a bounded list of events; on every (re)connect the belief is reset and the next
 * sync re-derives and republishes every retained topic.
 */
export class MqttBridge {
  readonly topics: Topics;
  private client: MqttClient | null = null;
  /** Retained topic → payload we believe the broker holds (configs and server/job states; not status/summary). */
  private readonly retained = new Map<string, string>();
  private readonly pendingEvents: Array<{ topics: string[]; payload: string }> = [];
  /** Jobs changed while the broker was away (for the reconnect log; the sync re-derives everything anyway). */
  private readonly dirtyJobs = new Set<string>();
  private readonly serverUrls = new Map<string, string | undefined>();
  private droppedEvents = 0;
  private syncTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private birthTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private stopping = false;
  private reconnectDelay: number;
  private wasConnected = false;
  private connects = 0;
  /** QoS 1 publishes not yet acknowledged, and who waits for them to drop (a big sync is sent in slices). */
  private inflight = 0;
  private drained: Array<() => void> = [];
  private outageErrorLogged = false;

  constructor(
    private readonly deps: {
      config: MqttBridgeConfig;
      services: MqttBridgeServices;
      log: PluginLogger;
      clock: { now(): Date };
    },
  ) {
    this.topics = new Topics(deps.config.baseTopic, deps.config.discoveryPrefix);
    this.reconnectDelay = deps.config.reconnectMinMs;
  }

  private get discovery(): DiscoveryContext {
    return { topics: this.topics, version: this.deps.config.version };
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Connects in the background (a broker that is down does not fail the start; the client keeps retrying). */
  start(): void {
    const { config, log } = this.deps;
    const options = this.clientOptions();
    log.info(
      {
        url: redactUrl(config.url),
        clientId: config.clientId,
        baseTopic: config.baseTopic,
        discoveryPrefix: config.discoveryPrefix,
        discovery: config.discovery,
      },
      "MQTT bridge connecting",
    );
    const client = loadMqtt().connect(config.url, options);
    this.client = client;
    client.on("connect", () => this.onConnect());
    client.on("reconnect", () => {
      // Backoff: the next attempt after this one waits twice as long, up to the cap.
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, config.reconnectMaxMs);
      client.options.reconnectPeriod = this.reconnectDelay;
    });
    client.on("close", () => {
      if (this.wasConnected && !this.stopping) log.warn("MQTT connection lost; states are republished on reconnect");
      this.wasConnected = false;
    });
    client.on("error", (err) => {
      if (this.outageErrorLogged) log.debug({ error: errorText(err) }, "MQTT error");
      else log.warn({ error: errorText(err) }, "MQTT error");
      this.outageErrorLogged = true;
    });
    client.on("message", (topic, payload, packet) => this.onMessage(topic, payload, packet));
    if (config.resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        this.serverUrls.clear();
        this.requestSync();
      }, config.resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** An event for `<base>/events` and the job's event topic; it goes out after the states of the next sync. */
  publishEvent(serverId: string, job: string, event: EventPayload): void {
    if (this.stopping) return;
    this.pendingEvents.push({
      topics: [this.topics.events, this.topics.jobEvent(serverId, job)],
      payload: JSON.stringify(event),
    });
    if (this.pendingEvents.length > this.deps.config.eventBuffer) {
      this.pendingEvents.shift();
      this.droppedEvents++;
    }
    this.jobChanged(serverId, job);
  }

  jobChanged(serverId: string, job: string): void {
    if (!this.connected) this.dirtyJobs.add(`${serverId}\u0000${job}`);
    this.requestSync();
  }

  serverChanged(serverId: string): void {
    this.serverUrls.delete(serverId);
    this.requestSync();
  }

  /** Asks for a sync soon; bursts of requests give one sync. */
  requestSync(delayMs = this.deps.config.syncDelayMs): void {
    if (this.stopping || this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      void this.runSync();
    }, delayMs);
  }

  /** Runs a sync now, or once more after the one in progress. Resolves when no sync is running. */
  runSync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        try {
          await this.sync();
        } catch (err) {
          this.deps.log.warn({ error: errorText(err) }, "MQTT sync failed");
        }
      } while (this.syncAgain && this.connected);
    })().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  /** Publishes the last changes and `offline`, then disconnects (bounded by stopTimeoutMs). */
  async stop(): Promise<void> {
    const { config } = this.deps;
    for (const t of [this.resyncTimer, this.birthTimer]) if (t) clearTimeout(t);
    this.resyncTimer = null;
    this.birthTimer = null;
    const client = this.client;
    if (!client) return;
    const deadline = Date.now() + config.stopTimeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    if (this.syncTimer || this.syncing) {
      if (this.syncTimer) clearTimeout(this.syncTimer);
      this.syncTimer = null;
      await withTimeout(this.runSync(), left());
    }
    this.stopping = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    if (client.connected) {
      await withTimeout(client.publishAsync(this.topics.status, OFFLINE, { qos: 1, retain: true }), left());
      const ended = await withTimeout(
        client.endAsync(false).then(() => true),
        left(),
      );
      if (!ended) await withTimeout(client.endAsync(true), 500);
    } else {
      await withTimeout(client.endAsync(true), 500);
    }
    this.client = null;
    this.deps.log.info("MQTT bridge stopped");
  }

  private clientOptions(): IClientOptions {
    const { config } = this.deps;
    const read = (variable: string, file: string | undefined): Buffer | undefined => {
      if (!file) return undefined;
      try {
        return fs.readFileSync(file);
      } catch (err) {
        throw new Error(`${variable}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`, {
          cause: err,
        });
      }
    };
    const ca = read("MQTT_CA", config.caFile);
    const cert = read("MQTT_CERT", config.certFile);
    const key = read("MQTT_KEY", config.keyFile);
    return {
      clientId: config.clientId,
      ...(config.username !== undefined ? { username: config.username } : {}),
      ...(config.password !== undefined ? { password: config.password } : {}),
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      connectTimeout: config.connectTimeoutMs,
      reconnectPeriod: config.reconnectMinMs,
      // A refused connection (bad credentials, broker busy) is retried too, with the same backoff: fixing the
      // broker side is enough, no restart of duplistatus needed.
      reconnectOnConnackError: true,
      // We subscribe again ourselves on every connect, and nothing QoS 0 waits for a connection.
      resubscribe: false,
      queueQoSZero: false,
      will: { topic: this.topics.status, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    };
  }

  private onConnect(): void {
    const { log, config } = this.deps;
    const client = this.client;
    if (!client) return;
    const changed = this.dirtyJobs.size;
    this.connects++;
    if (this.connects === 1) log.info("MQTT bridge connected");
    else log.info({ changedJobs: changed }, "MQTT bridge reconnected; republishing every retained state");
    this.wasConnected = true;
    this.outageErrorLogged = false;
    this.reconnectDelay = config.reconnectMinMs;
    client.options.reconnectPeriod = config.reconnectMinMs;
    this.dirtyJobs.clear();
    if (this.droppedEvents > 0) {
      log.warn({ dropped: this.droppedEvents }, "MQTT events dropped while the broker was unreachable");
      this.droppedEvents = 0;
    }
    // The broker may have lost everything (restart without persistence): believe nothing, republish all.
    this.retained.clear();
    this.serverUrls.clear();
    this.publish(this.topics.status, ONLINE, true);
    // Our own availability topic too: several duplistatus instances may share it (docs/scale-out.md).
    const subscriptions = [
      this.topics.serverWildcard,
      this.topics.status,
      ...(config.discovery ? [this.topics.haStatus] : []),
    ];
    client
      .subscribeAsync(subscriptions, { qos: 1 })
      .catch((err: unknown) => log.warn({ error: errorText(err) }, "MQTT subscribe failed"))
      .finally(() => this.requestSync());
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (topic === this.topics.status) {
      // Another instance on the same broker went away (its last will, or its stop) while this one still runs: the
      // states it published are still served, so availability stays online. Live messages only: the retained one
      // delivered on subscribe is from before this connection.
      if (!packet.retain && !this.stopping && payload.toString("utf8") === OFFLINE) {
        this.publish(this.topics.status, ONLINE, true);
      }
      return;
    }
    if (topic === this.topics.haStatus) {
      if (payload.toString("utf8").trim() === ONLINE) this.homeAssistantStarted();
      return;
    }
    // Retained messages are what the broker holds from before (delivered on subscribe); live ones are our own echo.
    if (!packet.retain || payload.length === 0) return;
    const kind = this.topics.classify(topic);
    if (!kind) return;
    this.retained.set(topic, payload.toString("utf8"));
    if (this.deps.config.discovery) {
      const derived =
        kind.kind === "job"
          ? jobDiscoveryTopicsBySegments(this.topics, kind.server, kind.job)
          : serverDiscoveryTopicsBySegments(this.topics, kind.server);
      for (const t of derived) if (!this.retained.has(t)) this.retained.set(t, UNKNOWN);
    }
    this.requestSync();
  }

  /** HA's birth message: send every discovery config again after a short random delay (HA's advice). */
  private homeAssistantStarted(): void {
    if (this.birthTimer || this.stopping) return;
    this.birthTimer = setTimeout(
      () => {
        this.birthTimer = null;
        const prefix = `${this.topics.discoveryPrefix}/`;
        for (const t of this.retained.keys()) if (t.startsWith(prefix)) this.retained.set(t, UNKNOWN);
        if (this.syncTimer) clearTimeout(this.syncTimer);
        this.syncTimer = null;
        this.deps.log.info("Home Assistant started; republishing discovery");
        void this.runSync();
      },
      Math.floor(Math.random() * this.deps.config.birthDelayMaxMs),
    );
  }

  /** One pass: derive every retained topic from the services, publish what differs, clear what vanished. */
  private async sync(): Promise<void> {
    if (!this.connected) return;
    const { services, config } = this.deps;
    const [jobs, summary] = await Promise.all([services.jobs.list(), services.summary()]);
    const states = jobs.map(jobState);
    const byServer = new Map<string, JobStatePayload[]>();
    for (const s of states) {
      const list = byServer.get(s.serverId);
      if (list) list.push(s);
      else byServer.set(s.serverId, [s]);
    }

    const desired = new Map<string, string>();
    const put = (topic: string, value: unknown) => desired.set(topic, JSON.stringify(value));
    if (config.discovery) for (const e of bridgeDiscovery(this.discovery)) put(e.topic, e.config);
    for (const [serverId, serverJobs] of byServer) {
      const server = serverState(serverJobs);
      const url = config.discovery ? await this.serverUrl(serverId) : undefined;
      if (config.discovery) {
        for (const e of serverDiscovery(this.discovery, server, url)) put(e.topic, e.config);
        for (const j of serverJobs) for (const e of jobDiscovery(this.discovery, j, url)) put(e.topic, e.config);
      }
      put(this.topics.serverState(serverId), server);
      for (const j of serverJobs) put(this.topics.jobState(j.serverId, j.job), j);
    }
    if (!this.connected) return;

    let published = 0;
    for (const [topic, payload] of desired) {
      if (this.retained.get(topic) === payload) continue;
      if (!this.publish(topic, payload, true)) return;
      published++;
      if (this.inflight >= MAX_INFLIGHT) await this.drain();
    }
    // Vanished jobs and servers: discovery configs first (HA removes the entities), then their states.
    const vanished = [...this.retained.keys()].filter((t) => !desired.has(t));
    const prefix = `${this.topics.discoveryPrefix}/`;
    vanished.sort((a, b) => Number(!a.startsWith(prefix)) - Number(!b.startsWith(prefix)));
    for (const topic of vanished) {
      if (!this.publish(topic, "", true)) return;
      if (this.inflight >= MAX_INFLIGHT) await this.drain();
    }
    this.publish(this.topics.summary, JSON.stringify(summaryState(summary, states)), true);
    for (const e of this.pendingEvents.splice(0)) for (const t of e.topics) this.publish(t, e.payload, false);
    if (published > 0 || vanished.length > 0) {
      this.deps.log.debug({ published, cleared: vanished.length, jobs: states.length }, "MQTT states published");
    }
  }

  private async serverUrl(serverId: string): Promise<string | undefined> {
    const lookup = this.deps.services.servers;
    if (this.serverUrls.has(serverId)) return this.serverUrls.get(serverId);
    let url: string | undefined;
    try {
      url = (await lookup.get(serverId))?.url || undefined;
    } catch {
      url = undefined;
    }
    this.serverUrls.set(serverId, url);
    return url;
  }

  /**
   * Fire and forget (QoS 1). False when not connected: nothing is queued then. A retained publish updates the
   * belief at once (an empty payload removes it); if it fails, the topic becomes unknown so a later sync repeats it.
   */
  private publish(topic: string, payload: string, retain: boolean): boolean {
    const client = this.client;
    if (!client?.connected) return false;
    if (retain && this.isTracked(topic)) {
      if (payload === "") this.retained.delete(topic);
      else this.retained.set(topic, payload);
    }
    this.inflight++;
    client.publish(topic, payload, { qos: 1, retain }, (err) => {
      this.inflight--;
      if (this.inflight < MAX_INFLIGHT / 2) for (const wake of this.drained.splice(0)) wake();
      if (!err) return;
      this.deps.log.warn({ topic, error: errorText(err) }, "MQTT publish failed");
      if (retain && this.isTracked(topic)) this.retained.set(topic, UNKNOWN);
    });
    return true;
  }

  /** Waits until half of the in-flight publishes are acknowledged (or the connection drops: then the sync stops). */
  private async drain(): Promise<void> {
    while (this.inflight >= MAX_INFLIGHT / 2 && this.connected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        this.drained.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private isTracked(topic: string): boolean {
    return topic !== this.topics.status && topic !== this.topics.summary;
  }
}
