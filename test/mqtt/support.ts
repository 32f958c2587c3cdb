import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { type MqttClient, connectAsync } from "mqtt";
import { freePort } from "../support/child-server";

/**
 * Real brokers for the MQTT bridge tests. The shared broker is the machine's Mosquitto on 127.0.0.1:1883 when it
 * answers (CI starts it), else aedes in-process on a free port; MQTT_TEST_BROKER=aedes forces aedes. Every test
 * run uses its own base topic and discovery prefix and clears what it retained, so parallel runs and leftovers on
 * the shared Mosquitto do not meet. A broker that a test restarts is always a private one (its own mosquitto
 * process on a free port, or aedes); the system Mosquitto is never restarted.
 */

export interface TestBroker {
  kind: "mosquitto" | "aedes";
  url: string;
  port: number;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function portOpen(port: number, host = "127.0.0.1", timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** aedes in-process; `port` 0 picks a free one. */
export async function startAedes(port = 0): Promise<TestBroker> {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as net.AddressInfo).port;
  return {
    kind: "aedes",
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function mosquittoAvailable(): boolean {
  return spawnSync("mosquitto", ["-h"], { stdio: "ignore" }).error === undefined;
}

/** A private mosquitto in the foreground (our child; stopped by its own handle only), no persistence. */
export async function startPrivateMosquitto(port: number): Promise<TestBroker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstest-mosquitto-"));
  const conf = path.join(dir, "mosquitto.conf");
  fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const proc: ChildProcess = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  let exitedNow = false;
  void exited.then(() => (exitedNow = true));
  for (let i = 0; i < 100; i++) {
    if (exitedNow) throw new Error(`mosquitto exited during start-up:\n${out}`);
    if (await portOpen(port)) {
      return {
        kind: "mosquitto",
        url: `mqtt://127.0.0.1:${port}`,
        port,
        async close() {
          if (!exitedNow) proc.kill("SIGTERM");
          await exited;
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await sleep(50);
  }
  proc.kill("SIGKILL");
  await exited;
  throw new Error(`mosquitto did not listen on ${port}:\n${out}`);
}

/** A broker the test may stop and start again on the same port. */
export async function startPrivateBroker(port: number): Promise<TestBroker> {
  if (process.env.MQTT_TEST_BROKER !== "aedes" && mosquittoAvailable()) return startPrivateMosquitto(port);
  return startAedes(port);
}

/** The machine's Mosquitto on 1883 if it answers, else a fresh aedes. close() only stops what was started here. */
export async function sharedBroker(): Promise<TestBroker> {
  if (process.env.MQTT_TEST_BROKER !== "aedes" && (await portOpen(1883))) {
    return { kind: "mosquitto", url: "mqtt://127.0.0.1:1883", port: 1883, close: async () => undefined };
  }
  return startAedes(0);
}

export { freePort };

/** Unique topics for one test run: `dstest-<random>` and `dstest-<random>-ha`. */
export function uniqueTopics(): { base: string; prefix: string } {
  const id = randomBytes(4).toString("hex");
  return { base: `dstest-${id}`, prefix: `dstest-${id}-ha` };
}

export interface Message {
  topic: string;
  payload: string;
  retain: boolean;
  seq: number;
}

/**
 * A subscriber that records every message under some filters. `latest` is the broker's retained state as seen live:
 * the last payload per topic (an empty payload removes the topic).
 */
export class Recorder {
  readonly messages: Message[] = [];
  readonly latest = new Map<string, string>();
  private seq = 0;
  private waiters = new Set<() => void>();

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      const m = { topic, payload: payload.toString("utf8"), retain: packet.retain, seq: ++this.seq };
      this.messages.push(m);
      if (m.payload === "") this.latest.delete(topic);
      else this.latest.set(topic, m.payload);
      for (const w of this.waiters) w();
    });
  }

  static async start(url: string, filters: string[]): Promise<Recorder> {
    const client = await connectAsync(url, {
      clientId: `dstest-rec-${randomBytes(4).toString("hex")}`,
      reconnectPeriod: 200,
    });
    const r = new Recorder(client);
    await client.subscribeAsync(filters, { qos: 1 });
    return r;
  }

  /** A mark for `since`: only messages after it count. */
  mark(): number {
    return this.seq;
  }

  since(mark: number): Message[] {
    return this.messages.filter((m) => m.seq > mark);
  }

  /** Resolves with the first value the probe returns (not undefined), re-probing on every message and every 100 ms. */
  async waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 100);
        this.waiters.add(wake);
      });
    }
  }

  /** Waits until `topic`'s latest payload parses and satisfies `ok`; returns it. */
  async waitForJson<T = Record<string, unknown>>(
    topic: string,
    ok: (v: T) => boolean = () => true,
    timeoutMs?: number,
  ): Promise<T> {
    return this.waitFor(
      `${topic}`,
      () => {
        const raw = this.latest.get(topic);
        if (raw === undefined) return undefined;
        const v = JSON.parse(raw) as T;
        return ok(v) ? v : undefined;
      },
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/**
 * What the broker retains under the filters now, read by a fresh subscriber (every message it gets at subscribe
 * time carries the retain flag); collection ends after `quietMs` without a message.
 */
export async function retainedSnapshot(url: string, filters: string[], quietMs = 400): Promise<Map<string, string>> {
  const client = await connectAsync(url, {
    clientId: `dstest-snap-${randomBytes(4).toString("hex")}`,
    reconnectPeriod: 0,
  });
  const found = new Map<string, string>();
  const seen = { last: Date.now() };
  client.on("message", (topic, payload, packet) => {
    seen.last = Date.now();
    if (packet.retain && payload.length > 0) found.set(topic, payload.toString("utf8"));
  });
  await client.subscribeAsync(filters, { qos: 1 });
  seen.last = Date.now();
  while (Date.now() - seen.last < quietMs) await sleep(50);
  await client.endAsync(true);
  return found;
}

/** Removes every retained message under the filters (publishes empty retained payloads). */
export async function clearRetained(url: string, filters: string[]): Promise<number> {
  const topics = [...(await retainedSnapshot(url, filters, 300)).keys()];
  if (topics.length === 0) return 0;
  const client = await connectAsync(url, {
    clientId: `dstest-clr-${randomBytes(4).toString("hex")}`,
    reconnectPeriod: 0,
  });
  await Promise.all(topics.map((t) => client.publishAsync(t, "", { qos: 1, retain: true })));
  await client.endAsync();
  return topics.length;
}

export async function publishRetained(url: string, entries: Array<[string, string]>, retain = true): Promise<void> {
  const client = await connectAsync(url, {
    clientId: `dstest-pub-${randomBytes(4).toString("hex")}`,
    reconnectPeriod: 0,
  });
  for (const [t, p] of entries) await client.publishAsync(t, p, { qos: 1, retain });
  await client.endAsync();
}
