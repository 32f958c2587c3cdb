import fs from "node:fs";
import { expect } from "chai";
import type { ImportSummary } from "../../server/src/importer/import-service";
import { login, type BrowserSession } from "../support/auth";
import { startTestServer, type TestServer } from "../support/server";
import {
  FIXTURES,
  type RawDatabase,
  deriveFixture,
  importFixture,
  importer,
  iso,
  readFixture,
  rollupsAndRebuild,
  tempDir,
} from "./support";

/**
 * Each real database of the original (0.4.0 … 1.4.2, schema none … 4.0) imported into a fresh instance, and compared
 * run by run and server by server with a direct read of the file; settings read back through the HTTP API.
 */

type Row = Record<string, unknown>;

const NUMBER_COLUMNS = [
  "duration_seconds",
  "size",
  "uploaded_size",
  "examined_files",
  "warnings",
  "errors",
  "deleted_files",
  "deleted_folders",
  "modified_files",
  "opened_files",
  "added_files",
  "size_of_modified_files",
  "size_of_added_files",
  "size_of_examined_files",
  "size_of_opened_files",
  "not_processed_files",
  "added_folders",
  "too_large_files",
  "files_with_error",
  "modified_folders",
  "modified_symlinks",
  "added_symlinks",
  "deleted_symlinks",
  "partial_backup",
  "dryrun",
  "interrupted",
  "warnings_actual_length",
  "errors_actual_length",
  "messages_actual_length",
  "bytes_downloaded",
  "known_file_size",
  "backup_list_count",
  "reported_quota_error",
  "reported_quota_warning",
  "backend_interrupted",
  "backend_warnings_actual_length",
  "backend_errors_actual_length",
] as const;
const TEXT_COLUMNS = [
  "id",
  "backup_name",
  "backup_id",
  "status",
  "main_operation",
  "parsed_result",
  "version",
  "messages_array",
  "warnings_array",
  "errors_array",
  "backend_main_operation",
  "backend_parsed_result",
  "backend_version",
  "backend_duration",
] as const;
const DATE_COLUMNS = [
  "date",
  "begin_time",
  "end_time",
  "last_backup_date",
  "backend_begin_time",
  "created_at",
] as const;

const DAY_MS = 86_400_000;

interface Source {
  servers: Row[];
  runs: Row[];
  config: Map<string, string>;
  /** 0.4/0.5 store no available versions: the list the original's 0.6.1 stored for the same retention lines. */
  oracleVersions: string[];
}

function readSource(file: string, serverTable: string): Source {
  return readFixture(file, (db: RawDatabase) => {
    const hasConfig = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'configurations'`).get() !== undefined;
    return {
      servers: db.prepare(`SELECT * FROM ${serverTable} ORDER BY id`).all() as Row[],
      runs: db.prepare(`SELECT * FROM backups`).all() as Row[],
      config: new Map(
        hasConfig
          ? (db.prepare(`SELECT key, value FROM configurations`).all() as Array<{ key: string; value: string }>).map(
              (r) => [r.key, r.value],
            )
          : [],
      ),
      oracleVersions: [],
    };
  });
}

describe("import of the original's databases, every schema it shipped", function () {
  this.timeout(120_000);

  const oracle = readFixture("backups_v0.6.1.db", (db) => {
    const rows = db.prepare(`SELECT DISTINCT available_backups AS v FROM backups`).all() as Array<{ v: string }>;
    expect(rows, "0.6.1 stores one list for its generated retention lines").to.have.length(1);
    return JSON.parse(rows[0]?.v as string) as string[];
  });

  for (const fx of FIXTURES) {
    describe(`${fx.release} (${fx.file}, schema ${fx.schemaVersion})`, () => {
      let server: TestServer;
      let admin: BrowserSession;
      let summary: ImportSummary;
      let source: Source;
      const serverTable = fx.serverColumn === "machine_id" ? "machines" : "servers";

      before(async () => {
        source = { ...readSource(fx.file, serverTable), oracleVersions: oracle };
        server = await startTestServer();
        admin = await login(server);
        summary = await importFixture(server.app, fx.file);
      });
      after(() => server?.close());

      it("reports the file's schema and what it imported", () => {
        expect(summary.source.schemaVersion).to.equal(fx.schemaVersion);
        expect(summary.runs).to.deep.equal({
          inFile: source.runs.length,
          imported: source.runs.length,
          alreadyPresent: 0,
          duplicatesInFile: 0,
          unreadable: 0,
        });
        expect(summary.servers).to.deep.equal({
          total: source.servers.length,
          created: source.servers.length,
          updated: 0,
        });
        expect(summary.secrets.reenter).to.deep.equal([]);
        const entries = Object.keys(JSON.parse(source.config.get("backup_settings") ?? "{}") as object).length;
        expect(summary.settings).to.include({ jobs: entries, serverDefaults: 0, skipped: 0 });
        if (fx.hasSettings) expect(entries).to.be.greaterThan(0);
        if (fx.schemaVersion === "4.0") {
          expect(summary.notImported.join("\n")).to.match(/^users \(1 row\(s\)\): user accounts are not imported/m);
          expect(summary.notImported.join("\n")).to.match(/^sessions \(0 row\(s\)\)/m);
          expect(summary.notImported.join("\n")).to.match(/^audit_log \(0 row\(s\)\)/m);
        } else expect(summary.notImported).to.deep.equal([]);
      });

      it("brings every server across (id, name, alias, note, Duplicati address)", async () => {
        const ours = await server.app.db.read((q) => q.all<Row>(`SELECT * FROM servers ORDER BY id`));
        expect(ours.map((s) => s.id)).to.deep.equal(source.servers.map((s) => s.id));
        for (const [i, s] of source.servers.entries()) {
          const o = ours[i] as Row;
          expect(o.name, String(s.id)).to.equal(s.name);
          expect(o.alias).to.equal(s.alias ?? "");
          expect(o.note).to.equal(s.note ?? "");
          expect(o.server_url).to.equal(s.server_url ?? "");
          expect(o.created_at).to.equal(iso(s.created_at));
        }
      });

      it("brings every run across with all its counters, dates (as ISO), log arrays and available versions", async () => {
        const ours = await server.app.db.read((q) => q.all<Row>(`SELECT * FROM backups`));
        expect(ours).to.have.length(source.runs.length);
        const byId = new Map(ours.map((r) => [r.id, r]));
        for (const s of source.runs) {
          const o = byId.get(s.id);
          expect(o, `run ${String(s.id)}`).to.not.equal(undefined);
          const run = o as Row;
          const label = `run ${String(s.id)}`;
          expect(run.server_id, label).to.equal(s[fx.serverColumn]);
          for (const c of NUMBER_COLUMNS) expect(Number(run[c]), `${label} ${c}`).to.equal(Number(s[c] ?? 0));
          for (const c of TEXT_COLUMNS) expect(run[c], `${label} ${c}`).to.equal(s[c] ?? null);
          for (const c of DATE_COLUMNS) expect(run[c], `${label} ${c}`).to.equal(iso(s[c]));
          const versions = JSON.parse(String(run.available_backups)) as string[];
          if ("available_backups" in s) {
            expect(versions, `${label} available_backups`).to.deep.equal(
              (JSON.parse(String(s.available_backups)) as string[]).map(iso),
            );
          } else expect(versions, `${label} versions read from its log`).to.deep.equal(source.oracleVersions);
        }
      });

      it("recomputes every job's state from its runs", async () => {
        const jobs = await server.app.db.read((q) => q.all<Row>(`SELECT * FROM jobs ORDER BY server_id, backup_name`));
        const groups = new Map<string, Row[]>();
        for (const r of source.runs) {
          const key = `${String(r[fx.serverColumn])}:${String(r.backup_name)}`;
          groups.set(key, [...(groups.get(key) ?? []), r]);
        }
        expect(jobs).to.have.length(groups.size);
        expect(summary.jobs.total).to.equal(groups.size);
        for (const job of jobs) {
          const runs = groups.get(`${String(job.server_id)}:${String(job.backup_name)}`) as Row[];
          const dates = runs.map((r) => iso(r.date) as string).sort();
          const latest = runs.find((r) => iso(r.date) === dates.at(-1)) as Row;
          const label = `${String(job.server_id)}:${String(job.backup_name)}`;
          expect(Number(job.run_count), label).to.equal(runs.length);
          expect(Number(job.uploaded_total), label).to.equal(runs.reduce((n, r) => n + Number(r.uploaded_size), 0));
          expect(job.first_run_date, label).to.equal(dates[0]);
          expect(job.latest_date, label).to.equal(dates.at(-1));
          expect(job.latest_run_id, label).to.equal(latest.id);
          expect(job.latest_status, label).to.equal(latest.status);
          const ok = runs
            .filter((r) => r.status === "Success" || r.status === "Warning")
            .map((r) => iso(r.date) as string);
          expect(job.last_success_date, label).to.equal(ok.length ? ok.sort().at(-1) : null);
          for (const status of ["Success", "Warning", "Error", "Fatal"]) {
            expect(Number(job[`runs_${status.toLowerCase()}`]), `${label} ${status}`).to.equal(
              runs.filter((r) => r.status === status).length,
            );
          }
        }
      });

      it("rebuilds the chart roll-ups over the imported runs", async () => {
        const { stored, rebuilt } = await rollupsAndRebuild(server.app);
        expect(stored.length).to.be.greaterThan(0);
        expect(stored).to.deep.equal(rebuilt);
      });

      it("answers the available versions of the latest runs through /api/lastbackups", async () => {
        for (const s of source.servers) {
          const res = await server.request(`/api/lastbackups/${String(s.id)}`);
          expect(res.status).to.equal(200);
          const body = (await res.json()) as { latest_backups: Array<{ name: string; available_backups: string[] }> };
          expect(body.latest_backups.length).to.be.greaterThan(0);
          for (const b of body.latest_backups) {
            const runs = source.runs.filter((r) => r[fx.serverColumn] === s.id && r.backup_name === b.name);
            const latest = runs.sort((a, b2) => String(b2.date).localeCompare(String(a.date)))[0] as Row;
            const expected =
              "available_backups" in latest
                ? (JSON.parse(String(latest.available_backups)) as string[]).map(iso)
                : source.oracleVersions;
            expect(b.available_backups, `${String(s.id)}:${b.name}`).to.deep.equal(expected);
          }
        }
      });

      it("brings the per-job settings across (legacy intervals converted) with the next expected run of §5.3", async () => {
        const res = await admin.request("/api/configuration/backup-settings");
        expect(res.status).to.equal(200);
        const map = ((await res.json()) as { backupSettings: Record<string, Row> }).backupSettings;
        const jobs = await server.app.db.read((q) =>
          q.all<Row>(`SELECT server_id, backup_name, latest_date FROM jobs`),
        );
        const stored = JSON.parse(source.config.get("backup_settings") ?? "{}") as Record<string, Row>;
        const nameToId = new Map(source.servers.map((s) => [String(s.name), String(s.id)]));
        const settingsOf = (serverId: string, backupName: string): Row | undefined => {
          for (const [key, value] of Object.entries(stored)) {
            const at = key.indexOf(":");
            const ref = key.slice(0, at);
            if (key.slice(at + 1) === backupName && (ref === serverId || nameToId.get(ref) === serverId)) return value;
          }
          return undefined;
        };
        expect(Object.keys(map)).to.have.length(jobs.length);
        for (const job of jobs) {
          const key = `${String(job.server_id)}:${String(job.backup_name)}`;
          const got = map[key] as Row;
          const s = settingsOf(String(job.server_id), String(job.backup_name));
          const latest = String(job.latest_date);
          const nextDay = new Date(Date.parse(latest) + DAY_MS).toISOString();
          expect(got.lastBackupDate, key).to.equal(latest);
          if (!fx.hasSettings) {
            expect(s).to.equal(undefined);
            expect(got).to.include({
              notificationEvent: "warnings",
              overdueBackupCheckEnabled: true,
              expectedInterval: "1D",
            });
            expect(got.time, `${key}: latest run + 1 day`).to.equal(nextDay);
            continue;
          }
          expect(s, `${key} has settings in the file`).to.not.equal(undefined);
          const setting = s as Row;
          const interval =
            setting.intervalUnit === "day"
              ? `${String(setting.expectedInterval)}D`
              : setting.intervalUnit === "hour"
                ? `${String(setting.expectedInterval)}h`
                : setting.expectedInterval;
          expect(got.expectedInterval, key).to.equal(interval);
          expect(got.notificationEvent, key).to.equal(setting.notificationEvent);
          expect(got.overdueBackupCheckEnabled, key).to.equal(setting.overdueBackupCheckEnabled);
          expect(got.allowedWeekDays, key).to.deep.equal(setting.allowedWeekDays ?? [0, 1, 2, 3, 4, 5, 6]);
          expect(got.ntfyEnabled, key).to.equal(setting.ntfyEnabled ?? true);
          expect(got.emailEnabled, key).to.equal(setting.emailEnabled ?? true);
          if (fx.storesTime) {
            // The original's own `time`: kept when computed from this latest run, recomputed to the same value else.
            expect(got.time, key).to.equal(setting.time);
            if (setting.lastBackupDate === undefined) expect(got.time, key).to.equal(nextDay);
          } else expect(got.time, `${key}: latest run + 1 day`).to.equal(nextDay);
        }
      });

      it("brings tolerance, frequency, templates and ntfy across (read back through the API)", async () => {
        const get = async (p: string) => {
          const res = await admin.request(p);
          expect(res.status, p).to.equal(200);
          return (await res.json()) as Row;
        };
        const tolerance = await get("/api/configuration/overdue-tolerance");
        expect(tolerance.overdue_tolerance).to.equal(source.config.get("overdue_tolerance") ?? "2h");
        const frequency = await get("/api/configuration/notifications");
        expect(frequency.value).to.equal(source.config.get("notification_frequency") ?? "every_day");

        const legacy = JSON.parse(source.config.get("notifications") ?? "{}") as Row;
        const templates = (await get("/api/configuration/templates")).templates as Record<string, Row>;
        const storedTemplates = (
          source.config.has("notification_templates")
            ? JSON.parse(source.config.get("notification_templates") as string)
            : legacy.templates
        ) as Record<string, Row> | undefined;
        if (!fx.hasSettings) expect(storedTemplates).to.equal(undefined);
        for (const kind of ["success", "warning", "overdueBackup"]) {
          const t = storedTemplates?.[kind];
          if (!t) continue;
          for (const f of ["title", "message", "priority", "tags"]) {
            expect(templates[kind]?.[f], `${kind}.${f}`).to.equal(
              String(t[f]).replaceAll("{machine_name}", "{server_name}"),
            );
          }
        }
        expect(templates.language).to.equal((storedTemplates as Row | undefined)?.language ?? "en-GB");

        const ntfy = ((await get("/api/configuration/ntfy")).ntfy ?? {}) as Row;
        const storedNtfy = (
          source.config.has("ntfy_config") ? JSON.parse(source.config.get("ntfy_config") as string) : legacy.ntfy
        ) as Row | undefined;
        if (storedNtfy) {
          expect(ntfy).to.deep.equal({ url: storedNtfy.url, topic: storedNtfy.topic, hasAccessToken: false });
        } else expect(String(ntfy.topic)).to.match(/^duplistatus-[A-Za-z0-9]{12}$/);
      });
    });
  }

  describe("0.6 settings: keyed by machine name, intervals in the legacy {expectedInterval, intervalUnit} form", () => {
    let server: TestServer;
    let dir: string;
    before(async () => {
      server = await startTestServer();
      dir = tempDir();
    });
    after(async () => {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("resolves the names to server ids and converts every interval", async () => {
      const file = deriveFixture(
        "backups_v0.6.1.db",
        (db) => {
          const settings = {
            "ANL-PROD-01:Users": {
              notificationEvent: "off",
              overdueBackupCheckEnabled: false,
              expectedInterval: 2,
              intervalUnit: "day",
            },
            "ANL-PROD-01:System": {
              notificationEvent: "errors",
              overdueBackupCheckEnabled: true,
              expectedInterval: 1.5,
              intervalUnit: "hour",
            },
            "MON-PROD-01:Files": {
              notificationEvent: "all",
              overdueBackupCheckEnabled: true,
              expectedInterval: "6",
              intervalUnit: "hour",
            },
          };
          db.prepare(`UPDATE configurations SET value = ? WHERE key = 'backup_settings'`).run(JSON.stringify(settings));
        },
        dir,
      );
      const summary = await importer(server.app).importFile(file, { via: "cli" });
      expect(summary.settings).to.include({ jobs: 3, skipped: 0 });
      const admin = await login(server);
      const map = (
        (await (await admin.request("/api/configuration/backup-settings")).json()) as {
          backupSettings: Record<string, Row>;
        }
      ).backupSettings;
      const after = (key: string, ms: number) =>
        new Date(Date.parse(String(map[key]?.lastBackupDate)) + ms).toISOString();
      const users = "54b5ec58a416d621426658678f44872e:Users";
      const system = "54b5ec58a416d621426658678f44872e:System";
      const files = "6a239b31db192a11178b1a369b8d3a3a:Files";
      expect(map[users]).to.include({
        notificationEvent: "off",
        overdueBackupCheckEnabled: false,
        expectedInterval: "2D",
      });
      expect(map[users]?.time).to.equal(after(users, 2 * DAY_MS));
      expect(map[system]).to.include({ notificationEvent: "errors", expectedInterval: "90m" });
      expect(map[system]?.time).to.equal(after(system, 90 * 60_000));
      expect(map[files]).to.include({ notificationEvent: "all", expectedInterval: "6h" });
      expect(map[files]?.time).to.equal(after(files, 6 * 3_600_000));
      // A job the file has no settings for gets the defaults.
      expect(map["6a239b31db192a11178b1a369b8d3a3a:Users"]).to.include({
        notificationEvent: "warnings",
        expectedInterval: "1D",
      });
    });
  });
});
