import net from "node:net";
import { Writable } from "node:stream";
import { expect } from "chai";
import pino from "pino";
import {
  MqttBridge,
  type MqttBridgeServices,
  Topics,
  entitySlug,
  mqttBridgeConfig,
  redactUrl,
  segment,
} from "../../mqtt-bridge/src";
import { ConfigError, loadConfig } from "../../server/src/config";
import { systemClock } from "../../server/src/core/clock";
import { freePort } from "./support";

/** The bridge's services with nothing in them (the broker is unreachable in these tests anyway). */
const noServices = {
  summary: async () => ({}) as never,
  jobs: { list: async () => [] },
  servers: { get: async () => null },
} as unknown as MqttBridgeServices;

describe("MQTT bridge: names, configuration and logs", () => {
  describe("topic segments", () => {
    it("keeps plain lower-case ids as they are", () => {
      expect(segment("66f5ffc7ff474a73a3c9cba4ac7bfb65")).to.equal("66f5ffc7ff474a73a3c9cba4ac7bfb65");
      expect(segment("nas-home")).to.equal("nas-home");
      expect(segment("db_1")).to.equal("db_1");
    });

    it("makes anything else safe, readable and stable: a slug plus 8 hex digits of its hash", () => {
      for (const raw of [
        "WSJ-SER5 Local files",
        "a/b",
        "x+y",
        "#all",
        "nul\u0000byte",
        "Ünïcödé",
        "日本語",
        "",
        "a__b",
        "-x-",
      ]) {
        const s = segment(raw);
        expect(s, raw).to.match(/^[a-z0-9]+(?:[_-][a-z0-9]+)*$/);
        expect(s, raw).to.not.match(/[+#/]/);
        expect(s.includes("\0"), raw).to.equal(false);
        expect(s, raw).to.not.include("__");
        expect(s, raw).to.match(/_[0-9a-f]{8}$/);
        expect(segment(raw), "stable").to.equal(s);
      }
      expect(segment("WSJ-SER5 Local files")).to.match(/^wsj_ser5_local_files_[0-9a-f]{8}$/);
      expect(segment("Ünïcödé")).to.match(/^unicode_[0-9a-f]{8}$/);
    });

    it("never gives two names the same segment", () => {
      const names = [
        "Files",
        "files",
        "FILES",
        "my files",
        "my_files",
        "my-files",
        "my/files",
        "my+files",
        "a".repeat(65),
      ];
      const segments = names.map(segment);
      expect(new Set(segments).size).to.equal(names.length);
    });

    it("builds entity ids from display names with [a-z0-9_] only", () => {
      expect(entitySlug("DB-PROD-01")).to.equal("db_prod_01");
      expect(entitySlug("  Laptop to B2 ")).to.equal("laptop_to_b2");
      expect(entitySlug("日本語")).to.match(/^h[0-9a-f]{8}$/);
    });

    it("lays out the topics under the base topic and the discovery prefix", () => {
      const t = new Topics("duplistatus", "homeassistant");
      expect(t.instance).to.equal("duplistatus");
      expect(t.status).to.equal("duplistatus/status");
      expect(t.summary).to.equal("duplistatus/summary");
      expect(t.events).to.equal("duplistatus/events");
      expect(t.haStatus).to.equal("homeassistant/status");
      expect(t.serverState("abc")).to.equal("duplistatus/server/abc/state");
      expect(t.jobState("abc", "Files")).to.match(/^duplistatus\/server\/abc\/backup\/files_[0-9a-f]{8}\/state$/);
      expect(t.discovery("sensor", "duplistatus__abc__status")).to.equal(
        "homeassistant/sensor/duplistatus__abc__status/config",
      );
      expect(t.classify(t.jobState("abc", "Files"))).to.deep.equal({
        kind: "job",
        server: "abc",
        job: segment("Files"),
      });
      expect(t.classify(t.serverState("abc"))).to.deep.equal({ kind: "server", server: "abc" });
      expect(t.classify("duplistatus/server/abc/backup/x/event")).to.equal(null);
      expect(new Topics("home/backups", "ha").instance).to.match(/^home_backups_[0-9a-f]{8}$/);
    });
  });

  describe("configuration (MQTT_* variables)", () => {
    const base = { DATA_DIR: "/tmp/x" };

    it("runs no bridge without MQTT_URL", () => {
      expect(mqttBridgeConfig(loadConfig(base), "1.0.0")).to.equal(null);
      expect(mqttBridgeConfig(loadConfig({ ...base, MQTT_URL: "" }), "1.0.0")).to.equal(null);
    });

    it("has the documented defaults", () => {
      const c = mqttBridgeConfig(
        loadConfig({ ...base, MQTT_URL: "mqtt://127.0.0.1:1883", NODE_ENV: "production" }),
        "1.2.3",
      );
      expect(c).to.include({
        url: "mqtt://127.0.0.1:1883",
        baseTopic: "duplistatus",
        discoveryPrefix: "homeassistant",
        discovery: true,
        version: "1.2.3",
        resyncMs: 60_000,
        reconnectMinMs: 1_000,
        reconnectMaxMs: 60_000,
      });
      expect(c?.clientId).to.match(/^duplistatus-[0-9a-f]{8}$/);
      expect(c?.username).to.equal(undefined);
      expect(c?.password).to.equal(undefined);
    });

    it("reads every option", () => {
      const c = mqttBridgeConfig(
        loadConfig({
          ...base,
          MQTT_URL: "mqtts://broker.lan:8883",
          MQTT_USERNAME: "ha",
          MQTT_PASSWORD: "pw",
          MQTT_CA: "/etc/ca.pem",
          MQTT_CERT: "/etc/c.pem",
          MQTT_KEY: "/etc/k.pem",
          MQTT_CLIENT_ID: "my-client",
          MQTT_BASE_TOPIC: "home/duplistatus",
          MQTT_DISCOVERY_PREFIX: "ha",
          MQTT_DISCOVERY: "false",
          MQTT_RESYNC_SECONDS: "0",
        }),
        "1.0.0",
      );
      expect(c).to.include({
        url: "mqtts://broker.lan:8883",
        username: "ha",
        password: "pw",
        caFile: "/etc/ca.pem",
        certFile: "/etc/c.pem",
        keyFile: "/etc/k.pem",
        clientId: "my-client",
        baseTopic: "home/duplistatus",
        discoveryPrefix: "ha",
        discovery: false,
        resyncMs: 0,
      });
    });

    it("rejects a bad URL or topic at start-up, naming the variable and not echoing the value", () => {
      const bad = (env: Record<string, string>, variable: string) => {
        let err: unknown;
        try {
          loadConfig({ ...base, ...env });
        } catch (e) {
          err = e;
        }
        expect(err, variable).to.be.instanceOf(ConfigError);
        expect((err as Error).message).to.include(variable);
        return (err as Error).message;
      };
      expect(bad({ MQTT_URL: "http://user:secret@host" }, "MQTT_URL")).to.not.include("secret");
      bad({ MQTT_URL: "mqtt://127.0.0.1:1883", MQTT_BASE_TOPIC: "a/+/b" }, "MQTT_BASE_TOPIC");
      bad({ MQTT_URL: "mqtt://127.0.0.1:1883", MQTT_BASE_TOPIC: "a//b" }, "MQTT_BASE_TOPIC");
      bad({ MQTT_URL: "mqtt://127.0.0.1:1883", MQTT_DISCOVERY_PREFIX: "home#" }, "MQTT_DISCOVERY_PREFIX");
      bad({ MQTT_URL: "mqtt://127.0.0.1:1883", MQTT_DISCOVERY: "maybe" }, "MQTT_DISCOVERY");
    });
  });

  describe("client", () => {
    it("reconnects with a doubling delay, capped", async () => {
      const attempts: number[] = [];
      const srv = net.createServer((socket) => {
        attempts.push(Date.now());
        socket.destroy(); // a broker that hangs up at once
      });
      await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", () => resolve()));
      const port = (srv.address() as net.AddressInfo).port;
      const config = mqttBridgeConfig(
        loadConfig({ DATA_DIR: "/tmp/x", NODE_ENV: "test", MQTT_URL: `mqtt://127.0.0.1:${port}` }),
        "1",
      );
      if (!config) throw new Error("no config");
      const bridge = new MqttBridge({
        config: { ...config, reconnectMinMs: 100, reconnectMaxMs: 400 },
        services: noServices,
        log: pino({ level: "silent" }),
        clock: systemClock,
      });
      bridge.start();
      await new Promise((resolve) => setTimeout(resolve, 2_600));
      await bridge.stop();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
      // 100, 200, 400, 400… ms: about 8 attempts in 2.6 s (a fixed 100 ms would give about 25).
      expect(attempts.length, `gaps ${gaps.join(",")}`).to.be.within(5, 11);
      expect(gaps[0], "first retry").to.be.below(300);
      for (const g of gaps.slice(3)) expect(g, `capped gaps ${gaps.join(",")}`).to.be.within(350, 800);
    });
  });

  describe("logs", () => {
    it("never contain the password, from MQTT_PASSWORD or from the URL", async () => {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString("utf8"));
          done();
        },
      });
      const log = pino({ level: "trace" }, sink);
      const port = await freePort(); // nothing listens: connection errors get logged
      const config = mqttBridgeConfig(
        loadConfig({
          DATA_DIR: "/tmp/x",
          NODE_ENV: "test",
          MQTT_URL: `mqtt://someone:url-s3cret@127.0.0.1:${port}`,
          MQTT_USERNAME: "someone",
          MQTT_PASSWORD: "opt-s3cret",
        }),
        "1.0.0",
      );
      if (!config) throw new Error("no config");
      const bridge = new MqttBridge({
        config,
        services: noServices,
        log,
        clock: systemClock,
      });
      bridge.start();
      await new Promise((resolve) => setTimeout(resolve, 600));
      await bridge.stop();
      const text = lines.join("");
      expect(text).to.include("MQTT bridge connecting");
      expect(text).to.include("MQTT error");
      expect(text).to.not.include("s3cret");
      expect(redactUrl("mqtts://u:p@h:8883/")).to.equal("mqtts://***:***@h:8883/");
    });
  });
});
