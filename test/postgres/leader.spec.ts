import { expect } from "chai";
import { createLogger } from "../../server/src/core/logger";
import { Database } from "../../server/src/db/database";
import { makeReport } from "../support/api";
import { login } from "../support/auth";
import { post } from "../support/child-server";
import { POSTGRES_ONLY, createTestDatabase, dropTestDatabase, postgresMode } from "../support/postgres";
import { type NtfyReceiver, startNtfyReceiver } from "../api/notifications-support";
import { type TestBroker, retainedSnapshot, startAedes, uniqueTopics } from "../mqtt/support";
import { type Cluster, type Instance, cluster, sleep, waitFor } from "./support";

/**
 * The scheduled work on a shared database: the overdue check runs on exactly one instance (the holder of the
 * advisory-lock lease), its notices go out once, and when the holder is killed the other instance takes the lease
 * at its next tick and carries on. Notices about uploads go out once too: from the instance that took the upload.
 */

const CHECK_EVERY_S = 2;
/** The check itself, the notice's HTTP request and a loaded CI machine, on top of the one interval. */
const SLACK_MS = 2_500;
const DAY = 86_400_000;

const overdueTitles = (r: NtfyReceiver) =>
  r.requests.map((q) => q.query.get("title") ?? "").filter((t) => t.startsWith("🕑 Overdue"));

if (!postgresMode) {
  describe("scheduled work and notifications across instances (PostgreSQL)", () => {
    it(`pending: ${POSTGRES_ONLY}`);
  });
} else {
  describe("scheduled work and notifications across instances (PostgreSQL)", function () {
    this.timeout(120_000);
    let databaseUrl: string;
    let receiver: NtfyReceiver;
    let c: Cluster;
    let a: Instance;
    let b: Instance;
    let broker: TestBroker;
    const topics = uniqueTopics();

    before(async () => {
      receiver = await startNtfyReceiver();
      broker = await startAedes(0);
      databaseUrl = await createTestDatabase();
      // The schema, and an overdue check every 2 s (node-schedule takes a seconds field) before any instance starts.
      const db = await Database.open(
        { sqliteFile: "", synchronous: "NORMAL", cacheMb: 8, databaseUrl },
        createLogger("silent"),
      );
      await db.write((q) =>
        q.run(`INSERT INTO configurations (key, value) VALUES (?, ?)`, [
          "cron_service",
          JSON.stringify({
            tasks: { "overdue-backup-check": { cronExpression: `*/${CHECK_EVERY_S} * * * * *`, enabled: true } },
          }),
        ]),
      );
      await db.close();
      c = cluster(databaseUrl, {
        LOG_LEVEL: "info",
        UPLOAD_RATE_LIMIT: "0",
        // Both bridges on one broker, one availability topic.
        MQTT_URL: broker.url,
        MQTT_BASE_TOPIC: topics.base,
        MQTT_DISCOVERY: "false",
      });
      [a, b] = await Promise.all([c.start("a"), c.start("b")]);
      const admin = await login(a.server);
      const saved = await admin.json("PUT", "/api/configuration/ntfy", {
        ntfy: { url: receiver.url, topic: "scale-out", accessToken: "tk_scale-Out-1" },
      });
      expect(saved.status).to.equal(200);
    });
    after(async () => {
      await c?.close();
      await receiver?.close();
      await broker?.close();
      if (databaseUrl) await dropTestDatabase(databaseUrl);
    });

    const leaders = () => c.instances.filter((i) => i.child.output().includes("took the scheduler lease"));

    it("runs the scheduled check on exactly one instance", async () => {
      expect(await waitFor(() => leaders().length > 0, 10_000)).to.be.at.least(0);
      await sleep(3 * CHECK_EVERY_S * 1000);
      expect(leaders().map((i) => i.name)).to.have.length(1);
    });

    it("notifies an overdue episode once, whichever instance took the upload", async () => {
      receiver.requests.length = 0;
      // Last run three days ago, expected daily: overdue (tolerance 2 h). Sent to the instance that does not lead.
      const follower = leaders()[0] === a ? b : a;
      const report = makeReport({ machineId: "late-1", begin: new Date(Date.now() - 3 * DAY).toISOString() });
      expect((await post(follower.url, "/api/upload", JSON.stringify(report))).status).to.equal(200);
      expect(await waitFor(() => overdueTitles(receiver).length > 0, 4 * CHECK_EVERY_S * 1000)).to.be.at.least(0);
      // Several more ticks of both schedulers, and a manual check on each instance at the same moment.
      await sleep(2 * CHECK_EVERY_S * 1000);
      const [sa, sb] = [await login(a.server), await login(b.server)];
      const manual = await Promise.all(
        [sa, sb].map((s) => s.request("/api/notifications/check-overdue", { method: "POST" })),
      );
      expect(manual.map((r) => r.status)).to.deep.equal([200, 200]);
      await sleep(2 * CHECK_EVERY_S * 1000);
      expect(overdueTitles(receiver)).to.deep.equal(["🕑 Overdue - Files @ name-of-late-1"]);
      // The token reached ntfy: the instance that sent it decrypted what the other one may have stored.
      const notice = receiver.requests.find((q) => (q.query.get("title") ?? "").startsWith("🕑"));
      expect(notice?.headers.authorization).to.equal("Bearer tk_scale-Out-1");
    });

    it("notifies an upload once, from the instance that took it", async () => {
      receiver.requests.length = 0;
      const now = Date.now();
      const failed = (machineId: string) =>
        JSON.stringify(makeReport({ machineId, status: "Error", begin: new Date(now - 60_000).toISOString() }));
      const answers = await Promise.all([
        post(a.url, "/api/upload", failed("err-a")),
        post(b.url, "/api/upload", failed("err-b")),
      ]);
      expect(answers.map((r) => r.status)).to.deep.equal([200, 200]);
      await waitFor(() => receiver.requests.length >= 2, 5_000);
      await sleep(1_000);
      const titles = receiver.requests.map((q) => q.query.get("title") ?? "").sort();
      expect(titles).to.have.length(2);
      expect(titles[0]).to.include("name-of-err-a");
      expect(titles[1]).to.include("name-of-err-b");
    });

    it("moves the lease to the other instance within one check interval when the holder is killed", async () => {
      const [holder] = leaders();
      expect(holder, "a lease holder").to.not.equal(undefined);
      const survivor = holder === a ? b : a;
      receiver.requests.length = 0;
      const killed = await holder!.child.stop("SIGKILL");
      expect(killed.signal).to.equal("SIGKILL");
      const killedAt = Date.now();
      // A new overdue episode, uploaded to the survivor right after the kill.
      const report = makeReport({ machineId: "late-2", begin: new Date(Date.now() - 3 * DAY).toISOString() });
      expect((await post(survivor.url, "/api/upload", JSON.stringify(report))).status).to.equal(200);
      const waited = await waitFor(() => overdueTitles(receiver).length > 0, 5 * CHECK_EVERY_S * 1000, 50);
      expect(waited, "no overdue notice after the holder died").to.be.at.least(0);
      const tookOver = Date.now() - killedAt;
      // The survivor's first tick after the kill takes the lease and runs the check: one interval (plus slack).
      expect(tookOver, `notice ${tookOver} ms after the kill`).to.be.below(CHECK_EVERY_S * 1000 + SLACK_MS);
      expect(survivor.child.output()).to.include("took the scheduler lease");
      await sleep(2 * CHECK_EVERY_S * 1000);
      expect(overdueTitles(receiver)).to.deep.equal(["🕑 Overdue - Files @ name-of-late-2"]);
      // The killed bridge's last will said "offline"; the surviving bridge still serves the states: "online".
      const status = await retainedSnapshot(broker.url, [`${topics.base}/status`]);
      expect(status.get(`${topics.base}/status`)).to.equal("online");
    });
  });
}
