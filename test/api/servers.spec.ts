import { expect } from "chai";
import { rebuildChartRollups } from "../../server/src/charts/rollups";
import { ManualClock } from "../../server/src/core/clock";
import type { DomainEvents } from "../../server/src/core/events";
import type { DashboardResponse, FullServer } from "../../server/src/dashboard/schemas";
import { getConfigValue, setConfigValue } from "../../server/src/store/configuration-store";
import {
  type ErrorBody,
  type LastBackupsBody,
  type RunSpec,
  ISO_MS,
  getJson,
  makeReport,
  readJson,
  summary,
  uploadOk,
} from "../support/api";
import { type BrowserSession, login } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";
import { postgresMode } from "../support/postgres";

/** Server management over HTTP: list, view, edit (PATCH and PUT), server-url, delete, duplicates and merge. */

const T0 = new Date("2025-06-10T12:00:00.000Z");
const day = (d: number, hour = 1) => new Date(Date.UTC(2025, 5, d, hour)).toISOString();

interface AuditBody {
  logs: Array<{
    action: string;
    category: string;
    targetId: string | null;
    username: string | null;
    details: Record<string, unknown> | null;
  }>;
}

describe("server management API", function () {
  let s: TestServer;
  let clock: ManualClock;
  let admin: BrowserSession;
  let viewer: BrowserSession;
  const events: Array<DomainEvents["serverChanged"]> = [];

  async function run(spec: RunSpec): Promise<void> {
    await uploadOk(s, makeReport(spec));
    clock.advance(1000);
  }

  before(async () => {
    clock = new ManualClock(T0);
    s = await startTestServer({ LOGIN_RATE_LIMIT: "1000" }, { clock });
    s.app.events.on("serverChanged", (e) => {
      events.push(e);
    });
    admin = await login(s);
    const created = await admin.json("POST", "/api/users", {
      username: "viewer",
      password: "Viewer-Passw0rd",
      isAdmin: false,
      requirePasswordChange: false,
    });
    expect(created.status).to.equal(201);
    viewer = await login(s, "viewer", "Viewer-Passw0rd");
  });
  after(() => s.close());

  async function call<T = unknown>(session: BrowserSession, method: string, path: string, body?: unknown) {
    return readJson<T & ErrorBody>(await session.json(method, path, body), `${method} ${path}`);
  }
  async function settingsMap(): Promise<Record<string, Record<string, unknown>>> {
    const r = await call<{ backupSettings: Record<string, Record<string, unknown>> }>(
      admin,
      "GET",
      "/api/configuration/backup-settings",
    );
    expect(r.status).to.equal(200);
    return r.body.backupSettings;
  }
  async function saveSettings(map: Record<string, unknown>): Promise<void> {
    const r = await call(admin, "POST", "/api/configuration/backup-settings", { backupSettings: map });
    expect(r.status, r.text).to.equal(200);
    await s.app.services.overdue.check();
  }
  async function auditOf(action: string): Promise<AuditBody["logs"]> {
    const r = await call<AuditBody>(admin, "GET", `/api/audit-log?action=${action}`);
    expect(r.status).to.equal(200);
    return r.body.logs;
  }
  /** The chart roll-ups (maintained by the charts room) must still equal a rebuild from the runs. */
  const rollups = () =>
    s.app.db.read((q) =>
      q.all<Record<string, unknown>>(`SELECT * FROM chart_rollups ORDER BY granularity, bucket_start`),
    );
  const rebuildRollups = () => s.app.db.write((q) => rebuildChartRollups(q, s.app.db.dialect));
  async function expectRollupsConsistent(): Promise<void> {
    const current = await rollups();
    await rebuildRollups();
    expect(current).to.deep.equal(await rollups());
  }

  async function dashboard(): Promise<DashboardResponse> {
    const r = await call<DashboardResponse>(admin, "GET", "/api/dashboard");
    expect(r.status).to.equal(200);
    return r.body;
  }

  describe("list and view", () => {
    before(async () => {
      await run({ machineId: "view-b", machineName: "Bravo", backupName: "Docs", begin: day(1) });
      await run({ machineId: "view-b", machineName: "Bravo", backupName: "Mail", begin: day(2) });
      await run({ machineId: "view-b", machineName: "Bravo", backupName: "Mail", begin: day(3), uploaded: 333 });
      await run({ machineId: "view-a", machineName: "Alpha", backupName: "Files", begin: day(2) });
    });

    it("GET /api/servers lists {id,name,alias,note} by name", async () => {
      const r = await call<Array<Record<string, unknown>>>(viewer, "GET", "/api/servers");
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal([
        { id: "view-a", name: "Alpha", alias: "", note: "" },
        { id: "view-b", name: "Bravo", alias: "", note: "" },
      ]);
    });

    it("GET /api/servers?includeBackups=true gives one row per server × job", async () => {
      const r = await call<Array<Record<string, unknown>>>(viewer, "GET", "/api/servers?includeBackups=true");
      expect(r.body).to.deep.equal([
        { id: "view-a", name: "Alpha", backupName: "Files", server_url: "", alias: "", note: "", hasPassword: false },
        { id: "view-b", name: "Bravo", backupName: "Docs", server_url: "", alias: "", note: "", hasPassword: false },
        { id: "view-b", name: "Bravo", backupName: "Mail", server_url: "", alias: "", note: "", hasPassword: false },
      ]);
    });

    it("GET /api/servers/:id gives the server; includeBackups / includeChartData the full server with paged runs", async () => {
      const basic = await call<Record<string, unknown>>(viewer, "GET", "/api/servers/view-b");
      expect(basic.status).to.equal(200);
      expect(basic.body).to.deep.equal({
        id: "view-b",
        name: "Bravo",
        alias: "",
        note: "",
        server_url: "",
        hasPassword: false,
        created_at: T0.toISOString(),
      });
      for (const q of ["includeBackups=true", "includeChartData=true"]) {
        const full = await call<FullServer>(viewer, "GET", `/api/servers/view-b?${q}`);
        expect(full.status, q).to.equal(200);
        expect(full.body.backups.map((b) => b.date)).to.deep.equal([day(3), day(2), day(1)]);
        expect(full.body.pagination).to.deep.equal({ total: 3, limit: 100, offset: 0 });
        expect(full.body.chartData).to.be.an("array");
      }
      const page = await call<FullServer>(viewer, "GET", "/api/servers/view-b?includeBackups=true&limit=1&offset=1");
      expect(page.body.backups.map((b) => b.date)).to.deep.equal([day(2)]);
      const bad = await call(viewer, "GET", "/api/servers/view-b?includeBackups=true&limit=5000");
      expect(bad.status).to.equal(400);
    });

    it("answers 404 {error:'Server not found'} for an unknown id, and 401 anonymously", async () => {
      for (const path of [
        "/api/servers/nope",
        "/api/servers/nope?includeBackups=true",
        "/api/servers/nope/server-url",
      ]) {
        const r = await call(viewer, "GET", path);
        expect(r.status, path).to.equal(404);
        expect(r.body.error).to.equal("Server not found");
      }
      for (const path of ["/api/servers", "/api/servers/view-a", "/api/servers/view-a/server-url"]) {
        expect((await getJson(s, path)).status, path).to.equal(401);
      }
    });
  });

  describe("PATCH / PUT /api/servers/:id", () => {
    before(() => run({ machineId: "edit-me", machineName: "Editable", begin: day(4) }));

    it("changes only the fields sent (PATCH and PUT)", async () => {
      let r = await call(admin, "PATCH", "/api/servers/edit-me", { alias: "  Box  " });
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.deep.equal({
        message: "Server updated successfully",
        serverId: "edit-me",
        server_url: "",
        alias: "Box",
        note: "",
      });
      r = await call(admin, "PATCH", "/api/servers/edit-me", { note: "in the attic" });
      expect(r.body).to.include({ alias: "Box", note: "in the attic", server_url: "" });
      r = await call(admin, "PUT", "/api/servers/edit-me", { server_url: "https://edit.example:8200/" });
      expect(r.status).to.equal(200);
      expect(r.body).to.include({ alias: "Box", note: "in the attic", server_url: "https://edit.example:8200/" });
      const view = await call(viewer, "GET", "/api/servers/edit-me");
      expect(view.body).to.include({ alias: "Box", note: "in the attic", server_url: "https://edit.example:8200/" });
      // The dashboard and the lastbackup server object follow.
      const last = await getJson<LastBackupsBody>(s, "/api/lastbackups/edit-me");
      expect(last.body.server).to.include({ alias: "Box", note: "in the attic" });
      r = await call(admin, "PATCH", "/api/servers/edit-me", { server_url: "" });
      expect(r.body).to.include({ server_url: "", alias: "Box" });
    });

    it("rejects a bad URL with 400 (not the original's 404) and leaves the server unchanged", async () => {
      const cases: Array<[unknown, string]> = [
        [{ server_url: "ftp://edit.example/" }, "URL must use HTTP or HTTPS protocol"],
        [{ server_url: "javascript:alert(1)" }, "URL must use HTTP or HTTPS protocol"],
        [{ server_url: "not a url" }, "Invalid URL format"],
        [{ server_url: "edit.example:8200" }, "URL must use HTTP or HTTPS protocol"],
        [{}, "Nothing to update"],
        [{ alias: 5 }, "Invalid request body"],
        [{ note: null }, "Invalid request body"],
        [{ alias: "x".repeat(201) }, "Invalid request body"],
        [[], "Invalid request body"],
      ];
      for (const method of ["PATCH", "PUT"]) {
        for (const [body, error] of cases) {
          const r = await call(admin, method, "/api/servers/edit-me", body);
          expect(r.status, `${method} ${JSON.stringify(body)}`).to.equal(400);
          expect(r.body.error, JSON.stringify(body)).to.equal(error);
        }
      }
      const view = await call(viewer, "GET", "/api/servers/edit-me");
      expect(view.body).to.include({ alias: "Box", server_url: "" });
    });

    it("answers 404 for an unknown server, 403 to a non-admin, 401 anonymously", async () => {
      for (const method of ["PATCH", "PUT"]) {
        const missing = await call(admin, method, "/api/servers/nope", { alias: "x" });
        expect(missing.status).to.equal(404);
        expect(missing.body.error).to.equal("Server not found");
        expect((await call(viewer, method, "/api/servers/edit-me", { alias: "x" })).status).to.equal(403);
        const anon = await s.request("/api/servers/edit-me", {
          method,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ alias: "x" }),
        });
        expect(anon.status).to.equal(401);
      }
    });

    it("audits server_updated and emits serverChanged(updated)", async () => {
      const logs = await auditOf("server_updated");
      const entry = logs.find(
        (l) => l.targetId === "edit-me" && (l.details?.changedFields as string[]).includes("note"),
      );
      expect(entry).to.not.equal(undefined);
      expect(entry).to.include({ category: "server", username: "admin" });
      expect(entry?.details).to.deep.include({ note: { from: "", to: "in the attic" } });
      await s.app.events.idle();
      expect(
        events.some((e) => e.serverId === "edit-me" && e.change === "updated" && e.server?.alias === "Box"),
      ).to.equal(true);
    });
  });

  describe("/api/servers/:id/server-url", () => {
    it("reads and sets the Duplicati UI address (PATCH and PUT)", async () => {
      let r = await call(admin, "PATCH", "/api/servers/edit-me/server-url", { server_url: "http://nas.local:8200" });
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.deep.equal({
        message: "Server URL updated successfully",
        serverId: "edit-me",
        serverName: "Editable",
        server_url: "http://nas.local:8200",
      });
      const got = await call(viewer, "GET", "/api/servers/edit-me/server-url");
      expect(got.body).to.deep.equal({ serverId: "edit-me", server_url: "http://nas.local:8200" });
      r = await call(admin, "PUT", "/api/servers/edit-me/server-url", { server_url: "https://nas.local" });
      expect(r.body).to.include({ server_url: "https://nas.local" });
      // Alias and note are untouched.
      expect((await call(viewer, "GET", "/api/servers/edit-me")).body).to.include({
        alias: "Box",
        note: "in the attic",
      });
    });

    it("validates the URL and the server", async () => {
      const cases: Array<[unknown, number, string]> = [
        [{ server_url: "ftp://nas" }, 400, "URL must use HTTP or HTTPS protocol"],
        [{ server_url: "::" }, 400, "Invalid URL format"],
        [{}, 400, "Invalid request body"],
        [{ server_url: 8200 }, 400, "Invalid request body"],
      ];
      for (const [body, status, error] of cases) {
        const r = await call(admin, "PATCH", "/api/servers/edit-me/server-url", body);
        expect(r.status, JSON.stringify(body)).to.equal(status);
        expect(r.body.error).to.equal(error);
      }
      expect((await call(admin, "PATCH", "/api/servers/nope/server-url", { server_url: "" })).status).to.equal(404);
      expect((await call(viewer, "PATCH", "/api/servers/edit-me/server-url", { server_url: "" })).status).to.equal(403);
      expect((await call(viewer, "PUT", "/api/servers/edit-me/server-url", { server_url: "" })).status).to.equal(403);
    });
  });

  describe("DELETE /api/servers/:id", () => {
    before(async () => {
      await run({ machineId: "del-me", machineName: "Doomed", backupName: "A", begin: day(1) });
      await run({ machineId: "del-me", machineName: "Doomed", backupName: "A", begin: day(2) });
      await run({ machineId: "del-me", machineName: "Doomed", backupName: "B", begin: day(2) });
      await run({ machineId: "keeper", machineName: "Keeper", backupName: "K", begin: day(2) });
      await saveSettings({
        "del-me:A": { expectedInterval: "12h", notificationEvent: "all" },
        "del-me:B": { notificationEvent: "errors", overdueBackupCheckEnabled: false },
        "del-me:__default__": { additionalEmails: "ops@example.com" },
        "keeper:K": { expectedInterval: "2D", notificationEvent: "off" },
        "keeper:__default__": { additionalNtfyTopic: "keeper-topic" },
      });
      // A per-job map carried over from the original (configuration key), as an import may leave it.
      await s.app.db.write((q) =>
        setConfigValue(
          q,
          "backup_settings",
          JSON.stringify({ "del-me:A": { expectedInterval: "1D" }, "keeper:K": { expectedInterval: "1D" } }),
        ),
      );
    });

    it("deletes the server with its runs, job state and per-job settings", async () => {
      const before = await summary(s);
      const keys = Object.keys(await settingsMap());
      expect(keys).to.include.members(["del-me:A", "del-me:B", "del-me:__default__"]);
      await rebuildRollups();
      const rollupsBefore = await rollups();

      const r = await call(admin, "DELETE", "/api/servers/del-me");
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.deep.equal({
        message: "Successfully deleted server and 3 backups",
        status: 200,
        changes: { backupChanges: 3, serverChanges: 1 },
      });

      const map = await settingsMap();
      expect(Object.keys(map).filter((k) => k.startsWith("del-me:"))).to.deep.equal([]);
      expect(map["keeper:K"]).to.include({ expectedInterval: "2D", notificationEvent: "off" });
      expect(map["keeper:__default__"]).to.deep.equal({ additionalNtfyTopic: "keeper-topic" });
      const leftovers = await s.app.db.read(async (q) => ({
        prefs: await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM job_notification_settings WHERE server_id = ?`, [
          "del-me",
        ]),
        jobs: await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE server_id = ?`, ["del-me"]),
        runs: await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM backups WHERE server_id = ?`, ["del-me"]),
        legacy: await getConfigValue(q, "backup_settings"),
      }));
      expect(Number(leftovers.prefs?.n)).to.equal(0);
      expect(Number(leftovers.jobs?.n)).to.equal(0);
      expect(Number(leftovers.runs?.n)).to.equal(0);
      expect(JSON.parse(leftovers.legacy ?? "{}")).to.deep.equal({ "keeper:K": { expectedInterval: "1D" } });

      const after = await summary(s);
      expect(after.totalServers).to.equal(before.totalServers - 1);
      expect(after.totalBackupsRuns).to.equal(before.totalBackupsRuns - 3);
      expect(after.totalBackups).to.equal(before.totalBackups - 2);
      expect((await call(viewer, "GET", "/api/servers/del-me")).status).to.equal(404);
      expect((await getJson(s, "/api/lastbackups/del-me")).status).to.equal(404);
      const d = await dashboard();
      expect(d.serversSummary.map((x) => x.id)).to.not.include("del-me");
      expect(d.overallSummary.totalBackupsRuns).to.equal(after.totalBackupsRuns);
      expect(await rollups()).to.not.deep.equal(rollupsBefore);
      await expectRollupsConsistent();
    });

    it("a machine reporting again starts with default settings (nothing stale comes back)", async () => {
      await run({ machineId: "del-me", machineName: "Doomed", backupName: "A", begin: day(5) });
      const map = await settingsMap();
      expect(map["del-me:A"]).to.include({ expectedInterval: "1D", notificationEvent: "warnings" });
      expect(map).to.not.have.property("del-me:__default__");
      expect(map).to.not.have.property("del-me:B");
      const r = await call<{ changes: unknown }>(admin, "DELETE", "/api/servers/del-me");
      expect(r.body.changes).to.deep.equal({ backupChanges: 1, serverChanges: 1 });
    });

    it("answers 404 (not the original's 500) for an unknown server; 403 / 401 for others", async () => {
      const r = await call(admin, "DELETE", "/api/servers/del-me");
      expect(r.status).to.equal(404);
      expect(r.body.error).to.equal("Server not found");
      expect((await call(viewer, "DELETE", "/api/servers/keeper")).status).to.equal(403);
      expect((await s.request("/api/servers/keeper", { method: "DELETE" })).status).to.equal(401);
      expect((await call(viewer, "GET", "/api/servers/keeper")).status).to.equal(200);
    });

    it("audits server_deleted and emits serverChanged(deleted)", async () => {
      const logs = await auditOf("server_deleted");
      expect(logs.filter((l) => l.targetId === "del-me")).to.have.length(2);
      expect(logs[logs.length - 1]?.details).to.include({ serverName: "Doomed", backupsDeleted: 3, jobsDeleted: 2 });
      await s.app.events.idle();
      expect(events.filter((e) => e.serverId === "del-me" && e.change === "deleted")).to.have.length(2);
    });
  });

  describe("duplicates and merge", () => {
    const OLD = "twin-old";
    const NEW = "twin-new";

    before(async () => {
      // The old machine: Files on 1, 2, 3 and 5 June; OnlyOld on 2 and 4 June.
      for (const [d, uploaded] of [
        [1, 11],
        [2, 12],
        [3, 13],
        [5, 15],
      ]) {
        await run({
          machineId: OLD,
          machineName: "Twin",
          backupName: "Files",
          backupId: "DB-OLD",
          begin: day(d as number),
          uploaded,
        });
      }
      for (const [d, uploaded] of [
        [2, 21],
        [4, 22],
      ]) {
        await run({
          machineId: OLD,
          machineName: "Twin",
          backupName: "OnlyOld",
          backupId: "DB-OLD",
          begin: day(d as number, 5),
          uploaded,
        });
      }
      // The reinstalled machine (new machine-id, same name): Files on 3 June (also on the old one) and 4 June.
      clock.advance(60_000);
      await run({
        machineId: NEW,
        machineName: "Twin",
        backupName: "Files",
        backupId: "DB-NEW",
        begin: day(3),
        uploaded: 33,
      });
      await run({
        machineId: NEW,
        machineName: "Twin",
        backupName: "Files",
        backupId: "DB-NEW",
        begin: day(4),
        uploaded: 34,
      });
      await run({ machineId: "solo", machineName: "Solo", begin: day(4) });
      expect(
        (
          await call(admin, "PATCH", `/api/servers/${OLD}`, {
            alias: "Old box",
            note: "Basement",
            server_url: "http://old:8200",
          })
        ).status,
      ).to.equal(200);
      expect((await call(admin, "PATCH", `/api/servers/${NEW}`, { note: "Rack 2" })).status).to.equal(200);
      await saveSettings({
        [`${OLD}:Files`]: { expectedInterval: "12h", notificationEvent: "all" },
        [`${OLD}:OnlyOld`]: { expectedInterval: "1W", notificationEvent: "errors" },
        [`${OLD}:__default__`]: { additionalEmails: "ops@example.com" },
        [`${NEW}:Files`]: { expectedInterval: "2D", notificationEvent: "off" },
      });
    });

    it("GET /api/servers/duplicates groups servers by name, newest first (admin only)", async () => {
      const r = await call<Array<{ name: string; servers: Array<Record<string, unknown>> }>>(
        admin,
        "GET",
        "/api/servers/duplicates",
      );
      expect(r.status, r.text).to.equal(200);
      expect(r.body.map((g) => g.name)).to.deep.equal(["Twin"]);
      const group = r.body[0] as { servers: Array<Record<string, unknown>> };
      expect(group.servers.map((x) => x.id)).to.deep.equal([NEW, OLD]);
      expect(Object.keys(group.servers[1] ?? {})).to.have.members([
        "id",
        "created_at",
        "alias",
        "note",
        "server_url",
        "backupCount",
        "lastBackupDate",
      ]);
      expect(group.servers[1]?.created_at).to.match(ISO_MS);
      expect(group.servers[1]).to.deep.include({
        id: OLD,
        alias: "Old box",
        note: "Basement",
        server_url: "http://old:8200",
        backupCount: 6,
        lastBackupDate: day(5),
      });
      expect(String(group.servers[0]?.created_at) > String(group.servers[1]?.created_at)).to.equal(true);
      const denied = await call(viewer, "GET", "/api/servers/duplicates");
      expect(denied.status).to.equal(403);
      expect((await getJson(s, "/api/servers/duplicates")).status).to.equal(401);
    });

    it("a name shared by two servers is ambiguous for /api/detail (400 with the ids), ids still work", async () => {
      const r = await call<{ duplicate_servers: Array<{ id: string }> }>(viewer, "GET", "/api/detail/Twin");
      expect(r.status).to.equal(400);
      expect(r.body.error).to.equal("Multiple servers found with the same name");
      expect(r.body.duplicate_servers.map((x) => x.id)).to.have.members([OLD, NEW]);
      expect((await call(viewer, "GET", `/api/detail/${OLD}`)).status).to.equal(200);
    });

    it("rejects invalid merge requests with 400 and changes nothing", async () => {
      const before = await summary(s);
      const cases: Array<[unknown, string]> = [
        [{}, "oldServerIds must be a non-empty array of server ids"],
        [{ oldServerIds: [], targetServerId: NEW }, "oldServerIds must be a non-empty array of server ids"],
        [{ oldServerIds: [OLD] }, "targetServerId is required"],
        [{ oldServerIds: [OLD], targetServerId: "" }, "targetServerId is required"],
        [{ oldServerIds: [NEW, OLD], targetServerId: NEW }, "Target server cannot be in the list of servers to merge"],
        [{ oldServerIds: ["ghost"], targetServerId: NEW }, "Unknown server ids"],
        [{ oldServerIds: [OLD, "ghost"], targetServerId: NEW }, "Unknown server ids"],
        [{ oldServerIds: [OLD], targetServerId: "ghost" }, "Target server not found"],
        [{ oldServerIds: OLD, targetServerId: NEW }, "Invalid request body"],
        [{ oldServerIds: [42], targetServerId: NEW }, "Invalid request body"],
      ];
      for (const [body, error] of cases) {
        const r = await call(admin, "POST", "/api/servers/merge", body);
        expect(r.status, JSON.stringify(body)).to.equal(400);
        expect(r.body.error, JSON.stringify(body)).to.equal(error);
      }
      expect(
        (await call(viewer, "POST", "/api/servers/merge", { oldServerIds: [OLD], targetServerId: NEW })).status,
      ).to.equal(403);
      const anon = await s.postJson("/api/servers/merge", { oldServerIds: [OLD], targetServerId: NEW });
      expect(anon.status).to.equal(401);
      expect(await summary(s)).to.deep.equal(before);
      expect((await call(viewer, "GET", `/api/servers/${OLD}`)).status).to.equal(200);
    });

    it("merges runs, settings and server fields into the target in one go", async () => {
      const before = await summary(s);
      await rebuildRollups();
      const r = await call(admin, "POST", "/api/servers/merge", { oldServerIds: [OLD], targetServerId: NEW });
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.deep.equal({
        success: true,
        message: "Successfully merged 1 server(s) into target server",
        // The newest Files run (5 June) came from the old machine: the target's two runs take its backup_id.
        backupIdsNormalized: 2,
        runsMoved: 5,
        duplicateRunsDropped: 1,
      });

      // Runs: the 3 June run both had is the target's (uploaded 33), the rest moved over.
      const files = await call<{ server: FullServer }>(viewer, "GET", `/api/detail/${NEW}?backupName=Files`);
      expect(files.body.server.backups.map((b) => [b.date, b.uploadedSize, b.backup_id])).to.deep.equal([
        [day(5), 15, "DB-OLD"],
        [day(4), 34, "DB-OLD"],
        [day(3), 33, "DB-OLD"],
        [day(2), 12, "DB-OLD"],
        [day(1), 11, "DB-OLD"],
      ]);
      const only = await call<{ server: FullServer }>(viewer, "GET", `/api/detail/${NEW}?backupName=OnlyOld`);
      expect(only.body.server.backups.map((b) => b.date)).to.deep.equal([day(4, 5), day(2, 5)]);

      // Settings re-keyed: the target's own win (Files), the old server's move (OnlyOld, server defaults).
      const map = await settingsMap();
      expect(Object.keys(map).filter((k) => k.startsWith(`${OLD}:`))).to.deep.equal([]);
      expect(map[`${NEW}:Files`]).to.include({ expectedInterval: "2D", notificationEvent: "off" });
      expect(map[`${NEW}:OnlyOld`]).to.include({ expectedInterval: "1W", notificationEvent: "errors" });
      expect(map[`${NEW}:__default__`]).to.deep.equal({ additionalEmails: "ops@example.com" });
      // Job state recomputed: the latest Files run is now 5 June, and the 2-day schedule moves on from it.
      expect(map[`${NEW}:Files`]).to.include({ lastBackupDate: day(5), time: day(7) });
      const stamps = await call<{ timestamps: Record<string, string> }>(viewer, "GET", "/api/backups/last-timestamps");
      expect(stamps.body.timestamps[`${NEW}:Files`]).to.equal(day(5));
      expect(stamps.body.timestamps[`${NEW}:OnlyOld`]).to.equal(day(4, 5));
      expect(stamps.body.timestamps).to.not.have.property(`${OLD}:Files`);

      // Server fields: the target's own note stays; its empty alias and URL are filled from the old server.
      const target = await call(viewer, "GET", `/api/servers/${NEW}`);
      expect(target.body).to.include({ name: "Twin", alias: "Old box", note: "Rack 2", server_url: "http://old:8200" });
      expect((await call(viewer, "GET", `/api/servers/${OLD}`)).status).to.equal(404);

      // Totals stay consistent across /api/summary, the dashboard and the job rows.
      const after = await summary(s);
      expect(after.totalServers).to.equal(before.totalServers - 1);
      expect(after.totalBackupsRuns).to.equal(before.totalBackupsRuns - 1);
      expect(after.totalBackups).to.equal(before.totalBackups - 1);
      const d = await dashboard();
      const twin = d.serversSummary.find((x) => x.id === NEW);
      expect(twin?.backupInfo.map((b) => [b.name, b.backupCount, b.lastBackupDate, b.notificationEvent])).to.deep.equal(
        [
          ["Files", 5, day(5), "off"],
          ["OnlyOld", 2, day(4, 5), "errors"],
        ],
      );
      expect(twin?.backupInfo[0]?.statusHistory).to.have.length(5);
      expect(d.overallSummary.totalBackupsRuns).to.equal(after.totalBackupsRuns);
      expect(d.overallSummary.totalBackups).to.equal(after.totalBackups);
      const runs = await s.app.db.read((q) => q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM backups`));
      expect(Number(runs?.n)).to.equal(after.totalBackupsRuns);
      const last = await getJson<LastBackupsBody>(s, `/api/lastbackups/${NEW}`);
      expect(last.body.latest_backups.map((b) => [b.name, b.date])).to.deep.equal([
        ["Files", day(5)],
        ["OnlyOld", day(4, 5)],
      ]);

      // No duplicates left; the chart roll-ups follow the merged and dropped runs.
      expect((await call(admin, "GET", "/api/servers/duplicates")).body).to.deep.equal([]);
      await expectRollupsConsistent();
    });

    it("audits servers_merged and emits serverChanged(merged) with mergedInto", async () => {
      const [entry] = await auditOf("servers_merged");
      expect(entry).to.include({ category: "server", targetId: NEW, username: "admin" });
      expect(entry?.details).to.deep.include({ oldServerIds: [OLD], runsMoved: 5, duplicateRunsDropped: 1 });
      await s.app.events.idle();
      const merged = events.find((e) => e.change === "merged");
      expect(merged).to.deep.include({ serverId: OLD, mergedInto: NEW });
      expect(merged?.server).to.include({ id: OLD, name: "Twin" });
    });

    it("rolls the whole merge back when any step fails", async () => {
      for (const [id, extra] of [
        ["tri-1", 1],
        ["tri-2", 2],
        ["tri-3", 3],
      ] as const) {
        await run({ machineId: id, machineName: "Triple", backupName: "Job", begin: day(8), uploaded: 100 * extra });
        await run({ machineId: id, machineName: "Triple", backupName: "Job", begin: day(10 + extra), uploaded: extra });
      }
      const before = await summary(s);
      const map = await settingsMap();
      // Deleting the second old server fails, after the first one was already merged inside the transaction.
      const failing = postgresMode
        ? [
            `CREATE FUNCTION fail_merge() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN IF OLD.id = 'tri-2' THEN RAISE EXCEPTION 'boom'; END IF; RETURN OLD; END $$`,
            `CREATE TRIGGER fail_merge BEFORE DELETE ON servers FOR EACH ROW EXECUTE FUNCTION fail_merge()`,
          ]
        : [
            `CREATE TEMP TRIGGER fail_merge BEFORE DELETE ON servers WHEN OLD.id = 'tri-2' BEGIN SELECT RAISE(ABORT, 'boom'); END`,
          ];
      await s.app.db.write(async (q) => {
        for (const sql of failing) await q.run(sql);
      });
      try {
        const r = await call(admin, "POST", "/api/servers/merge", {
          oldServerIds: ["tri-1", "tri-2"],
          targetServerId: "tri-3",
        });
        expect(r.status).to.equal(500);
        expect(r.body).to.deep.equal({ error: "Failed to merge servers" });
      } finally {
        const cleanup = postgresMode
          ? [`DROP TRIGGER fail_merge ON servers`, `DROP FUNCTION fail_merge()`]
          : [`DROP TRIGGER fail_merge`];
        await s.app.db.write(async (q) => {
          for (const sql of cleanup) await q.run(sql);
        });
      }
      expect(await summary(s)).to.deep.equal(before);
      expect(await settingsMap()).to.deep.equal(map);
      for (const id of ["tri-1", "tri-2", "tri-3"]) {
        const d = await call<{ server: FullServer }>(viewer, "GET", `/api/detail/${id}`);
        expect(d.body.server.backups, id).to.have.length(2);
      }
    });

    it("merges several servers at once; a run present on all of them is kept once, as the target's", async () => {
      const before = await summary(s);
      const r = await call(admin, "POST", "/api/servers/merge", {
        oldServerIds: ["tri-1", "tri-2", "tri-2"],
        targetServerId: "tri-3",
      });
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.include({
        message: "Successfully merged 2 server(s) into target server",
        runsMoved: 2,
        duplicateRunsDropped: 2,
      });
      const detail = await call<{ server: FullServer }>(viewer, "GET", "/api/detail/tri-3");
      expect(detail.body.server.backups.map((b) => [b.date, b.uploadedSize])).to.deep.equal([
        [day(13), 3],
        [day(12), 2],
        [day(11), 1],
        [day(8), 300],
      ]);
      expect(detail.body.server.pagination.total).to.equal(4);
      const after = await summary(s);
      expect(after.totalServers).to.equal(before.totalServers - 2);
      expect(after.totalBackupsRuns).to.equal(before.totalBackupsRuns - 2);
      expect(after.totalBackups).to.equal(before.totalBackups - 2);
      expect(after.totalUploadedSize).to.equal(before.totalUploadedSize - 100 - 200);
    });
  });
});
