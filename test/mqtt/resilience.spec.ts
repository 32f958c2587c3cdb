import { expect } from "chai";
import { segment } from "../../mqtt-bridge/src";
import { lastBackups, makeReport, upload } from "../support/api";
import { spawnServer } from "../support/child-server";
import { type TestServer, startTestServer, tempDataDir } from "../support/server";
import {
  Recorder,
  type TestBroker,
  clearRetained,
  freePort,
  retainedSnapshot,
  sharedBroker,
  startPrivateBroker,
  uniqueTopics,
} from "./support";

/**
 * What happens when the broker or the server goes away: uploads never wait for MQTT, a restarted broker ends up
 * holding exactly the database's state, and the last will marks the bridge offline when the process dies.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Expected {
  topic: string;
  fields: Record<string, unknown>;
}

/** The retained job states the API implies, from /api/lastbackups of each server. */
async function expectedStates(server: TestServer, base: string, serverIds: string[]): Promise<Expected[]> {
  const out: Expected[] = [];
  for (const id of serverIds) {
    const r = await lastBackups(server, id);
    expect(r.status).to.equal(200);
    for (const b of r.body.latest_backups) {
      out.push({
        topic: `${base}/server/${segment(id)}/backup/${segment(b.name)}/state`,
        fields: {
          serverId: id,
          job: b.name,
          status: b.status.toLowerCase(),
          lastBackupAt: new Date(b.date).toISOString(),
          durationSeconds: b.duration_seconds,
          uploadedBytes: b.uploadedSize,
          sizeBytes: b.fileSize,
          storageBytes: b.knownFileSize,
          versions: b.backup_list_count,
          warnings: b.warnings,
          errors: b.errors,
        },
      });
    }
  }
  return out;
}

/** Null when the retained states equal the expected ones (no more, no less), else what differs. */
function differences(retained: Map<string, string>, base: string, expected: Expected[]): string | null {
  const problems: string[] = [];
  const jobStates = [...retained.keys()].filter((t) => t.startsWith(`${base}/server/`) && t.includes("/backup/"));
  const wanted = new Set(expected.map((e) => e.topic));
  for (const t of jobStates) if (!wanted.has(t)) problems.push(`unexpected ${t}`);
  for (const e of expected) {
    const raw = retained.get(e.topic);
    if (!raw) {
      problems.push(`missing ${e.topic}`);
      continue;
    }
    const state = JSON.parse(raw) as Record<string, unknown>;
    for (const [k, v] of Object.entries(e.fields)) {
      if (state[k] !== v) problems.push(`${e.topic} ${k}: ${JSON.stringify(state[k])} != ${JSON.stringify(v)}`);
    }
  }
  return problems.length ? problems.join("\n") : null;
}

describe("MQTT bridge resilience", function () {
  this.timeout(120_000);

  it("keeps answering uploads while the broker is down and, once it is back, retains exactly the database's states", async () => {
    const port = await freePort();
    const { base, prefix } = uniqueTopics();
    let broker: TestBroker | null = await startPrivateBroker(port);
    const server = await startTestServer({
      MQTT_URL: broker.url,
      MQTT_BASE_TOPIC: base,
      MQTT_DISCOVERY_PREFIX: prefix,
      MQTT_RESYNC_SECONDS: "0",
      UPLOAD_RATE_LIMIT: "0",
    });
    const now = Date.now();
    const run = (
      machineId: string,
      backupName: string,
      minutesAgo: number,
      extra: Partial<Parameters<typeof makeReport>[0]> = {},
    ) => makeReport({ machineId, backupName, begin: new Date(now - minutesAgo * 60_000).toISOString(), ...extra });
    try {
      for (const r of [run("srv-a", "Files", 300), run("srv-a", "Photos", 290), run("srv-b", "Files", 280)]) {
        const res = await upload(server, r);
        expect(res.status, res.text).to.equal(200);
      }
      let expected = await expectedStates(server, base, ["srv-a", "srv-b"]);
      const first = broker.url;
      await waitUntil("first states", async () =>
        differences(await retainedSnapshot(first, [`${base}/#`], 250), base, expected),
      );

      // The broker goes away (a private one: its retained messages die with it).
      await broker.close();
      broker = null;
      const slowest: number[] = [];
      const uploads = [
        run("srv-a", "Files", 200, { status: "Warning", uploaded: 777 }),
        run("srv-a", "Photos", 190, { status: "Error" }),
        run("srv-b", "Files", 180, { versions: 42 }),
        run("srv-b", "Logs", 170),
        run("srv-c", "Everything", 160, { known: 123_456 }),
      ];
      for (const [i, r] of uploads.entries()) {
        const t0 = Date.now();
        const res = await upload(server, r);
        slowest.push(Date.now() - t0);
        expect(res.status, `upload ${i} while the broker is down: ${res.text}`).to.equal(200);
        await sleep(150); // let the client go through a few reconnect attempts in between
      }
      expect(Math.max(...slowest), "an upload waited for the broker").to.be.below(2_000);
      expect(server.app.plugins.list().find((p) => p.name === "mqtt-bridge")?.state).to.equal("running");

      // Back on the same port, empty.
      broker = await startPrivateBroker(port);
      const back = broker.url;
      // More uploads while it reconnects.
      const late = await upload(server, run("srv-a", "Files", 100, { size: 31_337 }));
      expect(late.status, late.text).to.equal(200);
      expected = await expectedStates(server, base, ["srv-a", "srv-b", "srv-c"]);
      expect(expected).to.have.length(5);
      await waitUntil("states after the restart", async () =>
        differences(await retainedSnapshot(back, [`${base}/#`], 250), base, expected),
      );
      const retained = await retainedSnapshot(back, [`${base}/#`, `${prefix}/#`]);
      expect(retained.get(`${base}/status`)).to.equal("online");
      for (const id of ["srv-a", "srv-b", "srv-c"])
        expect(retained.has(`${base}/server/${id}/state`), id).to.equal(true);
      // Discovery is back too: 14 per job, 5 per server, 10 for the bridge.
      const configs = [...retained.keys()].filter((t) => t.startsWith(`${prefix}/`) && t.endsWith("/config"));
      expect(configs).to.have.length(5 * 14 + 3 * 5 + 10);
      const summary = JSON.parse(retained.get(`${base}/summary`) ?? "{}") as {
        totalBackupJobs: number;
        totalServers: number;
      };
      expect(summary).to.include({ totalBackupJobs: 5, totalServers: 3 });
    } finally {
      await server.close();
      await broker?.close();
    }
  });

  it("starts with the broker down and publishes everything once it comes up", async () => {
    const port = await freePort();
    const { base } = uniqueTopics();
    const server = await startTestServer({
      MQTT_URL: `mqtt://127.0.0.1:${port}`,
      MQTT_BASE_TOPIC: base,
      MQTT_DISCOVERY: "false",
    });
    let broker: TestBroker | null = null;
    try {
      expect(server.app.plugins.list().find((p) => p.name === "mqtt-bridge")?.state).to.equal("running");
      const t0 = Date.now();
      const res = await upload(
        server,
        makeReport({ machineId: "srv-x", begin: new Date(Date.now() - 3600_000).toISOString() }),
      );
      expect(res.status, res.text).to.equal(200);
      expect(Date.now() - t0).to.be.below(2_000);
      await sleep(300);
      broker = await startPrivateBroker(port);
      const url = broker.url;
      const expected = await expectedStates(server, base, ["srv-x"]);
      await waitUntil("states", async () =>
        differences(await retainedSnapshot(url, [`${base}/#`], 250), base, expected),
      );
    } finally {
      await server.close();
      await broker?.close();
    }
  });

  it("publishes every job already in the database at start-up", async () => {
    const broker = await sharedBroker();
    const { base, prefix } = uniqueTopics();
    const dataDir = tempDataDir();
    let server = await startTestServer({}, { dataDir });
    try {
      const jobs: Array<[string, string]> = [
        ["srv-1", "Files"],
        ["srv-1", "Mail"],
        ["srv-2", "Files"],
      ];
      for (const [machineId, backupName] of jobs) {
        const res = await upload(
          server,
          makeReport({ machineId, backupName, begin: new Date(Date.now() - 7200_000).toISOString() }),
        );
        expect(res.status, res.text).to.equal(200);
      }
      await server.close();
      server = await startTestServer(
        { MQTT_URL: broker.url, MQTT_BASE_TOPIC: base, MQTT_DISCOVERY_PREFIX: prefix },
        { dataDir },
      );
      const expected = await expectedStates(server, base, ["srv-1", "srv-2"]);
      expect(expected).to.have.length(3);
      await waitUntil("states at start-up", async () =>
        differences(await retainedSnapshot(broker.url, [`${base}/#`], 250), base, expected),
      );
    } finally {
      await server.close();
      await clearRetained(broker.url, [`${base}/#`, `${prefix}/#`]);
      await broker.close();
      const fs = await import("node:fs");
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("has the broker publish its last will (offline, retained) when the server process is killed", async () => {
    const broker = await sharedBroker();
    const { base, prefix } = uniqueTopics();
    const rec = await Recorder.start(broker.url, [`${base}/status`]);
    const dataDir = tempDataDir();
    const child = await spawnServer(dataDir, await freePort(), {
      MQTT_URL: broker.url,
      MQTT_BASE_TOPIC: base,
      MQTT_DISCOVERY_PREFIX: prefix,
      ADMIN_PASSWORD: "Test-Admin-Passw0rd",
    });
    try {
      await rec.waitFor("online", () => (rec.latest.get(`${base}/status`) === "online" ? true : undefined));
      const exit = await child.stop("SIGKILL");
      expect(exit.signal).to.equal("SIGKILL");
      const offline = await rec.waitFor("last will", () =>
        rec.messages.find((m) => m.topic === `${base}/status` && m.payload === "offline"),
      );
      expect(offline.payload).to.equal("offline");
      const retained = await retainedSnapshot(broker.url, [`${base}/status`]);
      expect(retained.get(`${base}/status`)).to.equal("offline");
    } finally {
      await child.stop("SIGKILL");
      await rec.close();
      await clearRetained(broker.url, [`${base}/#`, `${prefix}/#`]);
      await broker.close();
      const fs = await import("node:fs");
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** Polls `check` (null = done, else a description of what is still wrong) until it passes or 20 s are gone. */
async function waitUntil(what: string, check: () => Promise<string | null>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = "not checked";
  while (Date.now() < deadline) {
    last = await check();
    if (last === null) return;
    await sleep(200);
  }
  throw new Error(`${what}: still different after ${timeoutMs} ms:\n${last}`);
}
