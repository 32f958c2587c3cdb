import { createHash } from "node:crypto";
import { expect } from "chai";
import { segment } from "../../mqtt-bridge/src";
import { ManualClock } from "../../server/src/core/clock";
import type { Summary } from "../../server/src/reporting/schemas";
import { type DuplicatiReportJson, fixture, lastBackups, makeReport, summary, uploadOk } from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { type TestServer, startTestServer } from "../support/server";
import { checkDiscovery, renderTemplate } from "./ha-rules";
import {
  Recorder,
  type TestBroker,
  clearRetained,
  publishRetained,
  retainedSnapshot,
  sharedBroker,
  uniqueTopics,
} from "./support";

/**
 * The bridge against a real broker (the machine's Mosquitto, else aedes): discovery HA accepts, retained states
 * that match the API, events, overdue and cleared, Home Assistant's birth, and removal of deleted jobs and servers.
 */

const hash8 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex").slice(0, 8);

/** Fixture 03: server DB-PROD-01, job "Databases", Warning, begun 2025-08-05T17:15:00Z. */
const F03 = fixture("03-warning-generator-style.json");
const SERVER_ID = String(F03.Extra["machine-id"]);
const JOB = String(F03.Extra["backup-name"]);
const JOB_SEG = `databases_${hash8(JOB)}`;
const START = Date.parse("2025-08-05T18:00:00.000Z");

const JOB_KEYS = {
  sensor: [
    "status",
    "last_backup",
    "last_success",
    "duration",
    "uploaded",
    "size",
    "storage",
    "versions",
    "warnings",
    "errors",
    "next_expected",
  ],
  binary_sensor: ["overdue", "failed"],
  event: ["event"],
} as const;
const SERVER_KEYS = { sensor: ["status", "last_backup", "jobs"], binary_sensor: ["overdue", "failed"] } as const;
const BRIDGE_KEYS = {
  sensor: ["servers", "jobs", "overdue_jobs", "failed_jobs", "last_backup", "storage"],
  binary_sensor: ["bridge", "any_overdue", "any_failed"],
  event: ["events"],
} as const;

function configTopics(prefix: string, idBase: string, keys: Record<string, readonly string[]>): string[] {
  return Object.entries(keys).flatMap(([component, list]) =>
    list.map((k) => `${prefix}/${component}/${idBase}__${k}/config`),
  );
}

type JobState = Record<string, unknown> & { status: string; overdue: boolean; failed: boolean; lastBackupAt: string };

function report(overrides: {
  job?: string;
  begin: number;
  status?: "Success" | "Warning" | "Error" | "Fatal";
}): DuplicatiReportJson {
  return makeReport({
    machineId: SERVER_ID,
    machineName: String(F03.Extra["machine-name"]),
    backupName: overrides.job ?? JOB,
    backupId: String(F03.Extra["backup-id"]),
    begin: new Date(overrides.begin).toISOString(),
    status: overrides.status ?? "Success",
    durationSeconds: 120,
    uploaded: 4242,
    known: 99_000,
    size: 50_000,
    versions: 11,
  });
}

describe("MQTT bridge with Home Assistant discovery", function () {
  this.timeout(60_000);
  let broker: TestBroker;
  let server: TestServer;
  let rec: Recorder;
  const { base, prefix } = uniqueTopics();
  const clock = new ManualClock(START);
  const jobStateTopic = `${base}/server/${SERVER_ID}/backup/${JOB_SEG}/state`;
  const jobConfigs = () => configTopics(prefix, `${base}__${SERVER_ID}__${JOB_SEG}`, JOB_KEYS);
  const serverConfigs = () => configTopics(prefix, `${base}__${SERVER_ID}`, SERVER_KEYS);
  const bridgeConfigs = () => configTopics(prefix, base, BRIDGE_KEYS);

  before(async () => {
    broker = await sharedBroker();
    rec = await Recorder.start(broker.url, [`${base}/#`, `${prefix}/#`]);
    server = await startTestServer(
      { MQTT_URL: broker.url, MQTT_BASE_TOPIC: base, MQTT_DISCOVERY_PREFIX: prefix, MQTT_RESYNC_SECONDS: "1" },
      { clock },
    );
  });
  /** A fresh admin session (the manual clock moves by days, sessions would expire). */
  const admin = (): Promise<BrowserSession> => login(server);

  after(async () => {
    await server?.close();
    await rec?.close();
    if (broker) await clearRetained(broker.url, [`${base}/#`, `${prefix}/#`]);
    await broker?.close();
  });

  it("comes online with the bridge device", async function () {
    if (this.test) this.test.title += ` (broker: ${broker.kind} ${broker.url})`;
    await rec.waitFor("online", () => (rec.latest.get(`${base}/status`) === "online" ? true : undefined));
    await rec.waitFor("bridge discovery", () => (bridgeConfigs().every((t) => rec.latest.has(t)) ? true : undefined));
    for (const t of bridgeConfigs()) {
      const { config } = checkDiscovery(t, rec.latest.get(t) ?? "", { availabilityTopic: `${base}/status` });
      expect((config.device as { identifiers: string[] }).identifiers).to.deep.equal([`${base}_bridge`]);
    }
    expect(server.app.plugins.list().find((p) => p.name === "mqtt-bridge")?.state).to.equal("running");
  });

  it("publishes, for an uploaded fixture, discovery configs HA accepts, the retained state and an event", async () => {
    const mark = rec.mark();
    await uploadOk(server, F03);
    const state = await rec.waitForJson<JobState>(jobStateTopic);
    await rec.waitFor("job discovery", () =>
      [...jobConfigs(), ...serverConfigs()].every((t) => rec.latest.has(t)) ? true : undefined,
    );
    const event = await rec.waitFor("event", () => rec.since(mark).find((m) => m.topic === `${base}/events`));
    const jobEvent = rec.since(mark).find((m) => m.topic === `${base}/server/${SERVER_ID}/backup/${JOB_SEG}/event`);

    // The state mirrors the API.
    const api = await lastBackups(server, SERVER_ID);
    const latest = api.body.latest_backups[0];
    if (!latest) throw new Error("no latest backup");
    expect(state).to.deep.equal({
      serverId: SERVER_ID,
      server: "DB-PROD-01",
      serverName: "DB-PROD-01",
      serverAlias: "",
      job: JOB,
      status: "warning",
      failed: false,
      lastBackupAt: new Date(latest.date).toISOString(),
      lastSuccessAt: new Date(latest.date).toISOString(),
      durationSeconds: latest.duration_seconds,
      uploadedBytes: latest.uploadedSize,
      sizeBytes: latest.fileSize,
      storageBytes: latest.knownFileSize,
      versions: latest.backup_list_count,
      warnings: latest.warnings,
      errors: latest.errors,
      runCount: 1,
      monitoringEnabled: true,
      overdue: false,
      overdueSince: null,
      nextExpectedAt: state.nextExpectedAt,
    });
    expect(state.lastBackupAt).to.equal("2025-08-05T17:15:00.000Z");
    expect(state.durationSeconds).to.equal(432);
    expect(state.nextExpectedAt).to.match(/^2025-08-06T17:15:00\.000Z$/);

    // Every config: HA's rules, and its template rendered against the state it reads.
    const statePayloads = new Map([...rec.latest].filter(([t]) => !t.endsWith("/config")));
    const rendered = new Map<string, string | undefined>();
    for (const t of [...jobConfigs(), ...serverConfigs(), ...bridgeConfigs()]) {
      const r = checkDiscovery(t, rec.latest.get(t) ?? "", { availabilityTopic: `${base}/status`, statePayloads });
      rendered.set(t, r.rendered);
    }
    const job = (component: string, key: string) =>
      rendered.get(`${prefix}/${component}/${base}__${SERVER_ID}__${JOB_SEG}__${key}/config`);
    expect(job("sensor", "status")).to.equal("warning");
    expect(job("sensor", "last_backup")).to.equal("2025-08-05T17:15:00.000Z");
    expect(job("sensor", "duration")).to.equal("432");
    expect(job("sensor", "uploaded")).to.equal(String(latest.uploadedSize));
    expect(job("sensor", "storage")).to.equal(String(latest.knownFileSize));
    expect(job("sensor", "versions")).to.equal(String(latest.backup_list_count));
    expect(job("binary_sensor", "overdue")).to.equal("OFF");
    expect(job("binary_sensor", "failed")).to.equal("OFF");

    // Job entities: stable unique ids from server id + job name, default_entity_id from display names, one device.
    const status = JSON.parse(
      rec.latest.get(`${prefix}/sensor/${base}__${SERVER_ID}__${JOB_SEG}__status/config`) ?? "{}",
    );
    expect(status).to.include({
      unique_id: `${base}__${SERVER_ID}__${JOB_SEG}__status`,
      default_entity_id: `sensor.${base.replace(/-/g, "_")}_db_prod_01_databases_status`,
      name: "Databases status",
      state_topic: jobStateTopic,
      json_attributes_topic: jobStateTopic,
      device_class: "enum",
    });
    expect(status.options).to.deep.equal(["success", "warning", "error", "fatal", "unknown"]);
    expect(status.device).to.deep.include({
      identifiers: [`${base}__${SERVER_ID}`],
      name: "DB-PROD-01",
      via_device: `${base}_bridge`,
    });
    expect(status.origin).to.include({ name: "duplistatus" });

    // All of it is retained on the broker.
    const retained = await retainedSnapshot(broker.url, [`${base}/#`, `${prefix}/#`]);
    for (const t of [
      ...jobConfigs(),
      ...serverConfigs(),
      ...bridgeConfigs(),
      jobStateTopic,
      `${base}/server/${SERVER_ID}/state`,
      `${base}/summary`,
    ]) {
      expect(retained.has(t), `retained: ${t}`).to.equal(true);
    }
    expect(retained.get(`${base}/status`)).to.equal("online");
    expect(retained.has(`${base}/events`), "events are not retained").to.equal(false);

    // The event: not retained, after the state, on both topics.
    expect(event.retain).to.equal(false);
    expect(JSON.parse(event.payload)).to.deep.include({
      event_type: "backup_received",
      type: "backup_received",
      serverId: SERVER_ID,
      server: "DB-PROD-01",
      job: JOB,
      status: "warning",
      backupAt: "2025-08-05T17:15:00.000Z",
      isLatest: true,
    });
    expect(JSON.parse(event.payload).at).to.equal(new Date(START).toISOString());
    expect(jobEvent?.payload).to.equal(event.payload);
    const stateMsg = rec.since(mark).find((m) => m.topic === jobStateTopic);
    expect(stateMsg && stateMsg.seq < event.seq, "state before event").to.equal(true);

    // Server state and summary.
    expect(JSON.parse(rec.latest.get(`${base}/server/${SERVER_ID}/state`) ?? "{}")).to.deep.equal({
      serverId: SERVER_ID,
      server: "DB-PROD-01",
      name: "DB-PROD-01",
      alias: "",
      jobs: 1,
      status: "warning",
      failed: false,
      overdue: false,
      overdueJobs: 0,
      failedJobs: 0,
      lastBackupAt: "2025-08-05T17:15:00.000Z",
    });
    const apiSummary = await summary(server);
    const mqttSummary = JSON.parse(rec.latest.get(`${base}/summary`) ?? "{}") as Summary & Record<string, unknown>;
    const volatile = (s: Record<string, unknown>) => {
      const { lastUpdated: _l, secondsSinceLastBackup: _s, ...rest } = s;
      return rest;
    };
    expect(volatile(mqttSummary)).to.deep.equal({
      ...volatile(apiSummary),
      lastBackupAt: "2025-08-05T17:15:00.000Z",
      anyOverdue: false,
      anyFailed: false,
    });
  });

  it("turns the failed problem sensor on for a fatal run and sends backup_failed", async () => {
    const mark = rec.mark();
    clock.set(START + 30 * 60_000);
    await uploadOk(server, report({ begin: START + 20 * 60_000, status: "Fatal" }));
    const state = await rec.waitForJson<JobState>(jobStateTopic, (s) => s.status === "fatal");
    const failedConfig = JSON.parse(
      rec.latest.get(`${prefix}/binary_sensor/${base}__${SERVER_ID}__${JOB_SEG}__failed/config`) ?? "{}",
    );
    expect(renderTemplate(failedConfig.value_template, state)).to.equal("ON");
    expect(state).to.include({ failed: true, runCount: 2, lastBackupAt: new Date(START + 20 * 60_000).toISOString() });
    expect(state.lastSuccessAt).to.equal("2025-08-05T17:15:00.000Z");
    const event = await rec.waitFor("backup_failed", () =>
      rec.since(mark).find((m) => m.topic === `${base}/events` && JSON.parse(m.payload).event_type === "backup_failed"),
    );
    expect(JSON.parse(event.payload)).to.include({ status: "fatal", job: JOB });
    await rec.waitForJson<{ status: string; failed: boolean }>(
      `${base}/server/${SERVER_ID}/state`,
      (s) => s.status === "fatal" && s.failed,
    );
    await rec.waitForJson<{ anyFailed: boolean }>(`${base}/summary`, (s) => s.anyFailed);
  });

  it("flips the overdue problem sensor on when the check finds the job late, and off when a run arrives", async () => {
    const before = await rec.waitForJson<JobState>(jobStateTopic);
    const expected = Date.parse(String(before.nextExpectedAt));
    const overdueConfig = JSON.parse(
      rec.latest.get(`${prefix}/binary_sensor/${base}__${SERVER_ID}__${JOB_SEG}__overdue/config`) ?? "{}",
    );
    expect(renderTemplate(overdueConfig.value_template, before)).to.equal("OFF");

    // Past the next expected run plus the 2 h default tolerance.
    clock.set(expected + 2 * 3600_000 + 5 * 60_000);
    let mark = rec.mark();
    const check = await (await admin()).json("POST", "/api/notifications/check-overdue");
    expect(check.status).to.equal(200);
    const late = await rec.waitForJson<JobState>(jobStateTopic, (s) => s.overdue && !!s.overdueSince);
    expect(renderTemplate(overdueConfig.value_template, late)).to.equal("ON");
    expect(late.overdueSince).to.be.a("string");
    const overdueEvent = await rec.waitFor("backup_overdue", () =>
      rec
        .since(mark)
        .find((m) => m.topic === `${base}/events` && JSON.parse(m.payload).event_type === "backup_overdue"),
    );
    expect(overdueEvent.retain).to.equal(false);
    expect(JSON.parse(overdueEvent.payload)).to.include({
      serverId: SERVER_ID,
      job: JOB,
      status: "fatal",
      backupAt: before.lastBackupAt,
      expectedAt: before.nextExpectedAt,
      notice: 1,
    });
    await rec.waitForJson<{ overdue: boolean; overdueJobs: number }>(
      `${base}/server/${SERVER_ID}/state`,
      (s) => s.overdue && s.overdueJobs === 1,
    );
    await rec.waitForJson<{ anyOverdue: boolean; overdueBackupsCount: number }>(
      `${base}/summary`,
      (s) => s.anyOverdue && s.overdueBackupsCount === 1,
    );

    // A new run ends the episode.
    mark = rec.mark();
    await uploadOk(server, report({ begin: clock.now().getTime() - 60_000 }));
    const back = await rec.waitForJson<JobState>(jobStateTopic, (s) => s.overdue === false && s.status === "success");
    expect(renderTemplate(overdueConfig.value_template, back)).to.equal("OFF");
    const cleared = await rec.waitFor("overdue_cleared", () =>
      rec
        .since(mark)
        .find((m) => m.topic === `${base}/events` && JSON.parse(m.payload).event_type === "overdue_cleared"),
    );
    expect(JSON.parse(cleared.payload)).to.include({
      serverId: SERVER_ID,
      job: JOB,
      status: "success",
      overdueSince: late.overdueSince,
    });
    await rec.waitForJson<{ anyOverdue: boolean }>(`${base}/summary`, (s) => !s.anyOverdue);
  });

  it("re-sends every discovery config when Home Assistant announces itself online", async () => {
    const configs = [...rec.latest.keys()].filter((t) => t.startsWith(`${prefix}/`) && t.endsWith("/config"));
    expect(configs.length).to.equal(jobConfigs().length + serverConfigs().length + bridgeConfigs().length);
    const mark = rec.mark();
    await publishRetained(broker.url, [[`${prefix}/status`, "online"]], false);
    await rec.waitFor("all configs again", () => {
      const seen = new Set(rec.since(mark).map((m) => m.topic));
      return configs.every((t) => seen.has(t)) ? true : undefined;
    });
    for (const m of rec.since(mark).filter((x) => x.topic.endsWith("/config"))) {
      expect(m.payload, m.topic).to.not.equal("");
      checkDiscovery(m.topic, m.payload, { availabilityTopic: `${base}/status` });
    }
    // "offline" from HA re-sends nothing.
    const quiet = rec.mark();
    await publishRetained(broker.url, [[`${prefix}/status`, "offline"]], false);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(rec.since(quiet).filter((m) => m.topic.endsWith("/config"))).to.deep.equal([]);
  });

  it("keeps topics and unique ids when a server is renamed, and updates names and the device", async () => {
    const topicsBefore = [...rec.latest.keys()].sort();
    const res = await (
      await admin()
    ).json("PATCH", `/api/servers/${SERVER_ID}`, {
      alias: "Prod DB",
      server_url: "http://db-prod-01.lan:8200",
    });
    expect(res.status, await res.clone().text()).to.equal(200);
    const statusTopic = `${prefix}/sensor/${base}__${SERVER_ID}__${JOB_SEG}__status/config`;
    const config = await rec.waitForJson<{ unique_id: string; device: Record<string, unknown> }>(
      statusTopic,
      (c) => c.device.name === "Prod DB",
    );
    expect(config.unique_id).to.equal(`${base}__${SERVER_ID}__${JOB_SEG}__status`);
    expect(config.device).to.include({ configuration_url: "http://db-prod-01.lan:8200" });
    await rec.waitForJson<JobState>(jobStateTopic, (s) => s.server === "Prod DB" && s.serverAlias === "Prod DB");
    await rec.waitForJson<{ alias: string }>(`${base}/server/${SERVER_ID}/state`, (s) => s.alias === "Prod DB");
    expect([...rec.latest.keys()].sort(), "no topic added or removed").to.deep.equal(topicsBefore);
    checkDiscovery(statusTopic, rec.latest.get(statusTopic) ?? "", { availabilityTopic: `${base}/status` });
  });

  it("clears the retained configs and state of a job deleted through the maintenance API", async () => {
    const other = "Other job";
    const otherSeg = `other_job_${hash8(other)}`;
    const otherState = `${base}/server/${SERVER_ID}/backup/${otherSeg}/state`;
    const otherConfigs = configTopics(prefix, `${base}__${SERVER_ID}__${otherSeg}`, JOB_KEYS);
    await uploadOk(server, report({ job: other, begin: clock.now().getTime() - 30_000 }));
    await rec.waitForJson(otherState);
    await rec.waitFor("other job configs", () => (otherConfigs.every((t) => rec.latest.has(t)) ? true : undefined));
    await rec.waitForJson<{ jobs: number }>(`${base}/server/${SERVER_ID}/state`, (s) => s.jobs === 2);

    const res = await (
      await admin()
    ).json("DELETE", "/api/backups/delete-job", { serverId: SERVER_ID, backupName: other });
    expect(res.status).to.equal(200);
    // No event tells about this deletion: the periodic full sync (MQTT_RESYNC_SECONDS=1 here) notices the job is gone.
    await rec.waitFor("other job cleared", () =>
      [...otherConfigs, otherState].every((t) => !rec.latest.has(t)) ? true : undefined,
    );
    await rec.waitForJson<{ jobs: number }>(`${base}/server/${SERVER_ID}/state`, (s) => s.jobs === 1);
    const retained = await retainedSnapshot(broker.url, [`${base}/#`, `${prefix}/#`]);
    for (const t of [...otherConfigs, otherState]) expect(retained.has(t), `still retained: ${t}`).to.equal(false);
    for (const t of [...jobConfigs(), jobStateTopic]) expect(retained.has(t), `lost: ${t}`).to.equal(true);
  });

  it("clears every entity and state of a deleted server, keeping the bridge's", async () => {
    const res = await (await admin()).request(`/api/servers/${SERVER_ID}`, { method: "DELETE" });
    expect(res.status, await res.text()).to.equal(200);
    const gone = [...jobConfigs(), ...serverConfigs(), jobStateTopic, `${base}/server/${SERVER_ID}/state`];
    await rec.waitFor("server cleared", () => (gone.every((t) => !rec.latest.has(t)) ? true : undefined));
    const retained = await retainedSnapshot(broker.url, [`${base}/#`, `${prefix}/#`]);
    expect([...retained.keys()].filter((t) => t.includes(SERVER_ID))).to.deep.equal([]);
    for (const t of bridgeConfigs()) expect(retained.has(t), t).to.equal(true);
    await rec.waitForJson<{ totalServers: number; totalBackupJobs: number }>(
      `${base}/summary`,
      (s) => s.totalServers === 0 && s.totalBackupJobs === 0,
    );
  });

  it("marks the bridge offline (retained) on a clean shutdown", async () => {
    await server.close();
    await rec.waitFor("offline", () => (rec.latest.get(`${base}/status`) === "offline" ? true : undefined));
    const retained = await retainedSnapshot(broker.url, [`${base}/status`]);
    expect(retained.get(`${base}/status`)).to.equal("offline");
  });
});

describe("MQTT bridge: leftovers and options", function () {
  this.timeout(60_000);
  let broker: TestBroker;
  const used: string[] = [];

  before(async () => {
    broker = await sharedBroker();
  });
  after(async () => {
    if (broker) await clearRetained(broker.url, used);
    await broker?.close();
  });

  it("clears at start-up the retained topics of jobs that no longer exist, and nothing of others", async () => {
    const { base, prefix } = uniqueTopics();
    used.push(`${base}/#`, `${prefix}/#`);
    const ghost = {
      jobState: `${base}/server/ghost/backup/old_job/state`,
      serverState: `${base}/server/ghost/state`,
      jobConfig: `${prefix}/sensor/${base}__ghost__old_job__status/config`,
      jobProblem: `${prefix}/binary_sensor/${base}__ghost__old_job__overdue/config`,
      serverConfig: `${prefix}/sensor/${base}__ghost__status/config`,
    };
    const foreign = `${prefix}/sensor/some_other_integration/config`;
    await publishRetained(broker.url, [
      [ghost.jobState, JSON.stringify({ serverId: "ghost", job: "old job" })],
      [ghost.serverState, JSON.stringify({ serverId: "ghost" })],
      [ghost.jobConfig, JSON.stringify({ name: "x" })],
      [ghost.jobProblem, JSON.stringify({ name: "x" })],
      [ghost.serverConfig, JSON.stringify({ name: "x" })],
      [foreign, JSON.stringify({ name: "not ours" })],
    ]);
    const rec = await Recorder.start(broker.url, [`${base}/#`, `${prefix}/#`]);
    await rec.waitFor("leftovers seen", () => (rec.latest.has(ghost.jobConfig) ? true : undefined));
    const server = await startTestServer({
      MQTT_URL: broker.url,
      MQTT_BASE_TOPIC: base,
      MQTT_DISCOVERY_PREFIX: prefix,
    });
    try {
      await rec.waitFor("leftovers cleared", () =>
        Object.values(ghost).every((t) => !rec.latest.has(t)) ? true : undefined,
      );
      const retained = await retainedSnapshot(broker.url, [`${base}/#`, `${prefix}/#`]);
      for (const t of Object.values(ghost)) expect(retained.has(t), t).to.equal(false);
      expect(retained.has(foreign), "a foreign config is left alone").to.equal(true);
      expect(retained.get(`${base}/status`)).to.equal("online");
    } finally {
      await server.close();
      await rec.close();
    }
  });

  it("moves the entities of merged servers to the target and clears the old ones", async () => {
    const { base, prefix } = uniqueTopics();
    used.push(`${base}/#`, `${prefix}/#`);
    const rec = await Recorder.start(broker.url, [`${base}/#`, `${prefix}/#`]);
    const server = await startTestServer({
      MQTT_URL: broker.url,
      MQTT_BASE_TOPIC: base,
      MQTT_DISCOVERY_PREFIX: prefix,
    });
    try {
      const begin = new Date(Date.now() - 3600_000).toISOString();
      await uploadOk(server, makeReport({ machineId: "old-srv", backupName: "Files", begin }));
      await uploadOk(server, makeReport({ machineId: "new-srv", backupName: "Docs", begin }));
      const files = segment("Files");
      await rec.waitForJson(`${base}/server/old-srv/backup/${files}/state`);
      await rec.waitForJson(`${base}/server/new-srv/state`);
      const res = await (
        await login(server)
      ).json("POST", "/api/servers/merge", {
        oldServerIds: ["old-srv"],
        targetServerId: "new-srv",
      });
      expect(res.status, await res.clone().text()).to.equal(200);
      await rec.waitForJson<{ jobs: number }>(`${base}/server/new-srv/state`, (st) => st.jobs === 2);
      await rec.waitForJson<{ serverId: string }>(`${base}/server/new-srv/backup/${files}/state`);
      // (event topics are not retained: the last event of the old server stays in the recorder's view only)
      const left = () => [...rec.latest.keys()].filter((t) => t.includes("old-srv") && !t.endsWith("/event"));
      await rec.waitFor("old server cleared", () => (left().length === 0 ? true : undefined));
      const retained = await retainedSnapshot(broker.url, [`${base}/#`, `${prefix}/#`]);
      expect([...retained.keys()].filter((t) => t.includes("old-srv"))).to.deep.equal([]);
      expect(rec.latest.has(`${prefix}/sensor/${base}__new-srv__${files}__status/config`)).to.equal(true);
    } finally {
      await server.close();
      await rec.close();
    }
  });

  it("fails only itself, never the server, when a TLS file cannot be read", async () => {
    const server = await startTestServer({ MQTT_URL: "mqtts://127.0.0.1:8883", MQTT_CA: "/nonexistent/ca.pem" });
    try {
      const plugin = server.app.plugins.list().find((p) => p.name === "mqtt-bridge");
      expect(plugin?.state).to.equal("failed");
      expect(plugin?.error).to.include("MQTT_CA").and.include("ENOENT");
      await uploadOk(server, fixture("01-upstream-sample-success.json"));
    } finally {
      await server.close();
    }
  });

  it("publishes states but no discovery with MQTT_DISCOVERY=false", async () => {
    const { base, prefix } = uniqueTopics();
    used.push(`${base}/#`, `${prefix}/#`);
    const rec = await Recorder.start(broker.url, [`${base}/#`, `${prefix}/#`]);
    const server = await startTestServer({
      MQTT_URL: broker.url,
      MQTT_BASE_TOPIC: base,
      MQTT_DISCOVERY_PREFIX: prefix,
      MQTT_DISCOVERY: "false",
    });
    try {
      await uploadOk(server, fixture("01-upstream-sample-success.json"));
      const id = String(fixture("01-upstream-sample-success.json").Extra["machine-id"]);
      await rec.waitFor("server state", () => (rec.latest.has(`${base}/server/${id}/state`) ? true : undefined));
      await rec.waitFor("summary", () => (rec.latest.has(`${base}/summary`) ? true : undefined));
      expect([...rec.latest.keys()].filter((t) => t.startsWith(`${prefix}/`))).to.deep.equal([]);
    } finally {
      await server.close();
      await rec.close();
    }
  });
});
