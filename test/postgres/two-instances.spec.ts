import { expect } from "chai";
import { makeReport } from "../support/api";
import { login } from "../support/auth";
import { post } from "../support/child-server";
import { POSTGRES_ONLY, createTestDatabase, dropTestDatabase, postgresMode } from "../support/postgres";
import { type Cluster, type Instance, cluster } from "./support";

/**
 * Two server processes on one PostgreSQL database, as behind a load balancer: uploads spread over both, the same
 * report sent to both at the same moment, sessions, API tokens and settings used across them, and /metrics and
 * the read endpoints answering the same on each.
 */

const DAY = 86_400_000;

if (!postgresMode) {
  describe("two server instances on one PostgreSQL database", () => {
    it(`pending: ${POSTGRES_ONLY}`);
  });
} else {
  describe("two server instances on one PostgreSQL database", function () {
    this.timeout(120_000);
    let databaseUrl: string;
    let c: Cluster;
    let a: Instance;
    let b: Instance;

    before(async () => {
      databaseUrl = await createTestDatabase();
      c = cluster(databaseUrl, { METRICS_ACCESS: "token", UPLOAD_RATE_LIMIT: "0" });
      // Started together: both run the migrations' lock, one applies them, the other finds them applied.
      [a, b] = await Promise.all([c.start("a"), c.start("b")]);
    });
    after(async () => {
      await c?.close();
      if (databaseUrl) await dropTestDatabase(databaseUrl);
    });

    /** The summary without what depends on the moment of the request (lastUpdated, seconds since the last run). */
    const summary = async (i: Instance) => {
      const body = JSON.parse((await post(i.url, "/api/summary", undefined, "GET")).text) as Record<string, unknown>;
      delete body.lastUpdated;
      delete body.secondsSinceLastBackup;
      return body;
    };

    it("stores uploads spread over both instances, and both answer the same", async () => {
      const now = Date.now();
      const reports = Array.from({ length: 40 }, (_, n) =>
        makeReport({
          machineId: `m${n % 5}`,
          backupName: `Job ${n % 3}`,
          begin: new Date(now - (n + 1) * 3_600_000).toISOString(),
          status: n % 7 === 0 ? "Warning" : "Success",
        }),
      );
      const answers = await Promise.all(
        reports.map((r, n) => post((n % 2 === 0 ? a : b).url, "/api/upload", JSON.stringify(r))),
      );
      expect(answers.map((r) => r.status)).to.deep.equal(reports.map(() => 200));
      const [sa, sb] = [await summary(a), await summary(b)];
      expect(sa.totalBackupsRuns).to.equal(40);
      expect(sa.totalServers).to.equal(5);
      expect(sb).to.deep.equal(sa);
      const [la, lb] = await Promise.all(
        [a, b].map(async (i) => (await post(i.url, "/api/lastbackups/m1", undefined, "GET")).text),
      );
      expect(lb).to.equal(la);
    });

    it("takes the same report sent to both at once exactly once: one 200, one 409", async () => {
      const before = (await summary(a)).totalBackupsRuns as number;
      const statuses: number[][] = [];
      for (let n = 0; n < 12; n++) {
        // New servers and jobs too: the first report of a server races on the server row as well.
        const body = JSON.stringify(
          makeReport({
            machineId: `race-${n % 4}`,
            backupName: "Race",
            begin: new Date(Date.now() - n * DAY).toISOString(),
          }),
        );
        const pair = await Promise.all([post(a.url, "/api/upload", body), post(b.url, "/api/upload", body)]);
        statuses.push(pair.map((r) => r.status).sort());
      }
      expect(statuses).to.deep.equal(statuses.map(() => [200, 409]));
      const [sa, sb] = [await summary(a), await summary(b)];
      expect(sa.totalBackupsRuns).to.equal(before + 12);
      expect(sb).to.deep.equal(sa);
    });

    it("honours a session and its CSRF token on the other instance", async () => {
      const session = await login(a.server);
      const me = await fetch(`${b.url}/api/auth/me`, { headers: { cookie: session.cookie } });
      expect(me.status).to.equal(200);
      // A state-changing call on B with the session and CSRF token A handed out.
      const r = await fetch(`${b.url}/api/configuration/overdue-tolerance`, {
        method: "POST",
        headers: { cookie: session.cookie, "x-csrf-token": session.csrf, "content-type": "application/json" },
        body: JSON.stringify({ overdue_tolerance: "4h" }),
      });
      expect(r.status, await r.text()).to.equal(200);
      // …and the setting is what A answers now.
      const t = await session.request("/api/configuration/overdue-tolerance");
      expect(await t.json()).to.deep.equal({ overdue_tolerance: "4h" });
      // Logging out on B ends the session on A.
      const out = await fetch(`${b.url}/api/session`, { method: "DELETE", headers: { cookie: session.cookie } });
      expect(out.status).to.equal(200);
      expect((await session.request("/api/auth/me")).status).to.equal(401);
    });

    it("sees settings changed on one instance from the other, secrets included", async () => {
      const admin = await login(a.server);
      const saved = await admin.json("PUT", "/api/configuration/ntfy", {
        ntfy: { url: "http://127.0.0.1:9/", topic: "shared-topic", accessToken: "tk_shared-Secret" },
      });
      expect(saved.status).to.equal(200);
      const onB = await login(b.server);
      const [ua, ub] = await Promise.all(
        [admin, onB].map(async (s) => (await s.request("/api/configuration/unified")).json()),
      );
      expect(ub).to.deep.equal(ua);
      expect(JSON.stringify(ub)).to.include("shared-topic").and.not.include("tk_shared-Secret");
    });

    it("accepts an API token made on one instance on the other, and answers /metrics the same on both", async () => {
      const admin = await login(b.server);
      const created = await admin.json("POST", "/api/tokens", { name: "scraper", scope: "read" });
      expect(created.status).to.equal(201);
      const { token } = (await created.json()) as { token: string };
      const scrape = async (i: Instance) => {
        const r = await fetch(`${i.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
        expect(r.status, i.name).to.equal(200);
        // The database's figures (not this process's own: uptime, memory).
        return (await r.text()).split("\n").filter((l) => /^duplistatus_(backup|job|server|overdue|runs)/.test(l));
      };
      const [ma, mb] = [await scrape(a), await scrape(b)];
      expect(ma.length).to.be.greaterThan(20);
      expect(mb).to.deep.equal(ma);
      // Revoked on A: refused on B at once (no per-instance cache of tokens).
      const list = (await (await admin.request("/api/tokens")).json()) as {
        tokens: Array<{ id: string; name: string }>;
      };
      const id = list.tokens.find((t) => t.name === "scraper")?.id;
      const onA = await login(a.server);
      expect((await onA.json("DELETE", `/api/tokens/${id}`)).status).to.equal(200);
      const refused = await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(refused.status).to.equal(401);
    });
  });
}
