import { expect } from "chai";
import { VERSION } from "../../server/src/version";
import { makeReport, uploadOk } from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { type TestServer, startTestServer } from "../support/server";
import { auditRows, closedPort, eventually } from "../api/notifications-support";
import { type ReceivedRequest, type WebhookReceiver, json, plugin, sleep, startWebhookReceiver } from "./support";

/**
 * The built-in webhook plugin against a real local HTTP receiver: the exact request of every preset, a body
 * template, retries on 5xx and network errors with backoff, a single try on 4xx, failures in the plugin state and
 * the audit log, the test send, and secrets (URLs, header values, tokens) that no answer ever contains.
 */

const UA = `duplistatus/${VERSION}`;
const TITLE = "T Success Files";
const MESSAGE = 'M host-w\nline 2 "quoted"';

const DISCORD_PATH = "/discord/1234567890/discord-secret-token";
const SLACK_PATH = "/slack/T000/B000/slack-secret-xyz";
const TEAMS_PATH = "/teams/workflows/teams-secret-sig";
const GOTIFY_TOKEN = "gotify-app-token-42";
const TELEGRAM_TOKEN = "123456:telegram-bot-secret";
const APPRISE_PATH = "/apprise/notify/apprise-key";
const GENERIC_AUTH = "Bearer generic-secret-auth";
const SECRETS = [
  "discord-secret-token",
  "slack-secret-xyz",
  "teams-secret-sig",
  GOTIFY_TOKEN,
  TELEGRAM_TOKEN,
  "apprise-key",
  "generic-secret-auth",
];

const GENERIC_TEMPLATE =
  '{"t": "{title}", "m": "{message}", "server": "{server_name}", "e": "{event}", "data": {event_json}}';

describe("webhook plugin", function () {
  let server: TestServer;
  let admin: BrowserSession;
  let rx: WebhookReceiver;
  let runNo = 0;

  const presetTargets = () => [
    { name: "discord", preset: "discord", url: `${rx.url.slice(0, -1)}${DISCORD_PATH}` },
    { name: "slack", preset: "slack", url: `${rx.url.slice(0, -1)}${SLACK_PATH}` },
    { name: "teams", preset: "teams", url: `${rx.url.slice(0, -1)}${TEAMS_PATH}` },
    { name: "gotify", preset: "gotify", url: `${rx.url}gotify`, token: GOTIFY_TOKEN },
    { name: "telegram", preset: "telegram", url: `${rx.url}tg`, token: TELEGRAM_TOKEN, chatId: "-100200300" },
    { name: "apprise", preset: "apprise", url: `${rx.url.slice(0, -1)}${APPRISE_PATH}` },
    {
      name: "generic",
      url: `${rx.url}generic`,
      method: "PUT",
      headers: { Authorization: GENERIC_AUTH, "X-Custom": "one" },
      bodyTemplate: GENERIC_TEMPLATE,
    },
    { name: "servers", url: `${rx.url}servers`, events: ["serverChanged"] },
  ];

  const configure = async (config: Record<string, unknown>) =>
    json<Record<string, unknown>>(
      await admin.json("PUT", "/api/plugins/webhook/config", { retryDelayMs: 20, timeoutMs: 2_000, ...config }),
      200,
    );

  const upload = async (status: "Success" | "Warning" | "Error" = "Success", machineId = "m-webhook") => {
    runNo += 1;
    await uploadOk(
      server,
      makeReport({
        machineId,
        machineName: "host-w",
        backupName: "Files",
        status,
        begin: new Date(Date.UTC(2025, 1, 1, 0, runNo)).toISOString(),
      }),
    );
  };

  const one = async (pathname: string, count = 1): Promise<ReceivedRequest> =>
    eventually(
      async () => {
        const got = rx.on(pathname);
        return got.length >= count ? got[count - 1] : undefined;
      },
      5_000,
      `a request to ${pathname}`,
    );

  before(async () => {
    rx = await startWebhookReceiver();
    server = await startTestServer({ LOGIN_RATE_LIMIT: "1000" });
    admin = await login(server);
    const templates = await admin.json("PUT", "/api/configuration/templates", {
      templates: {
        success: { title: "T {status} {backup_name}", message: 'M {server_name}\nline 2 "quoted"', priority: "high" },
      },
    });
    expect(templates.status).to.equal(200);
  });
  after(async () => {
    await server?.close();
    await rx?.close();
  });
  beforeEach(() => {
    rx.requests.length = 0;
    rx.script.length = 0;
  });

  it("runs with no targets, and validates targets per preset", async () => {
    expect(await plugin(admin, "webhook")).to.deep.include({ state: "running", source: "builtin", events: [] });
    const bad = await json<{ invalidFields: Array<{ field: string; message: string }> }>(
      await admin.json("PUT", "/api/plugins/webhook/config", {
        targets: [
          { name: "t1", preset: "telegram" },
          { name: "g", preset: "gotify", url: "ftp://x" },
          { name: "d", preset: "discord", url: "http://x/y" },
          { name: "j", url: "http://x/", bodyTemplate: '{"a": {title}}' },
          { name: "h", url: "http://x/", headers: { "Bad Header": "v" } },
        ],
      }),
      400,
    );
    expect(bad.invalidFields.map((f) => f.field)).to.have.members([
      "targets.0.token",
      "targets.0.chatId",
      "targets.1.url",
      "targets.1.token",
      "targets.3.bodyTemplate",
      "targets.4.headers.Bad Header",
    ]);
    const duplicate = await json<{ invalidFields: Array<{ field: string; message: string }> }>(
      await admin.json("PUT", "/api/plugins/webhook/config", {
        targets: [
          { name: "d", preset: "discord", url: "http://x/y" },
          { name: "d", preset: "discord", url: "http://x/z" },
        ],
      }),
      400,
    );
    expect(duplicate.invalidFields).to.deep.equal([{ field: "targets.1.name", message: 'duplicate target name "d"' }]);
    expect(await plugin(admin, "webhook")).to.include({ configured: false, state: "running" });
  });

  it("delivers a new run to every preset with the exact request each service accepts", async () => {
    await configure({ targets: presetTargets() });
    await upload("Success");
    const common = { "content-type": "application/json", "user-agent": UA };

    const discord = await one(DISCORD_PATH);
    expect(discord.method).to.equal("POST");
    expect(discord.headers).to.include(common);
    expect(JSON.parse(discord.body)).to.deep.equal({
      content: TITLE,
      embeds: [{ description: MESSAGE, color: 0x2eb886 }],
    });

    const slack = await one(SLACK_PATH);
    expect(slack.method).to.equal("POST");
    expect(slack.headers).to.include(common);
    expect(JSON.parse(slack.body)).to.deep.equal({ text: `*${TITLE}*\n${MESSAGE}` });

    const teams = await one(TEAMS_PATH);
    expect(teams.method).to.equal("POST");
    expect(teams.headers).to.include(common);
    expect(JSON.parse(teams.body)).to.deep.equal({
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          contentUrl: null,
          content: {
            $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
            type: "AdaptiveCard",
            version: "1.4",
            body: [
              { type: "TextBlock", text: TITLE, weight: "Bolder", size: "Medium", wrap: true },
              { type: "TextBlock", text: MESSAGE.replace(/\n/g, "\n\n"), wrap: true },
            ],
          },
        },
      ],
    });

    const gotify = await one("/gotify/message");
    expect(gotify.method).to.equal("POST");
    expect(gotify.headers).to.include({ ...common, "x-gotify-key": GOTIFY_TOKEN });
    // The template's priority "high" is Gotify's 8.
    expect(JSON.parse(gotify.body)).to.deep.equal({ title: TITLE, message: MESSAGE, priority: 8 });

    const telegram = await one(`/tg/bot${TELEGRAM_TOKEN}/sendMessage`);
    expect(telegram.method).to.equal("POST");
    expect(telegram.headers).to.include(common);
    expect(JSON.parse(telegram.body)).to.deep.equal({ chat_id: "-100200300", text: `${TITLE}\n\n${MESSAGE}` });

    const apprise = await one(APPRISE_PATH);
    expect(apprise.method).to.equal("POST");
    expect(apprise.headers).to.include(common);
    expect(JSON.parse(apprise.body)).to.deep.equal({ title: TITLE, body: MESSAGE, type: "success" });

    const generic = await one("/generic");
    expect(generic.method).to.equal("PUT");
    expect(generic.headers).to.include({ ...common, authorization: GENERIC_AUTH, "x-custom": "one" });
    const body = JSON.parse(generic.body) as Record<string, unknown> & { data: Record<string, never> };
    expect(body).to.include({ t: TITLE, m: MESSAGE, server: "host-w", e: "backupReceived" });
    expect(body.data.isLatest).to.equal(true);
    expect(body.data.job).to.deep.equal({ serverId: "m-webhook", backupName: "Files" });
    expect(body.data.run).to.include({ status: "Success", backup_name: "Files", server_id: "m-webhook" });

    // serverChanged went only to the target that asked for it, with the default generic body.
    const created = await one("/servers");
    expect(created.method).to.equal("POST");
    expect(JSON.parse(created.body)).to.deep.equal({
      event: "serverChanged",
      title: "Server host-w was added",
      message: "The server host-w was added.",
      severity: "info",
      priority: "default",
      tags: "duplistatus",
      variables: {
        server_id: "m-webhook",
        server_name: "host-w",
        server_alias: "host-w",
        server_note: "",
        server_url: "",
        change: "created",
        previous_name: "",
        merged_into: "",
      },
      data: { serverId: "m-webhook", change: "created", server: { id: "m-webhook", name: "host-w", alias: "" } },
    });
    await sleep(100);
    expect(rx.requests.length, "one request per target").to.equal(8);

    const sent = await eventually(async () => {
      const rows = await auditRows(admin, "webhook_sent");
      return rows.length >= 8 ? rows : undefined;
    });
    expect(sent.map((r) => r.details?.target)).to.include.members(["discord", "telegram", "servers"]);
    expect(sent[0]).to.include({ category: "system", status: "success", username: "system" });
    expect(await plugin(admin, "webhook")).to.include({ state: "running", failures: 0 });
  });

  it("filters by event and run status, and marks failed runs as failures", async () => {
    await configure({
      targets: [
        { name: "failures", preset: "apprise", url: `${rx.url}failures`, statuses: ["Error", "Fatal"] },
        { name: "off", preset: "apprise", url: `${rx.url}off`, enabled: false },
        { name: "overdue-only", preset: "apprise", url: `${rx.url}overdue`, events: ["backupOverdue"] },
      ],
    });
    await upload("Success");
    await upload("Error");
    const failure = await one("/failures");
    expect(JSON.parse(failure.body)).to.include({ type: "failure" });
    await sleep(150);
    expect(rx.on("/failures")).to.have.length(1);
    expect(rx.on("/off")).to.have.length(0);
    expect(rx.on("/overdue")).to.have.length(0);
  });

  it("retries 5xx answers with backoff, then succeeds", async () => {
    await configure({ attempts: 3, targets: [{ name: "flaky", url: `${rx.url}flaky` }] });
    rx.script.push(500, 503);
    await upload();
    const third = await one("/flaky", 3);
    const [a, b] = rx.on("/flaky");
    expect(b!.at - a!.at, "first wait ≈ retryDelayMs").to.be.at.least(15);
    expect(third.at - b!.at, "then twice as long").to.be.at.least(35);
    expect(new Set(rx.on("/flaky").map((r) => r.body)).size, "the same body each time").to.equal(1);
    const sent = await eventually(async () =>
      (await auditRows(admin, "webhook_sent")).find((r) => r.details?.target === "flaky"),
    );
    expect(sent.details).to.include({ attempts: 3, status: 200 });
    await sleep(100);
    expect(rx.on("/flaky")).to.have.length(3);
    expect(await plugin(admin, "webhook")).to.include({ state: "running", failures: 0 });
  });

  it("does not retry a 4xx answer, and shows the failure in the plugin state and the audit log", async () => {
    await configure({ attempts: 5, targets: [{ name: "gone", preset: "slack", url: `${rx.url}gone` }] });
    rx.script.push(404);
    await upload();
    await one("/gone");
    const state = await eventually(async () => {
      const p = await plugin(admin, "webhook");
      return p.failures === 1 ? p : undefined;
    });
    expect(state).to.include({ state: "degraded", error: "gone: HTTP 404" });
    expect(state.recentFailures.map((f) => f.message)).to.deep.equal(["gone: HTTP 404"]);
    await sleep(300);
    expect(rx.on("/gone"), "no retry storm").to.have.length(1);
    const failed = (await auditRows(admin, "webhook_failed")).find((r) => r.details?.target === "gone");
    expect(failed).to.include({ status: "failure", errorMessage: "HTTP 404" });
    expect(failed?.details).to.include({ attempts: 1, status: 404, preset: "slack", event: "backupReceived" });
  });

  it("gives up after the configured attempts on 5xx and on network errors", async () => {
    const port = await closedPort();
    await configure({
      attempts: 3,
      targets: [
        { name: "down", url: `${rx.url}down` },
        { name: "nobody", url: `http://127.0.0.1:${port}/hook` },
      ],
    });
    rx.script.push(500, 500, 500);
    await upload();
    const state = await eventually(async () => {
      const p = await plugin(admin, "webhook");
      return p.failures === 2 ? p : undefined;
    });
    expect(state.recentFailures.map((f) => f.message)).to.have.members([
      "down: HTTP 500 (after 3 attempts)",
      "nobody: network error (ECONNREFUSED) (after 3 attempts)",
    ]);
    expect(rx.on("/down")).to.have.length(3);
  });

  it('never returns a secret: URLs, header values and tokens read {"set": true}, and a round trip keeps them', async () => {
    await configure({ targets: presetTargets() });
    const view = await json<{ config: { targets: Array<Record<string, unknown>> }; secrets: string[] }>(
      await admin.request("/api/plugins/webhook/config"),
      200,
    );
    expect(view.secrets).to.deep.equal(["targets.*.url", "targets.*.headers.*", "targets.*.token"]);
    const byName = new Map(view.config.targets.map((t) => [t.name, t]));
    expect(byName.get("discord")).to.deep.include({ url: { set: true }, preset: "discord" });
    expect(byName.get("telegram")).to.deep.include({ url: { set: true }, token: { set: true }, chatId: "-100200300" });
    expect(byName.get("generic")?.headers).to.deep.equal({ Authorization: { set: true }, "X-Custom": { set: true } });

    // No GET answer contains a secret (as admin, and without a login).
    const gets = server.app.routes.filter((r) => r.method === "get" && r.path !== "/api/database/backup");
    for (const route of gets) {
      const p = route.path.replace(/:name/g, "webhook").replace(/:([A-Za-z0-9_]+)/g, "x");
      for (const res of [await admin.request(p), await server.request(p)]) {
        const text = await res.text();
        for (const secret of SECRETS) expect(text.includes(secret), `GET ${p} leaks ${secret}`).to.equal(false);
      }
    }
    const row = await server.app.db.read((q) =>
      q.get<{ config: string }>(`SELECT config FROM plugin_settings WHERE name = 'webhook'`),
    );
    for (const secret of SECRETS) expect(row?.config.includes(secret), `stored in clear: ${secret}`).to.equal(false);

    // The configuration as answered, sent back unchanged, keeps every secret.
    const roundTrip = await json<Record<string, unknown>>(
      await admin.json("PUT", "/api/plugins/webhook/config", view.config),
      200,
    );
    expect(roundTrip.config).to.deep.equal(view.config);
    await upload();
    const generic = await one("/generic");
    expect(generic.headers).to.include({ authorization: GENERIC_AUTH, "x-custom": "one" });
    await one(`/tg/bot${TELEGRAM_TOKEN}/sendMessage`);
    expect((await one("/gotify/message")).headers["x-gotify-key"]).to.equal(GOTIFY_TOKEN);
  });

  it("sends a test message to a stored target, or to a target given in the request, once", async () => {
    await configure({ targets: presetTargets() });
    const ok = await json(await admin.json("POST", "/api/plugins/webhook/test", { name: "discord" }), 200);
    expect(ok).to.deep.equal({ success: true, target: "discord", status: 200, attempts: 1 });
    const got = await one(DISCORD_PATH);
    const body = JSON.parse(got.body) as { content: string; embeds: Array<{ description: string; color: number }> };
    expect(body.content).to.equal("duplistatus test notification");
    expect(body.embeds[0]?.description).to.match(
      /^This is a test notification from duplistatus to the webhook target "discord"\./,
    );

    rx.script.push(500);
    const failed = await json<Record<string, unknown>>(
      await admin.json("POST", "/api/plugins/webhook/test", { name: "slack" }),
      502,
    );
    expect(failed).to.deep.equal({ error: "Webhook test failed: HTTP 500", target: "slack", status: 500, attempts: 1 });
    await sleep(100);
    expect(rx.on(SLACK_PATH), "a test send is tried once").to.have.length(1);

    // An unsaved target; and one whose secrets come from the stored target of the same name.
    await json(
      await admin.json("POST", "/api/plugins/webhook/test", {
        target: { name: "new", preset: "apprise", url: `${rx.url}new` },
      }),
      200,
    );
    expect(JSON.parse((await one("/new")).body)).to.deep.include({
      title: "duplistatus test notification",
      type: "info",
    });
    await json(
      await admin.json("POST", "/api/plugins/webhook/test", {
        target: { name: "gotify", preset: "gotify", url: { set: true }, token: { set: true } },
      }),
      200,
    );
    expect((await one("/gotify/message")).headers["x-gotify-key"]).to.equal(GOTIFY_TOKEN);

    await json(await admin.json("POST", "/api/plugins/webhook/test", { name: "nope" }), 404);
    await json(await admin.json("POST", "/api/plugins/webhook/test", { target: { name: "x", preset: "slack" } }), 400);
    await json(await admin.json("POST", "/api/plugins/webhook/test", {}), 400);
    const tests = await auditRows(admin, "webhook_test_sent");
    expect(tests.map((t) => t.status)).to.include.members(["success", "failure"]);
    for (const t of tests) expect(JSON.stringify(t)).to.not.include("secret");
  });

  it("never delays an upload, even when a target does not answer", async () => {
    await configure({ timeoutMs: 1_000, attempts: 1, targets: [{ name: "silent", url: `${rx.url}silent` }] });
    rx.hangPaths.add("/silent");
    const started = Date.now();
    await upload();
    expect(Date.now() - started).to.be.below(800);
    await one("/silent");
    const state = await eventually(async () => {
      const p = await plugin(admin, "webhook");
      return p.failures === 1 ? p : undefined;
    }, 5_000);
    expect(state.error).to.equal("silent: no answer within 1000 ms");
    rx.hangPaths.clear();
  });
});
