import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { maintenanceTempDir } from "../admin/files";
import type { AuditActor, AuditService } from "../audit/audit-service";
import { RETENTION_SETTING } from "../audit/audit-log-service";
import { rebuildChartRollups } from "../charts/rollups";
import type { Clock } from "../core/clock";
import type { ServerRef } from "../core/domain";
import type { EventBus } from "../core/events";
import { parseWeekdays } from "../core/job-state";
import type { Logger } from "../core/logger";
import { SecretBox } from "../core/secrets";
import type { Database, Queryable } from "../db/database";
import { TOLERANCE_MINUTES, resolveTolerance } from "../monitoring/interval";
import { computeNextExpected } from "../monitoring/schedule";
import { SERVER_DEFAULTS_KEY } from "../monitoring/settings-types";
import { ensureJobRow, openOrRenotifyEpisode, updateSchedule } from "../monitoring/settings-store";
import { DEFAULT_NTFY_URL, NTFY_KEY, SMTP_KEY, TEMPLATES_KEY } from "../notifications/notification-config";
import {
  mergeTemplate,
  parseTemplateSettings,
  TEMPLATE_KINDS,
  type TemplateSettings,
} from "../notifications/templates";
import { checkServerUrl } from "../servers/url";
import { getServerRow } from "../servers/server-admin-store";
import { getConfigValue } from "../store/configuration-store";
import { recomputeJob } from "../store/maintenance-store";
import { insertRun } from "../store/runs-store";
import {
  type FillableServerField,
  type ImportJobRow,
  fillServerFields,
  getImportJob,
  insertServer,
  listServerIds,
  runKeyById,
  setConfigIfChanged,
  upsertPrefsIfChanged,
} from "./import-store";
import {
  type SourceJobSettings,
  type SourceServer,
  type SourceSettings,
  mapRun,
  mapServer,
  readSettings,
} from "./mapper";
import { ImportRefusedError, ORIGINAL_SCHEMAS, OriginalDatabase } from "./original-db";
import { decryptOriginalSecret, isOriginalCiphertext } from "./original-secrets";

/** SecretBox purpose of `servers.server_password` (a Duplicati server's password, sealed with our key). */
export const SERVER_PASSWORD_PURPOSE = "server-password";
// The purposes notifications/notification-config.ts seals the ntfy token and the SMTP credentials with (private
// there): the import writes those settings inside its own transaction. test/import checks that the notification
// service reads what is written here.
const NTFY_TOKEN_PURPOSE = "ntfy-token";
const SMTP_PURPOSE = "smtp";

/** A secret of the original that did not come across: the user enters it again. Never carries the value. */
export interface SecretToReenter {
  kind: "server_password" | "smtp_username" | "smtp_password";
  serverId?: string;
  serverName?: string;
  reason: string;
}

export interface ImportSummary {
  source: { fileName: string; schemaVersion: string; description: string };
  servers: { total: number; created: number; updated: number };
  jobs: { total: number; updated: number };
  runs: { inFile: number; imported: number; alreadyPresent: number; duplicatesInFile: number; unreadable: number };
  settings: {
    /** Jobs whose monitoring and notification settings came across. */
    jobs: number;
    /** Servers whose defaults for the additional destinations came across. */
    serverDefaults: number;
    /** Global settings that came across (tolerance, frequency, templates, ntfy, SMTP…). */
    configuration: string[];
    /** Settings entries left out (unknown server, or a job without runs). */
    skipped: number;
    /** Overdue episodes carried over (the original had already notified them). */
    overdueEpisodes: number;
  };
  secrets: { imported: number; reenter: SecretToReenter[] };
  /** What the file holds that this installation does not take over. */
  notImported: string[];
  notes: string[];
}

export interface ImportOptions {
  /** The original's master key (its data/.duplistatus.key), to decrypt its secrets. */
  key?: Buffer | null;
  /** Shown in the summary and the audit entry instead of the path. */
  fileName?: string;
  actor?: AuditActor;
  via: "cli" | "http";
  /** Called as runs are imported (the CLI's progress bar). */
  onProgress?: (done: number, total: number) => void;
}

type SecretOutcome = { plain: string } | { reason: string } | null;

/** Tables of the original that are read, or deliberately not (reported on their own below). */
const KNOWN_TABLES = new Set(["db_version", "servers", "machines", "backups", "configurations", "sqlite_sequence"]);
const NOT_TAKEN: Record<string, string> = {
  users: "user accounts are not imported: log in with this installation's administrator and create them again",
  sessions: "sessions are not imported: everyone logs in to this installation",
  audit_log: "the audit log is not imported: this installation keeps its own from now on",
};
const MAX_NOTES = 50;
const PROGRESS_EVERY = 250;

const jobId = (serverId: string, backupName: string): string => `${serverId}\u0000${backupName}`;

/**
 * Imports a database of the original duplistatus (any schema it shipped: none/1.0 up to 4.0) into ours: servers,
 * every run, per-job monitoring and notification settings, tolerance, frequency, templates, ntfy and SMTP settings.
 * Everything is checked before anything is written, and everything is written in one transaction. Importing the
 * same file again changes nothing: runs are keyed by (server, job, date), settings are written only when they differ,
 * and server fields already set here are kept. Afterwards the jobs' state, next expected runs and chart roll-ups
 * agree with the runs.
 */
export class DuplistatusImportService {
  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      log: Logger;
      secrets: SecretBox;
      audit: AuditService;
      events: EventBus;
      dataDir: string;
      timeZone: string;
    },
  ) {}

  async importFile(file: string, options: ImportOptions): Promise<ImportSummary> {
    const fileName = options.fileName ?? path.basename(file);
    const scratch = path.join(maintenanceTempDir(this.deps.dataDir), `import-${randomUUID()}`);
    fs.mkdirSync(scratch, { recursive: true });
    try {
      const source = OriginalDatabase.open(file, scratch);
      try {
        const { summary, changedServers } = await this.importFrom(source, fileName, options);
        this.deps.log.info(
          { fileName, schemaVersion: summary.source.schemaVersion, runs: summary.runs, servers: summary.servers },
          "original duplistatus database imported",
        );
        for (const { server, created } of changedServers) {
          this.deps.events.emit("serverChanged", {
            serverId: server.id,
            change: created ? "created" : "updated",
            server,
          });
        }
        return summary;
      } finally {
        source.close();
      }
    } catch (err) {
      if (err instanceof ImportRefusedError) {
        await this.deps.audit.record({
          ...options.actor,
          action: "database_import",
          category: "system",
          targetType: "database",
          status: "failure",
          details: { source: options.via, fileName },
          errorMessage: err.message,
        });
      }
      throw err;
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }

  private async importFrom(
    source: OriginalDatabase,
    fileName: string,
    options: ImportOptions,
  ): Promise<{ summary: ImportSummary; changedServers: Array<{ server: ServerRef; created: boolean }> }> {
    const { layout } = source;
    const settings = readSettings(source.configuration());
    // 0.7 could still hold a server's Duplicati address in its settings rather than in servers.server_url.
    const servers = source
      .servers()
      .map(mapServer)
      .filter((s) => s.id !== "")
      .map((s) => (s.serverUrl ? s : { ...s, serverUrl: settings.serverAddresses.get(s.id) ?? "" }));
    const key = options.key ?? null;
    // Decrypted before the transaction: key derivation is deliberately slow and must not hold the writer.
    const passwords = new Map(servers.map((s) => [s.id, openSecret(s.password, key)]));
    const smtpSecrets = settings.smtp
      ? { username: openSecret(settings.smtp.username, key), password: openSecret(settings.smtp.password, key) }
      : null;
    const total = source.runCount();
    const summary: ImportSummary = {
      source: { fileName, schemaVersion: layout.schemaVersion, description: layout.description },
      servers: { total: servers.length, created: 0, updated: 0 },
      jobs: { total: 0, updated: 0 },
      runs: { inFile: total, imported: 0, alreadyPresent: 0, duplicatesInFile: 0, unreadable: 0 },
      settings: { jobs: 0, serverDefaults: 0, configuration: [], skipped: 0, overdueEpisodes: 0 },
      secrets: { imported: 0, reenter: [] },
      notImported: [],
      notes: [],
    };
    const notes: string[] = [
      ...(ORIGINAL_SCHEMAS[layout.schemaVersion]?.lacks ?? []).map((l) => `the file has no ${l}`),
    ];
    notes.push(...settings.notes);
    for (const table of layout.tables) {
      if (KNOWN_TABLES.has(table)) continue;
      const rows = source.rowCount(table);
      summary.notImported.push(
        `${table} (${rows} row(s)): ${NOT_TAKEN[table] ?? "a table this importer does not know"}`,
      );
    }

    const changedServers: Array<{ server: ServerRef; created: boolean }> = [];
    const { db, clock } = this.deps;
    await db.write(async (q) => {
      const now = clock.now().toISOString();
      const known = new Set(await listServerIds(q));

      // ── servers ──
      for (const s of servers) {
        const change = await this.importServer(q, s, passwords.get(s.id) ?? null, now, summary, notes);
        known.add(s.id);
        if (change) changedServers.push(change);
      }
      const serverByRef = resolver(servers, known);

      // ── runs ──
      const jobs = new Map<string, { serverId: string; backupName: string; touched: boolean }>();
      const inserted = new Set<string>();
      let from: string | null = null;
      let to: string | null = null;
      let done = 0;
      for (const row of source.runs()) {
        done++;
        if (done % PROGRESS_EVERY === 0) options.onProgress?.(done, total);
        const mapped = mapRun(row, layout, { now, timeZone: this.deps.timeZone });
        if ("skipped" in mapped) {
          summary.runs.unreadable++;
          notes.push(`run ${String(row.id)} left out: ${mapped.skipped}`);
          continue;
        }
        const { run } = mapped;
        if (!known.has(run.server_id)) {
          // The original does not enforce its foreign key: a run may name a server it has no row for.
          await insertServer(
            q,
            { id: run.server_id, name: run.server_id, server_url: "", alias: "", note: "", server_password: "" },
            now,
            now,
          );
          known.add(run.server_id);
          summary.servers.created++;
          changedServers.push({ server: { id: run.server_id, name: run.server_id, alias: "" }, created: true });
          notes.push(`server ${run.server_id} has runs but no row in the file; created with its id as name`);
        }
        const id = jobId(run.server_id, run.backup_name);
        const runKey = `${id}\u0000${run.date}`;
        const job = jobs.get(id) ?? { serverId: run.server_id, backupName: run.backup_name, touched: false };
        jobs.set(id, job);
        const clash = run.id ? await runKeyById(q, run.id) : undefined;
        if (
          clash &&
          clash.server_id === run.server_id &&
          clash.backup_name === run.backup_name &&
          clash.date === run.date
        ) {
          summary.runs.alreadyPresent++;
          continue;
        }
        if (clash || !run.id) run.id = randomUUID();
        if (await insertRun(q, run)) {
          summary.runs.imported++;
          inserted.add(runKey);
          job.touched = true;
          if (from === null || run.date < from) from = run.date;
          if (to === null || run.date > to) to = run.date;
        } else if (inserted.has(runKey)) summary.runs.duplicatesInFile++;
        else summary.runs.alreadyPresent++;
      }
      options.onProgress?.(total, total);
      summary.jobs.total = jobs.size;

      // ── per-job state, schedule and notification settings ──
      const jobSettings = new Map<string, SourceJobSettings>();
      for (const s of settings.jobs) {
        const serverId = serverByRef(s.serverRef);
        if (!serverId) {
          summary.settings.skipped++;
          notes.push(`settings of ${s.serverRef}:${s.backupName} left out: no such server`);
          continue;
        }
        const id = jobId(serverId, s.backupName);
        jobSettings.set(id, s);
        if (!jobs.has(id)) jobs.set(id, { serverId, backupName: s.backupName, touched: false });
      }
      for (const [id, job] of jobs) {
        const s = jobSettings.get(id);
        const changed = await this.importJob(q, job, s, now);
        if (changed === "no-runs") {
          if (s) {
            summary.settings.skipped++;
            notes.push(`settings of ${job.serverId}:${job.backupName} left out: the job has no runs`);
          }
          continue;
        }
        if (s) summary.settings.jobs++;
        if (changed) summary.jobs.updated++;
      }
      for (const d of settings.serverDefaults) {
        const serverId = serverByRef(d.serverRef);
        if (!serverId) {
          summary.settings.skipped++;
          notes.push(`defaults of server ${d.serverRef} left out: no such server`);
          continue;
        }
        await upsertPrefsIfChanged(q, serverId, SERVER_DEFAULTS_KEY, d.prefs, now);
        summary.settings.serverDefaults++;
      }

      // ── global settings ──
      summary.settings.configuration = await this.importConfiguration(q, settings, smtpSecrets, summary);
      summary.settings.overdueEpisodes = await this.importOverdueNotices(q, settings, serverByRef, now);

      if (from !== null && to !== null) await rebuildChartRollups(q, db.dialect, { from, to });
      await this.deps.audit.recordIn(q, {
        ...options.actor,
        action: "database_import",
        category: "system",
        targetType: "database",
        details: {
          source: options.via,
          fileName,
          schemaVersion: layout.schemaVersion,
          servers: summary.servers,
          jobs: summary.jobs,
          runs: summary.runs,
          settingsJobs: summary.settings.jobs,
          configuration: summary.settings.configuration,
          reenterCount: summary.secrets.reenter.length,
        },
      });
    });
    summary.notes =
      notes.length > MAX_NOTES ? [...notes.slice(0, MAX_NOTES), `… and ${notes.length - MAX_NOTES} more`] : notes;
    return { summary, changedServers };
  }

  /**
   * Creates the server, or fills the fields still empty here (alias, note, Duplicati address, password): what an
   * administrator set in this installation is kept. The name stays ours (it follows the latest upload).
   */
  private async importServer(
    q: Queryable,
    s: SourceServer,
    password: SecretOutcome,
    now: string,
    summary: ImportSummary,
    notes: string[],
  ): Promise<{ server: ServerRef; created: boolean } | null> {
    let url = "";
    try {
      url = checkServerUrl(s.serverUrl);
    } catch {
      notes.push(`server ${s.name}: Duplicati address ${JSON.stringify(s.serverUrl)} is not an http(s) URL; left out`);
    }
    const sealed =
      password && "plain" in password && password.plain !== ""
        ? this.deps.secrets.encrypt(password.plain, SERVER_PASSWORD_PURPOSE)
        : "";
    const incoming: Record<FillableServerField, string> = {
      server_url: url,
      alias: s.alias,
      note: s.note,
      server_password: sealed,
    };
    const existing = await getServerRow(q, s.id);
    let result: { server: ServerRef; created: boolean } | null = null;
    let storedPassword: string;
    if (!existing) {
      await insertServer(q, { id: s.id, name: s.name, ...incoming }, s.createdAt ?? now, now);
      summary.servers.created++;
      storedPassword = sealed;
      result = { server: { id: s.id, name: s.name, alias: s.alias }, created: true };
    } else {
      const fill: Partial<Record<FillableServerField, string>> = {};
      for (const k of Object.keys(incoming) as FillableServerField[]) {
        if (existing[k] === "" && incoming[k] !== "") fill[k] = incoming[k];
      }
      await fillServerFields(q, s.id, fill, now);
      storedPassword = fill.server_password ?? existing.server_password;
      if (Object.keys(fill).length > 0) {
        summary.servers.updated++;
        result = { server: { id: s.id, name: existing.name, alias: fill.alias ?? existing.alias }, created: false };
      }
    }
    if (password && "plain" in password && password.plain !== "") {
      if (this.openOurs(storedPassword, SERVER_PASSWORD_PURPOSE) === password.plain) summary.secrets.imported++;
      else notes.push(`server ${s.name}: a password set in this installation was kept instead of the original's`);
    }
    if (password && "reason" in password && storedPassword === "") {
      summary.secrets.reenter.push({
        kind: "server_password",
        serverId: s.id,
        serverName: s.name,
        reason: password.reason,
      });
    }
    return result;
  }

  /**
   * One job: its counters and latest run recomputed when runs came in, its schedule and notification settings taken
   * from the original's when it has some, and its next expected run worked out as the original does (§5.3). Returns
   * whether anything changed, or "no-runs" for a job that has no runs here (its settings are not imported).
   */
  private async importJob(
    q: Queryable,
    job: { serverId: string; backupName: string; touched: boolean },
    s: SourceJobSettings | undefined,
    now: string,
  ): Promise<boolean | "no-runs"> {
    const key = { server_id: job.serverId, backup_name: job.backupName };
    if (job.touched) {
      await ensureJobRow(q, job.serverId, job.backupName, now);
      await recomputeJob(q, key, now);
    }
    const row = await getImportJob(q, job.serverId, job.backupName);
    if (!row || Number(row.run_count) === 0 || !row.latest_date) return "no-runs";

    const schedule = s
      ? { enabled: s.monitoringEnabled, interval: s.interval, weekdays: s.weekdays }
      : {
          enabled: Number(row.monitoring_enabled) === 1,
          interval: row.expected_interval,
          weekdays: row.allowed_weekdays,
        };
    const scheduleChanged =
      schedule.enabled !== (Number(row.monitoring_enabled) === 1) ||
      schedule.interval !== row.expected_interval ||
      schedule.weekdays !== row.allowed_weekdays;
    const next = job.touched || s ? nextExpected(row, schedule, s) : row.next_expected_at;
    if (scheduleChanged || next !== row.next_expected_at) {
      await updateSchedule(q, {
        serverId: job.serverId,
        backupName: job.backupName,
        monitoringEnabled: schedule.enabled,
        expectedInterval: schedule.interval,
        allowedWeekdays: schedule.weekdays,
        nextExpectedAt: next,
        resetEpisode: scheduleChanged,
        now,
      });
    }
    const prefsChanged = s ? await upsertPrefsIfChanged(q, job.serverId, job.backupName, s.prefs, now) : false;
    return job.touched || scheduleChanged || next !== row.next_expected_at || prefsChanged;
  }

  /** Tolerance, frequency, overdue-check schedule, audit retention, templates, ntfy and SMTP. Returns what came. */
  private async importConfiguration(
    q: Queryable,
    settings: SourceSettings,
    smtpSecrets: { username: SecretOutcome; password: SecretOutcome } | null,
    summary: ImportSummary,
  ): Promise<string[]> {
    const { secrets } = this.deps;
    const imported: string[] = [];
    if (settings.tolerance) {
      await setConfigIfChanged(q, "overdue_tolerance", settings.tolerance);
      imported.push("overdue tolerance");
    }
    if (settings.frequency) {
      await setConfigIfChanged(q, "notification_frequency", settings.frequency);
      imported.push("notification frequency");
    }
    if (settings.auditRetentionDays !== null) {
      await setConfigIfChanged(q, RETENTION_SETTING, String(settings.auditRetentionDays));
      imported.push("audit log retention");
    }
    if (settings.checkSchedule) {
      let doc: { tasks?: Record<string, unknown> } = {};
      try {
        const raw = await getConfigValue(q, "cron_service");
        const parsed: unknown = raw ? JSON.parse(raw) : {};
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) doc = parsed as typeof doc;
      } catch {
        doc = {};
      }
      doc.tasks = { ...(doc.tasks ?? {}), "overdue-backup-check": settings.checkSchedule };
      await setConfigIfChanged(q, "cron_service", JSON.stringify(doc));
      imported.push("overdue check schedule");
    }

    if (settings.templates) {
      const raw = await getConfigValue(q, TEMPLATES_KEY);
      const current = parseTemplateSettings(raw);
      const next: TemplateSettings = { ...current };
      if (settings.templates.language) next.language = settings.templates.language as TemplateSettings["language"];
      for (const kind of TEMPLATE_KINDS) next[kind] = mergeTemplate(current[kind], settings.templates.kinds[kind]);
      if (raw === null || JSON.stringify(next) !== JSON.stringify(current)) {
        await setConfigIfChanged(q, TEMPLATES_KEY, JSON.stringify(next));
      }
      imported.push("notification templates");
    }

    if (settings.ntfy) {
      const stored = parseObject(await getConfigValue(q, NTFY_KEY));
      const wanted = {
        url: settings.ntfy.url || DEFAULT_NTFY_URL,
        topic: settings.ntfy.topic,
        token: settings.ntfy.accessToken,
      };
      const same =
        stored !== null &&
        stored.generated === undefined &&
        stored.url === wanted.url &&
        stored.topic === wanted.topic &&
        this.openOurs(stored.accessToken, NTFY_TOKEN_PURPOSE) === wanted.token;
      if (!same) {
        const token = wanted.token === "" ? "" : secrets.encrypt(wanted.token, NTFY_TOKEN_PURPOSE);
        await setConfigIfChanged(
          q,
          NTFY_KEY,
          JSON.stringify({ url: wanted.url, topic: wanted.topic, accessToken: token }),
        );
      }
      if (wanted.token !== "") summary.secrets.imported++;
      imported.push("ntfy");
    }

    if (settings.smtp && smtpSecrets) {
      const src = settings.smtp;
      const stored = parseObject(await getConfigValue(q, SMTP_KEY));
      const field = (name: "username" | "password", outcome: SecretOutcome): { plain: string; sealed: string } => {
        if (outcome && "plain" in outcome) {
          const current = stored ? this.openOurs(stored[name], SMTP_PURPOSE) : null;
          if (outcome.plain !== "") summary.secrets.imported++;
          return {
            plain: outcome.plain,
            sealed:
              current === outcome.plain && typeof stored?.[name] === "string"
                ? (stored[name] as string)
                : outcome.plain === ""
                  ? ""
                  : secrets.encrypt(outcome.plain, SMTP_PURPOSE),
          };
        }
        // Not readable (or not stored): what this installation already has stays.
        const kept = typeof stored?.[name] === "string" ? (stored[name] as string) : "";
        if (outcome && "reason" in outcome && kept === "") {
          summary.secrets.reenter.push({
            kind: name === "username" ? "smtp_username" : "smtp_password",
            reason: outcome.reason,
          });
        }
        return { plain: "", sealed: kept };
      };
      const username = field("username", smtpSecrets.username);
      const password = field("password", smtpSecrets.password);
      const next = {
        host: src.host,
        port: src.port,
        connectionType: src.connectionType,
        username: username.sealed,
        password: password.sealed,
        mailto: src.mailto,
        senderName: src.senderName,
        fromAddress: src.fromAddress,
        requireAuth: src.requireAuth,
      };
      await setConfigIfChanged(q, SMTP_KEY, JSON.stringify(next));
      imported.push("SMTP");
    }
    return imported;
  }

  /**
   * Jobs the original had already notified as overdue, and that are still overdue with no newer run: carried over
   * as an open episode notified then, so the next check re-notifies per the frequency instead of at once.
   */
  private async importOverdueNotices(
    q: Queryable,
    settings: SourceSettings,
    serverByRef: (ref: string) => string | null,
    now: string,
  ): Promise<number> {
    if (settings.overdueNotices.length === 0) return 0;
    const tolerance = TOLERANCE_MINUTES[resolveTolerance(await getConfigValue(q, "overdue_tolerance"))];
    const cutoff = new Date(Date.parse(now) - tolerance * 60_000).toISOString();
    let carried = 0;
    for (const n of settings.overdueNotices) {
      const serverId = serverByRef(n.serverRef);
      const job = serverId ? await getImportJob(q, serverId, n.backupName) : undefined;
      if (!job || job.overdue_since || Number(job.monitoring_enabled) !== 1 || !job.latest_date) continue;
      if (!job.next_expected_at || job.next_expected_at >= cutoff || n.sentAt < job.latest_date) continue;
      await openOrRenotifyEpisode(q, job.server_id, job.backup_name, {
        overdueSince: n.sentAt,
        notifiedAt: n.sentAt,
        noticeCount: 1,
      });
      carried++;
    }
    return carried;
  }

  /** A value we sealed, opened; null when it is not ours or does not open. */
  private openOurs(value: unknown, purpose: string): string | null {
    if (value === "" || value === undefined || value === null) return "";
    if (typeof value !== "string") return null;
    if (!SecretBox.isEncrypted(value)) return value;
    try {
      return this.deps.secrets.decrypt(value, purpose);
    } catch {
      return null;
    }
  }
}

/** One of the original's stored secrets: "" (none), in clear, or encrypted (decrypted when the key opens it). */
function openSecret(value: string, key: Buffer | null): SecretOutcome {
  if (value === "") return null;
  if (!isOriginalCiphertext(value)) return { plain: value };
  if (!key) return { reason: "encrypted with the original's key; no key file was given" };
  try {
    return { plain: decryptOriginalSecret(value, key) };
  } catch {
    return {
      reason: "the key file given does not decrypt it (is it the key of the installation the file comes from?)",
    };
  }
}

function parseObject(raw: string | null): Record<string, unknown> | null {
  if (!raw) return null;
  try {
    const v: unknown = JSON.parse(raw);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * The server id a settings key names: an id (0.7 on), or the name of exactly one server of the file (0.6 keyed
 * its settings by machine name).
 */
function resolver(servers: readonly SourceServer[], known: ReadonlySet<string>): (ref: string) => string | null {
  const byName = new Map<string, string[]>();
  for (const s of servers) byName.set(s.name, [...(byName.get(s.name) ?? []), s.id]);
  return (ref) => {
    if (known.has(ref)) return ref;
    const ids = byName.get(ref);
    return ids?.length === 1 ? (ids[0] as string) : null;
  };
}

/**
 * The job's next expected run, as the original maintains `time` (reference §5.3): Duplicati's own next scheduled
 * run when a report told it; the original's `time` as is when it was computed from this latest run; otherwise
 * stepped from the original's `time` (keeping its time of day) or from the latest run. Null when the interval cannot
 * be evaluated (the job is then left out of overdue counts, as after an upload).
 */
function nextExpected(
  row: ImportJobRow,
  schedule: { interval: string; weekdays: string },
  s: SourceJobSettings | undefined,
): string | null {
  const latest = row.latest_date as string;
  if (row.next_scheduled_run && row.next_scheduled_run > latest) return row.next_scheduled_run;
  if (s?.time && s.lastBackupDate === latest) return s.time;
  const previous = s ? s.time : row.next_expected_at;
  try {
    return computeNextExpected({
      latestRun: new Date(latest),
      previousNext: previous ? new Date(previous) : null,
      interval: schedule.interval,
      allowedWeekDays: parseWeekdays(schedule.weekdays),
    }).toISOString();
  } catch {
    return null;
  }
}
