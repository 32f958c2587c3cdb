import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { makeReport, uploadOk } from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { type TestServer, startTestServer, tempDataDir } from "../support/server";
import { eventually } from "../api/notifications-support";
import { json, plugin, plugins, sleep, writeFile } from "./support";

/**
 * User plugins loaded from a temporary plugins folder (PLUGINS_DIR) by the real server: listed with their state,
 * configured through the API (JSON Schema, encrypted secrets), reloaded from disk, disabled and enabled without a
 * restart; plugins that fail to load, throw at start, throw in a handler or never finish one do not affect the
 * uploads or the other plugins.
 */

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

const PROBE_INDEX = `
const crypto = require("node:crypto");
const { VERSION } = require("./version.js");
module.exports = ({ definePlugin }) =>
  definePlugin({
    name: "probe",
    version: VERSION,
    description: "records what it hears",
    configSchema: {
      type: "object",
      properties: { greeting: { type: "string", default: "hello" }, apiKey: { type: "string" } },
      additionalProperties: false,
    },
    secrets: ["apiKey"],
    endpoints: [
      { path: "state", access: "user", summary: "What the probe heard" },
      { path: "text/metrics", access: "public", summary: "Text", contentType: "text/plain; version=0.0.4; charset=utf-8" },
    ],
    start(ctx) {
      const seen = [];
      ctx.on("backupReceived", (e) => {
        seen.push({ event: "backupReceived", backup: e.job.backupName, status: e.run.status });
      });
      ctx.on("serverChanged", (e) => {
        seen.push({ event: "serverChanged", change: e.change });
      });
      ctx.serve("text/metrics", () => ({ body: "probe_up 1\\n" }));
      ctx.serve("state", async () => ({
        body: {
          version: VERSION,
          greeting: ctx.config.greeting,
          apiKeySha: ctx.config.apiKey ? crypto.createHash("sha256").update(ctx.config.apiKey).digest("hex") : null,
          seen,
          summaryServers: (await ctx.services.summary()).totalServers,
          dataDirExists: require("node:fs").existsSync(ctx.dataDir),
        },
      }));
    },
    stop() {},
  });
`;

const probeVersion = (v: string) => `module.exports = { VERSION: ${JSON.stringify(v)} };\n`;

const esmProbe = (v: string) => `
export default {
  name: "esm-probe",
  version: ${JSON.stringify(v)},
  endpoints: [{ path: "info", access: "user", summary: "version" }],
  start(ctx) {
    ctx.serve("info", () => ({ body: { v: ${JSON.stringify(v)} } }));
  },
};
`;

/** Subscribed before the probe (file order): mutates its copy of the payload, then throws. */
const THROWS_IN_HANDLER = `
module.exports = {
  name: "a-throws-in-handler",
  start(ctx) {
    ctx.on("backupReceived", (e) => {
      e.run.status = "MUTATED";
      e.job.backupName = "MUTATED";
      throw new Error("boom in handler");
    });
  },
};
`;

const THROWS_AT_START = `
module.exports = {
  name: "throws-at-start",
  start(ctx) {
    ctx.on("backupReceived", () => {});
    throw new Error("cannot start here");
  },
};
`;

const HANGS = `
module.exports = {
  name: "hangs",
  start(ctx) {
    ctx.on("backupReceived", () => new Promise(() => {}));
  },
};
`;

const BROKEN = `module.exports = { name: "broken", start( {`;
const FIXED = `module.exports = { name: "broken", version: "fixed", start() {} };\n`;

describe("user plugins from a plugins folder", function () {
  let dataDir: string;
  let pluginsDir: string;
  let server: TestServer;
  let admin: BrowserSession;
  let viewer: BrowserSession;
  let runNo = 0;

  const env = () => ({ PLUGINS_DIR: pluginsDir, LOGIN_RATE_LIMIT: "1000" });

  const upload = async (backupName = "Files") => {
    runNo += 1;
    await uploadOk(
      server,
      makeReport({
        machineId: "m-user-plugins",
        machineName: "host-a",
        backupName,
        begin: new Date(Date.UTC(2025, 0, 1, 0, runNo)).toISOString(),
      }),
    );
  };

  const probeState = async (session: BrowserSession = admin) =>
    json<{
      version: string;
      greeting: string;
      apiKeySha: string | null;
      seen: Array<Record<string, string>>;
      summaryServers: number;
      dataDirExists: boolean;
    }>(await session.request("/api/plugins/probe/state"), 200);

  before(async () => {
    dataDir = tempDataDir();
    pluginsDir = path.join(tempDataDir("duplistatus-plugins-"), "plugins");
    fs.mkdirSync(pluginsDir, { recursive: true });
    fs.copyFileSync(
      path.join(__dirname, "../../examples/plugins/jsonl-runs.mjs"),
      path.join(pluginsDir, "jsonl-runs.mjs"),
    );
    writeFile(pluginsDir, "probe/index.js", PROBE_INDEX);
    writeFile(pluginsDir, "probe/version.js", probeVersion("1.0.0"));
    writeFile(pluginsDir, "esm-probe.mjs", esmProbe("1"));
    writeFile(pluginsDir, "a-throws-in-handler.cjs", THROWS_IN_HANDLER);
    writeFile(pluginsDir, "throws-at-start.cjs", THROWS_AT_START);
    writeFile(pluginsDir, "hangs.cjs", HANGS);
    writeFile(pluginsDir, "broken.cjs", BROKEN);
    writeFile(pluginsDir, "_ignored.cjs", "throw new Error('never loaded')");
    writeFile(pluginsDir, "notes.txt", "not a plugin");
    server = await startTestServer(env(), { dataDir });
    admin = await login(server);
    const created = await admin.json("POST", "/api/users", {
      username: "viewer",
      password: "Viewer-Passw0rd",
      isAdmin: false,
      requirePasswordChange: false,
    });
    expect(created.status).to.equal(201);
    viewer = await login(server, "viewer", "Viewer-Passw0rd");
  });

  after(async () => {
    await server?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(path.dirname(pluginsDir), { recursive: true, force: true });
  });

  it("lists built-in and user plugins with their state: running, failed at start, failed to load", async () => {
    const list = await plugins(viewer);
    const byName = new Map(list.map((p) => [p.name, p]));
    for (const name of ["notify-ntfy", "notify-email", "webhook"]) {
      expect(byName.get(name), name).to.include({ source: "builtin", state: "running", enabled: true, error: null });
    }
    expect(byName.get("probe")).to.deep.include({
      source: "user",
      file: "probe",
      version: "1.0.0",
      description: "records what it hears",
      state: "running",
      enabled: true,
      error: null,
      endpoints: ["/api/plugins/probe/state", "/api/plugins/probe/text/metrics"],
      configured: false,
    });
    expect(byName.get("probe")?.events).to.have.members(["backupReceived", "serverChanged"]);
    expect(byName.get("jsonl-runs")).to.include({ source: "user", file: "jsonl-runs.mjs", state: "running" });
    expect(byName.get("esm-probe")).to.include({ state: "running", version: "1" });
    expect(byName.get("hangs")).to.include({ state: "running" });
    expect(byName.get("throws-at-start")).to.include({
      state: "failed",
      error: "start failed: cannot start here",
      enabled: true,
    });
    expect(byName.get("throws-at-start")?.events, "its subscriptions were dropped").to.deep.equal([]);
    const broken = byName.get("broken");
    expect(broken).to.include({ source: "user", file: "broken.cjs", state: "failed" });
    expect(broken?.error).to.match(/^load failed: /);
    expect(byName.has("_ignored"), "names starting with _ are skipped").to.equal(false);
    // User plugins come after the built-ins, in file order.
    expect(list.slice(0, 3).map((p) => p.name)).to.deep.equal(["notify-ntfy", "notify-email", "webhook"]);
  });

  it("delivers events; a plugin that throws in a handler, or never finishes one, affects neither uploads nor other plugins", async () => {
    const started = Date.now();
    await upload("Files");
    await upload("Files");
    // Two uploads, each answered at once although "hangs" never finishes and "a-throws-in-handler" throws.
    expect(Date.now() - started).to.be.below(5_000);
    const state = await eventually(async () => {
      const s = await probeState();
      return s.seen.filter((e) => e.event === "backupReceived").length === 2 ? s : undefined;
    });
    // Each plugin gets its own copy of the payload: the thrower's mutation is not seen here.
    expect(state.seen).to.deep.equal([
      { event: "serverChanged", change: "created" },
      { event: "backupReceived", backup: "Files", status: "Success" },
      { event: "backupReceived", backup: "Files", status: "Success" },
    ]);
    expect(state.summaryServers).to.equal(1);
    expect((await server.request("/api/plugins/probe/state")).status, "access: user").to.equal(401);
    const text = await server.request("/api/plugins/probe/text/metrics");
    expect(text.status, "access: public").to.equal(200);
    expect(text.headers.get("content-type")).to.equal("text/plain; version=0.0.4; charset=utf-8");
    expect(text.headers.get("cache-control")).to.include("no-store");
    expect(await text.text()).to.equal("probe_up 1\n");
    expect(state.dataDirExists).to.equal(true);

    const thrower = await eventually(async () => {
      const p = await plugin(admin, "a-throws-in-handler");
      return p.handlerErrors === 2 ? p : undefined;
    });
    expect(thrower).to.include({ state: "degraded", error: "backupReceived handler failed: boom in handler" });
    expect(thrower.recentFailures.map((f) => f.message)).to.deep.equal([
      "backupReceived handler failed: boom in handler",
      "backupReceived handler failed: boom in handler",
    ]);
    expect(await plugin(admin, "probe")).to.include({ state: "running", handlerErrors: 0 });
    expect(await plugin(admin, "hangs")).to.include({ state: "running" });

    // The example plugin wrote each run as a line of JSON in its data folder.
    const file = path.join(dataDir, "plugin-data", "jsonl-runs", "runs.jsonl");
    const lines = await eventually(async () => {
      const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
      const l = text.split("\n").filter(Boolean);
      return l.length === 2 ? l : undefined;
    });
    const line = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    expect(line).to.include({ server: "host-a", backup: "Files", status: "Success", latest: true });
    expect(line.serverId).to.be.a("string");
  });

  it("configures a plugin through the API: JSON Schema validation, defaults, secrets encrypted and never returned", async () => {
    const empty = await json<Record<string, unknown>>(await viewer.request("/api/plugins/probe/config"), 200);
    expect(empty).to.deep.include({
      name: "probe",
      configured: false,
      config: { greeting: "hello" },
      secrets: ["apiKey"],
    });
    expect(empty.schema).to.deep.include({ type: "object", additionalProperties: false });

    const bad = await json<{ error: string; invalidFields: Array<{ field: string }> }>(
      await admin.json("PUT", "/api/plugins/probe/config", { greeting: 5 }),
      400,
    );
    expect(bad.error).to.equal("Invalid plugin configuration");
    expect(bad.invalidFields.map((f) => f.field)).to.deep.equal(["greeting"]);
    await json(await admin.json("PUT", "/api/plugins/probe/config", { greeting: "hi", extra: 1 }), 400);
    // {"set": true} keeps a stored secret; there is none yet.
    const none = await json<{ invalidFields: Array<{ field: string }> }>(
      await admin.json("PUT", "/api/plugins/probe/config", { apiKey: { set: true } }),
      400,
    );
    expect(none.invalidFields).to.deep.equal([{ field: "apiKey", message: "no stored value to keep" }]);
    expect((await viewer.json("PUT", "/api/plugins/probe/config", { greeting: "x" })).status, "viewer").to.equal(403);
    expect((await admin.json("PUT", "/api/plugins/nope/config", {})).status).to.equal(404);

    const KEY = "probe-api-key-9f8e7d";
    const saved = await json<Record<string, unknown>>(
      await admin.json("PUT", "/api/plugins/probe/config", { greeting: "hi", apiKey: KEY }),
      200,
    );
    expect(saved).to.deep.include({ configured: true, config: { greeting: "hi", apiKey: { set: true } } });
    expect((saved.plugin as { state: string }).state, "restarted with the new configuration").to.equal("running");
    const state = await probeState();
    expect(state).to.include({ greeting: "hi", apiKeySha: sha(KEY) });
    expect(state.seen, "a restart starts afresh").to.deep.equal([]);

    // Stored encrypted, never answered.
    const row = await server.app.db.read((q) =>
      q.get<{ config: string }>(`SELECT config FROM plugin_settings WHERE name = 'probe'`),
    );
    expect(row?.config).to.include("enc:v1:").and.not.include(KEY);
    for (const p of ["/api/plugins", "/api/plugins/probe/config"]) {
      const text = await (await admin.request(p)).text();
      expect(text.includes(KEY), p).to.equal(false);
    }

    // Sending the answer back keeps the secret.
    await json(await admin.json("PUT", "/api/plugins/probe/config", { greeting: "yo", apiKey: { set: true } }), 200);
    expect(await probeState()).to.include({ greeting: "yo", apiKeySha: sha(KEY) });
  });

  it("configures and switches built-in plugins the same way (their defaults come from the environment)", async () => {
    const ntfy = await json<Record<string, unknown>>(await viewer.request("/api/plugins/notify-ntfy/config"), 200);
    expect(ntfy).to.deep.include({
      configured: false,
      config: { attempts: 5, retryDelayMs: 50, timeoutMs: 10_000 },
      secrets: [],
    });
    await json(await admin.json("PUT", "/api/plugins/notify-ntfy/config", { attempts: 0 }), 400);
    const saved = await json<{ config: unknown; plugin: { state: string } }>(
      await admin.json("PUT", "/api/plugins/notify-ntfy/config", { attempts: 2, retryDelayMs: 10 }),
      200,
    );
    expect(saved.config).to.deep.equal({ attempts: 2, retryDelayMs: 10, timeoutMs: 10_000 });
    expect(saved.plugin.state).to.equal("running");
    await json(await admin.request("/api/plugins/notify-email/disable", { method: "POST" }), 200);
    expect(await plugin(admin, "notify-email")).to.include({ state: "disabled" });
    await json(await admin.request("/api/plugins/notify-email/enable", { method: "POST" }), 200);
    expect(await plugin(admin, "notify-email")).to.include({ state: "running" });
  });

  it("reloads a plugin from disk without a restart (CommonJS with its required files, and ES modules)", async () => {
    writeFile(pluginsDir, "probe/version.js", probeVersion("2.0.0"));
    const reloaded = await json<{ plugin: { version: string; state: string } }>(
      await admin.request("/api/plugins/probe/reload", { method: "POST" }),
      200,
    );
    expect(reloaded.plugin).to.include({ version: "2.0.0", state: "running" });
    expect(await probeState()).to.include({ version: "2.0.0", greeting: "yo" });

    writeFile(pluginsDir, "esm-probe.mjs", esmProbe("2"));
    await json(await admin.request("/api/plugins/esm-probe/reload", { method: "POST" }), 200);
    expect(await json(await admin.request("/api/plugins/esm-probe/info"), 200)).to.deep.equal({ v: "2" });
    expect(await plugin(admin, "esm-probe")).to.include({ version: "2", state: "running" });

    // A module that failed to load is loaded again once fixed.
    writeFile(pluginsDir, "broken.cjs", FIXED);
    const fixed = await json<{ plugin: { state: string; version: string; error: null } }>(
      await admin.request("/api/plugins/broken/reload", { method: "POST" }),
      200,
    );
    expect(fixed.plugin).to.include({ state: "running", version: "fixed", error: null });

    // A reload of a module that now throws at import leaves the plugin failed, and the others running.
    writeFile(pluginsDir, "esm-probe.mjs", "export default {;");
    const failed = await json<{ plugin: { state: string; error: string } }>(
      await admin.request("/api/plugins/esm-probe/reload", { method: "POST" }),
      200,
    );
    expect(failed.plugin.state).to.equal("failed");
    expect(failed.plugin.error).to.match(/^reload failed: /);
    expect((await admin.request("/api/plugins/esm-probe/info")).status, "its endpoint is gone").to.equal(503);
    await upload("Files");
    expect(await plugin(admin, "probe")).to.include({ state: "running" });
  });

  it("disables and enables a plugin without a restart; the flag survives a restart", async () => {
    const off = await json<{ plugin: { state: string; enabled: boolean } }>(
      await admin.request("/api/plugins/probe/disable", { method: "POST" }),
      200,
    );
    expect(off.plugin).to.include({ state: "disabled", enabled: false });
    const gone = await admin.request("/api/plugins/probe/state");
    expect(gone.status).to.equal(503);
    expect(await gone.json()).to.include({ error: "Plugin not running" });
    await upload("Files");

    const on = await json<{ plugin: { state: string; enabled: boolean } }>(
      await admin.request("/api/plugins/probe/enable", { method: "POST" }),
      200,
    );
    expect(on.plugin).to.include({ state: "running", enabled: true });
    expect((await probeState()).seen, "started afresh").to.deep.equal([]);
    await upload("Other");
    await eventually(async () => ((await probeState()).seen.length === 1 ? true : undefined));

    await json(await admin.request("/api/plugins/jsonl-runs/disable", { method: "POST" }), 200);
    expect((await admin.request("/api/plugins/nope/enable", { method: "POST" })).status).to.equal(404);
    expect((await viewer.request("/api/plugins/probe/disable", { method: "POST" })).status).to.equal(403);
  });

  it("picks up a plugin added to the folder (rescan), and keeps flags and configuration across a restart", async () => {
    writeFile(
      pluginsDir,
      "late.cjs",
      `module.exports = { name: "late", start(ctx) { ctx.on("backupReceived", () => {}); } };\n`,
    );
    const rescan = await json<{ added: string[] }>(await admin.request("/api/plugins/rescan", { method: "POST" }), 200);
    expect(rescan.added).to.deep.equal(["late"]);
    expect(await plugin(admin, "late")).to.include({ state: "running", source: "user" });

    await server.close();
    server = await startTestServer(env(), { dataDir });
    admin = await login(server);
    const list = new Map((await plugins(admin)).map((p) => [p.name, p]));
    expect(list.get("jsonl-runs")).to.include({ enabled: false, state: "disabled" });
    expect(list.get("probe")).to.include({ enabled: true, state: "running", configured: true, version: "2.0.0" });
    expect(list.get("late")).to.include({ state: "running" });
    expect(await probeState()).to.include({ greeting: "yo" });
  });

  it("stops every plugin at shutdown, even with a handler that never finishes", async () => {
    await upload("Files");
    await sleep(50);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).to.be.below(5_000);
    expect(server.app.plugins.list().every((p) => p.state !== "running" && p.state !== "degraded")).to.equal(true);
    server = await startTestServer(env(), { dataDir });
    admin = await login(server);
  });
});
