import fs from "node:fs";
import { expect } from "chai";
import { z } from "zod";
import { systemClock } from "../../server/src/core/clock";
import { EventBus } from "../../server/src/core/events";
import { createLogger } from "../../server/src/core/logger";
import {
  PluginConfigError,
  PluginHost,
  type PluginSettingsRow,
  type PluginSettingsStore,
  compileDefinition,
} from "../../server/src/core/plugin-host";
import { SecretBox } from "../../server/src/core/secrets";
import type { PluginDefinition, PluginServices, PluginTemplates } from "../../server/src/plugins/api";
import { redactSecrets, secretPaths } from "../../server/src/plugins/secret-paths";
import { tempDataDir } from "../support/server";
import { sleep } from "./support";

/** The plugin host on its own: isolation (timing, copies, timeouts), lifecycle, configuration and secrets. */

class MemoryStore implements PluginSettingsStore {
  rows = new Map<string, PluginSettingsRow>();
  async get(name: string) {
    return this.rows.get(name) ?? null;
  }
  async setEnabled(name: string, enabled: boolean) {
    this.rows.set(name, { config: null, ...this.rows.get(name), enabled });
  }
  async setConfig(name: string, config: string) {
    this.rows.set(name, { enabled: true, ...this.rows.get(name), config });
  }
}

const RUN = { status: "Success", backup_name: "Files" } as never;
const payload = () => ({
  server: { id: "s1", name: "s1", alias: "" },
  job: { serverId: "s1", backupName: "Files" },
  run: { ...(RUN as object) } as never,
  isLatest: true,
  nextExpectedAt: null,
  overdueSince: null,
});

describe("plugin host", function () {
  let dir: string;
  let events: EventBus;
  let store: MemoryStore;
  let host: PluginHost;

  const newHost = (options: { handlerTimeoutMs?: number; startTimeoutMs?: number } = {}) =>
    new PluginHost({
      events,
      log: createLogger("silent"),
      clock: systemClock,
      services: {} as PluginServices,
      templates: {} as PluginTemplates,
      audit: async () => undefined,
      secrets: SecretBox.openOrCreate(dir),
      store,
      host: { version: "test", timeZone: "UTC" },
      dataDir: `${dir}/plugin-data`,
      ...options,
    });

  beforeEach(() => {
    dir = tempDataDir();
    events = new EventBus(createLogger("silent"));
    store = new MemoryStore();
    host = newHost();
  });
  afterEach(async () => {
    await host.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("runs handlers after the emitter has returned, each on its own copy of the payload", async () => {
    const seen: string[] = [];
    await host.add({
      name: "first",
      start(ctx) {
        ctx.on("backupReceived", (e) => {
          seen.push(`first:${e.run.status}`);
          (e.run as { status: string }).status = "CHANGED";
        });
      },
    });
    await host.add({
      name: "second",
      start(ctx) {
        ctx.on("backupReceived", (e) => {
          seen.push(`second:${e.run.status}`);
        });
      },
    });
    await host.startAll();
    const p = payload();
    events.emit("backupReceived", p);
    expect(seen, "nothing ran inside emit()").to.deep.equal([]);
    await events.idle();
    expect(seen).to.deep.equal(["first:Success", "second:Success"]);
    expect((p.run as { status: string }).status, "the emitter's payload is untouched").to.equal("Success");
  });

  it("stops waiting for a handler that never finishes (timeout), counting it as a problem", async () => {
    host = newHost({ handlerTimeoutMs: 50 });
    await host.add({
      name: "slow",
      start(ctx) {
        ctx.on("backupReceived", () => new Promise<void>(() => undefined));
      },
    });
    await host.startAll();
    events.emit("backupReceived", payload());
    const started = Date.now();
    await events.idle();
    expect(Date.now() - started).to.be.below(1_000);
    expect(host.get("slow")).to.include({
      state: "degraded",
      handlerErrors: 1,
      error: "backupReceived handler still running after 50 ms",
    });
  });

  it("releases handlers still running when the plugin stops, and aborts its signal", async () => {
    let signal: AbortSignal | undefined;
    await host.add({
      name: "stuck",
      start(ctx) {
        signal = ctx.signal;
        ctx.on("backupReceived", () => new Promise<void>(() => undefined));
      },
    });
    await host.startAll();
    events.emit("backupReceived", payload());
    await sleep(10);
    await host.stop("stuck");
    await events.idle();
    expect(signal?.aborted).to.equal(true);
    expect(host.get("stuck")).to.include({ state: "stopped" });
    events.emit("backupReceived", payload());
    await events.idle();
  });

  it("fails a start that throws, or does not finish in time, and starts the others", async () => {
    host = newHost({ startTimeoutMs: 100 });
    let stopped = 0;
    await host.add({
      name: "throws",
      start() {
        throw new Error("nope");
      },
      stop() {
        stopped++;
      },
    });
    await host.add({ name: "hangs", start: () => new Promise<void>(() => undefined) });
    await host.add({ name: "fine", start() {} });
    await host.add({ name: "typo", start: (ctx) => ctx.on("backupRecieved" as never, () => undefined) });
    await host.startAll();
    expect(host.get("typo").error).to.match(/^start failed: ctx\.on\("backupRecieved"\): unknown event/);
    expect(host.get("throws")).to.include({ state: "failed", error: "start failed: nope" });
    expect(stopped, "stop() is given the chance to close what start opened").to.equal(1);
    expect(host.get("hangs")).to.include({
      state: "failed",
      error: "start failed: start() did not finish within 100 ms",
    });
    expect(host.get("fine")).to.include({ state: "running" });
  });

  it('validates, defaults, encrypts and redacts a configuration; {"set": true} keeps a secret', async () => {
    let seen: unknown;
    const def: PluginDefinition<{ url: string; token?: string; retries: number; headers: Record<string, string> }> = {
      name: "cfg",
      configSchema: z.object({
        url: z.string(),
        token: z.string().optional(),
        retries: z.int().default(3),
        headers: z.record(z.string(), z.string()).default({}),
      }),
      secrets: ["token", "headers.*"],
      start(ctx) {
        seen = ctx.config;
      },
    };
    await host.add(def, { defaults: { url: "http://default" } });
    await host.startAll();
    expect(seen).to.deep.equal({ url: "http://default", retries: 3, headers: {} });

    try {
      await host.setConfig("cfg", { url: 5 });
      expect.fail("accepted an invalid configuration");
    } catch (err) {
      expect(err).to.be.instanceOf(PluginConfigError);
      expect((err as PluginConfigError).issues.map((i) => i.field)).to.deep.equal(["url"]);
    }
    const { view } = await host.setConfig("cfg", { url: "http://x", token: "tok-1", headers: { A: "a-secret" } });
    expect(view.config).to.deep.equal({
      url: "http://x",
      token: { set: true },
      retries: 3,
      headers: { A: { set: true } },
    });
    expect(store.rows.get("cfg")?.config).to.not.include("tok-1").and.not.include("a-secret");
    expect(seen).to.deep.equal({ url: "http://x", token: "tok-1", retries: 3, headers: { A: "a-secret" } });

    await host.setConfig("cfg", { url: "http://y", token: { set: true }, headers: { A: { set: true }, B: "b" } });
    expect(seen).to.deep.equal({ url: "http://y", token: "tok-1", retries: 3, headers: { A: "a-secret", B: "b" } });
  });

  it("refuses malformed definitions with a readable reason", () => {
    const bad: Array<[unknown, RegExp]> = [
      [null, /does not export a plugin definition/],
      [{ name: "Bad Name", start() {} }, /invalid plugin name/],
      [{ name: "ok" }, /has no start/],
      [{ name: "ok", start() {}, configSchema: { type: "object", if: {}, then: {} } }, /not a usable JSON Schema/],
      [{ name: "ok", start() {}, secrets: ["a..b"] }, /invalid secret path/],
      [
        { name: "ok", start() {}, endpoints: [{ path: "/metrics", access: "public", summary: "x" }] },
        /must be relative/,
      ],
      [{ name: "ok", start() {}, endpoints: [{ path: "x", access: "root", summary: "x" }] }, /invalid access/],
    ];
    for (const [def, reason] of bad) expect(() => compileDefinition(def, "user")).to.throw(reason);
    expect(
      compileDefinition(
        { name: "m", start() {}, endpoints: [{ path: "/metrics", access: "public", summary: "m" }] },
        "builtin",
      ).endpoints.get("/metrics"),
    ).to.equal("/metrics");
  });

  it("finds secret paths with wildcards over objects and arrays", () => {
    const config = { targets: [{ url: "u1", headers: { A: "1", B: "" } }, { url: "u2" }], token: "t" };
    const patterns = ["targets.*.url", "targets.*.headers.*", "token", "missing.*"];
    expect(secretPaths(config, patterns)).to.deep.equal([
      ["targets", 0, "url"],
      ["targets", 1, "url"],
      ["targets", 0, "headers", "A"],
      ["targets", 0, "headers", "B"],
      ["token"],
    ]);
    expect(redactSecrets(config, patterns)).to.deep.equal({
      targets: [{ url: { set: true }, headers: { A: { set: true }, B: "" } }, { url: { set: true } }],
      token: { set: true },
    });
  });
});
