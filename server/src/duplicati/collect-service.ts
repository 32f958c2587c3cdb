import type { AuditActor } from "../audit/audit-service";
import type { AppContext } from "../context";
import { HttpError, badRequest, notFound } from "../core/errors";
import { SecretBox } from "../core/secrets";
import { validateReport } from "../ingest/validate-report";
import { findServersByName } from "../store/servers-store";
import {
  DEFAULT_DUPLICATI_PORT,
  type DuplicatiBackupEntry,
  type DuplicatiLogEntry,
  DuplicatiSession,
  type DuplicatiTarget,
  machineNameOf,
  systemOption,
  testConnection,
} from "./client";
import { DuplicatiError, hostPort } from "./http";
import { collectedJson, mapSchedule, reportOfLogEntry } from "./mapping";
import { type ConnectionRow, getConnection, listCollectable, setServerPassword, upsertCollectedServer } from "./store";

/** SecretBox purpose of servers.server_password. */
export const PASSWORD_PURPOSE = "server-password";

export interface CollectRequest {
  hostname?: string;
  port?: number | string;
  password?: string;
  serverId?: string;
  downloadJson?: boolean;
}

export interface CollectStats {
  processed: number;
  skipped: number;
  errors: number;
}

export interface CollectResult {
  success: true;
  serverId: string;
  serverName: string;
  serverAlias: string;
  message?: string;
  stats: CollectStats;
  backupSettings: { message: string };
  errors?: string[];
  jsonData?: string;
}

export interface SyncResult {
  success: true;
  serverId: string;
  serverName: string;
  message?: string;
  stats: { processed: number; errors: number };
  errors?: string[];
}

/** One server of a bulk run (several hostnames, or every server with a stored address and password). */
export interface BulkItem {
  hostname: string;
  port: number;
  success: boolean;
  serverId?: string;
  serverName?: string;
  error?: string;
  message?: string;
  stats?: CollectStats | { processed: number; errors: number };
}

export interface BulkResult {
  success: boolean;
  message?: string;
  results: BulkItem[];
  stats: CollectStats;
}

type Mode = "collect" | "sync";

/** A resolved request for one Duplicati server. */
interface Plan extends DuplicatiTarget {
  /** The server named by the request (serverId), if any. */
  serverId?: string;
  /** Store this password (it came with the request) rather than keep the stored one. */
  storePassword: boolean;
}

const SYSTEM: AuditActor = { username: "system" };
const HOST_RE = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?|\[?[0-9A-Fa-f:.]+\]?)$/;

/** The HTTP status of each kind of failure talking to Duplicati (see docs/collect.md). */
const STATUS: Record<DuplicatiError["kind"], number> = {
  auth: 400,
  unreachable: 502,
  "not-duplicati": 502,
  timeout: 504,
  api: 502,
};

export function httpErrorOf(err: DuplicatiError): HttpError {
  return new HttpError(STATUS[err.kind], { error: err.message, ...(err.detail ? { message: err.detail } : {}) });
}

const errorText = (err: unknown): string =>
  err instanceof HttpError
    ? [err.body.error, err.body.message].filter((s) => typeof s === "string").join(": ")
    : err instanceof Error
      ? err.message
      : String(err);

function parsePort(value: number | string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const port = typeof value === "number" ? value : Number(value.trim());
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw badRequest("Invalid port", { message: `"${String(value)}" is not a port number (1-65535)` });
  }
  return port;
}

/** A hostname as typed: a name or IP address, or a URL (its scheme is then tried first and its port used). */
function parseHost(
  raw: string,
  port: number | string | undefined,
): { hostname: string; port: number; preferScheme?: "http" | "https" } {
  const text = raw.trim();
  if (text.includes("://")) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw badRequest("Invalid hostname", { message: `"${text}" is not a host name or URL` });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw badRequest("URL must use HTTP or HTTPS protocol", { message: `"${url.protocol}" URLs are not accepted` });
    }
    return {
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port ? Number(url.port) : parsePort(port, DEFAULT_DUPLICATI_PORT),
      preferScheme: url.protocol === "http:" ? "http" : "https",
    };
  }
  if (!HOST_RE.test(text) || text.length > 253) {
    throw badRequest("Invalid hostname", { message: `"${text}" is not a host name or IP address` });
  }
  return { hostname: text.replace(/^\[|\]$/g, ""), port: parsePort(port, DEFAULT_DUPLICATI_PORT) };
}

/**
 * Pulling from Duplicati servers (reference §2.4, §3.5, §8.3): the stored connection (address, encrypted password),
 * the connection test, collecting backup logs into runs, and applying Duplicati's schedules to the monitoring
 * settings. Every call to a Duplicati server has the configured timeout; stop() cancels those in flight.
 */
export class DuplicatiService {
  private readonly controller = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly ctx: AppContext) {}

  private get clientOptions() {
    return { timeoutMs: this.ctx.config.duplicatiTimeoutMs, signal: this.controller.signal };
  }

  /** Cancels requests in flight and waits for the work around them to end. */
  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.then(
      () => this.inFlight.delete(work),
      () => this.inFlight.delete(work),
    );
    return work;
  }

  // ─── stored password ────────────────────────────────────────────────────────────────────────────────────────────

  async passwordStatus(serverId: string): Promise<{ hasPassword: boolean; serverId: string }> {
    const row = await this.ctx.db.read((q) => getConnection(q, serverId));
    if (!row) throw notFound("Server not found");
    return { hasPassword: row.server_password !== "", serverId };
  }

  /** Stores the password encrypted ("" clears it). */
  async setPassword(serverId: string, password: string, actor: AuditActor): Promise<void> {
    const stored = password === "" ? "" : this.ctx.secrets.encrypt(password, PASSWORD_PURPOSE);
    const now = this.ctx.clock.now().toISOString();
    await this.ctx.db.write(async (q) => {
      const row = await getConnection(q, serverId);
      if (!row) throw notFound("Server not found");
      await setServerPassword(q, serverId, stored, now);
      await this.ctx.audit.recordIn(q, {
        ...actor,
        action: "server_password_updated",
        category: "server",
        targetType: "server",
        targetId: serverId,
        // (No key may contain "password": the audit log redacts those.)
        details: { serverName: row.name, change: password === "" ? "cleared" : "set" },
      });
    });
  }

  /** The stored password in clear, or the 400/404 the original answers when there is none or it is unreadable. */
  private storedPassword(row: ConnectionRow): string {
    if (row.server_password === "") {
      throw notFound(
        "No password stored for this server. Please provide hostname and password to update server credentials, or set the password in Settings.",
        { serverInfo: { id: row.id, name: row.name, alias: row.alias, server_url: row.server_url } },
      );
    }
    try {
      if (!SecretBox.isEncrypted(row.server_password)) throw new Error("not encrypted with this installation's key");
      return this.ctx.secrets.decrypt(row.server_password, PASSWORD_PURPOSE);
    } catch {
      throw badRequest(
        "The master key is no longer valid. All encrypted passwords and settings must be reconfigured.",
        { masterKeyInvalid: true, message: `Set the password of server "${row.id}" again` },
      );
    }
  }

  testConnection(serverUrl: URL): Promise<{ success: boolean; message: string }> {
    return this.track(testConnection(serverUrl, this.clientOptions));
  }

  // ─── request → plans ────────────────────────────────────────────────────────────────────────────────────────────

  /** The servers a request names: null means "every server with a stored address and password". */
  private async plans(body: CollectRequest): Promise<Plan[] | null> {
    const hostnames = (body.hostname ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean);
    const password = body.password ?? "";
    if (body.serverId) {
      const row = await this.ctx.db.read((q) => getConnection(q, body.serverId as string));
      if (!row) throw notFound("Server not found");
      if (hostnames.length > 1) throw badRequest("Only one hostname can be given with serverId");
      // As the original: a missing password (404) is reported before a missing address (400).
      const usePassword = password || this.storedPassword(row);
      let stored: URL | null = null;
      if (hostnames.length === 0) {
        try {
          stored = new URL(row.server_url);
        } catch {
          throw badRequest("Invalid server URL format", {
            message: `Server "${row.id}" has no valid Duplicati address stored; give hostname (and port)`,
          });
        }
      }
      const host = stored
        ? {
            hostname: stored.hostname.replace(/^\[|\]$/g, ""),
            port: stored.port ? Number(stored.port) : stored.protocol === "https:" ? 443 : 80,
            preferScheme: stored.protocol === "http:" ? ("http" as const) : ("https" as const),
          }
        : parseHost(hostnames[0] as string, body.port);
      return [
        {
          ...host,
          password: usePassword,
          serverId: row.id,
          storePassword: password !== "",
        },
      ];
    }
    if (hostnames.length === 0) {
      if (password) throw badRequest("Hostname is required when serverId is not provided");
      return null;
    }
    if (!password) throw badRequest("Password is required when serverId is not provided");
    return hostnames.map((h) => ({ ...parseHost(h, body.port), password, storePassword: true }));
  }

  private async allPlans(): Promise<Array<Plan | { failed: BulkItem }>> {
    const rows = await this.ctx.db.read((q) => listCollectable(q));
    return rows.map((row) => {
      try {
        const url = new URL(row.server_url);
        return {
          hostname: url.hostname.replace(/^\[|\]$/g, ""),
          port: url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80,
          preferScheme: url.protocol === "http:" ? ("http" as const) : ("https" as const),
          password: this.storedPassword(row),
          serverId: row.id,
          storePassword: false,
        };
      } catch (err) {
        return {
          failed: { hostname: row.server_url, port: 0, success: false, serverId: row.id, error: errorText(err) },
        };
      }
    });
  }

  // ─── collect and sync ───────────────────────────────────────────────────────────────────────────────────────────

  /** POST /api/backups/collect. One server → its result (or the error); several → a bulk result. */
  collect(body: CollectRequest, actor: AuditActor): Promise<CollectResult | BulkResult> {
    return this.track(this.run("collect", body, actor) as Promise<CollectResult | BulkResult>);
  }

  /** POST /api/backups/sync-schedule: the same, schedules only. */
  syncSchedule(body: CollectRequest, actor: AuditActor): Promise<SyncResult | BulkResult> {
    return this.track(this.run("sync", body, actor) as Promise<SyncResult | BulkResult>);
  }

  /** Collects from every server with a stored address and password (the periodic task, "Collect All"). */
  collectAll(actor: AuditActor = SYSTEM): Promise<BulkResult> {
    return this.track(this.run("collect", {}, actor) as Promise<BulkResult>);
  }

  private async run(
    mode: Mode,
    body: CollectRequest,
    actor: AuditActor,
  ): Promise<CollectResult | SyncResult | BulkResult> {
    const plans = await this.plans(body);
    if (plans && plans.length === 1) {
      return this.one(mode, plans[0] as Plan, body.downloadJson === true, actor);
    }
    const items = plans ?? (await this.allPlans());
    const results: BulkItem[] = [];
    const stats: CollectStats = { processed: 0, skipped: 0, errors: 0 };
    for (const item of items) {
      if ("failed" in item) {
        results.push(item.failed);
        continue;
      }
      try {
        const r = await this.one(mode, item, false, actor);
        stats.processed += r.stats.processed;
        stats.errors += r.stats.errors;
        if ("skipped" in r.stats) stats.skipped += r.stats.skipped;
        results.push({
          hostname: item.hostname,
          port: item.port,
          success: true,
          serverId: r.serverId,
          serverName: r.serverName,
          stats: r.stats,
          ...(r.message ? { message: r.message } : {}),
        });
      } catch (err) {
        results.push({
          hostname: item.hostname,
          port: item.port,
          success: false,
          ...(item.serverId ? { serverId: item.serverId } : {}),
          error: errorText(err),
        });
      }
    }
    return {
      success: results.every((r) => r.success),
      ...(results.length === 0 ? { message: "No servers with a stored Duplicati address and password" } : {}),
      results,
      stats,
    };
  }

  /** One server: log in, identify it, record it, then collect its logs and/or apply its schedules. */
  private async one(
    mode: Mode,
    plan: Plan,
    downloadJson: boolean,
    actor: AuditActor,
  ): Promise<CollectResult | SyncResult> {
    const action = mode === "collect" ? "backup_collected" : "backup_schedule_synced";
    let serverName: string | undefined;
    try {
      const session = await DuplicatiSession.connect(plan, this.clientOptions);
      const info = await session.systemInfo();
      serverName = machineNameOf(info);
      if (!serverName) throw new DuplicatiError("api", "MachineName is missing from system info");
      const machineId = systemOption(info, "machine-id") ?? (await session.serverSettingsMachineId());
      const serverId = await this.identify(plan.serverId, machineId, serverName);
      const server = await this.recordServer({
        id: serverId,
        name: serverName,
        url: `${session.scheme}://${hostPort(plan.hostname, plan.port)}`,
        password: plan.storePassword ? plan.password : null,
        actor,
      });
      const backups = await session.backups();
      const errors: string[] = [];
      let processed = 0;
      let skipped = 0;
      let jsonData: string | undefined;
      if (mode === "collect") {
        const logs: Array<{ backupId: string; backupName: string; entries: DuplicatiLogEntry[] }> = [];
        for (const backup of backups) {
          try {
            const entries = await session.backupLog(backup.Backup.ID);
            const r = await this.storeLogs(serverId, serverName, backup, entries);
            processed += r.stored;
            skipped += r.duplicates;
            errors.push(...r.errors);
            if (downloadJson)
              logs.push({ backupId: backup.Backup.ID, backupName: backup.Backup.Name, entries: r.backupEntries });
          } catch (err) {
            if (err instanceof DuplicatiError && err.kind === "unreachable" && this.controller.signal.aborted)
              throw err;
            errors.push(`${backup.Backup.Name}: ${errorText(err)}`);
          }
        }
        if (downloadJson) jsonData = collectedJson(info, backups, logs);
      }
      // After the runs, so that Duplicati's next run (later than the newest run) is kept as the next expected run.
      let scheduled = 0;
      for (const backup of backups) {
        if (!backup.Schedule) continue;
        const schedule = mapSchedule(backup.Schedule);
        if (!schedule) continue;
        try {
          await this.ctx.services.monitoring.applyDuplicatiSchedule(serverId, backup.Backup.Name, schedule);
          scheduled++;
        } catch (err) {
          errors.push(`${backup.Backup.Name}: schedule: ${errorText(err)}`);
        }
      }
      // Runs stored in bulk send no backupReceived (no per-run notifications, as the original): integrations that
      // mirror state (MQTT) are told the server changed instead.
      if (processed > 0 && !server.created) {
        this.ctx.events.emit("serverChanged", {
          serverId,
          change: "updated",
          server: { id: serverId, name: serverName, alias: server.alias },
        });
      }
      // Settle overdue episodes against the new runs and schedules now rather than at the next tick.
      void this.ctx.services.overdue
        .check()
        .catch((err: unknown) => this.ctx.log.error({ err }, "overdue check after a Duplicati collect failed"));

      const details =
        mode === "collect"
          ? {
              serverName,
              hostname: plan.hostname,
              port: plan.port,
              processed,
              skipped,
              errors: errors.length,
              schedules: scheduled,
            }
          : { serverName, hostname: plan.hostname, port: plan.port, processed: scheduled, errors: errors.length };
      await this.ctx.audit.record({
        ...actor,
        action,
        category: "backup",
        targetType: "server",
        targetId: serverId,
        status: errors.length > 0 ? "error" : "success",
        details,
        ...(errors.length > 0 ? { errorMessage: `Completed with ${errors.length} error(s)` } : {}),
      });
      this.ctx.log.info({ action, serverId, ...details }, "collected from Duplicati");

      const noBackups = backups.length === 0 ? { message: "No backups found" } : {};
      const errorList = errors.length > 0 ? { errors } : {};
      if (mode === "sync") {
        return {
          success: true,
          serverId,
          serverName,
          ...noBackups,
          stats: { processed: scheduled, errors: errors.length },
          ...errorList,
        };
      }
      return {
        success: true,
        serverId,
        serverName,
        serverAlias: server.alias,
        ...noBackups,
        stats: { processed, skipped, errors: errors.length },
        backupSettings: { message: "Backup settings completion handled automatically" },
        ...errorList,
        ...(jsonData !== undefined ? { jsonData } : {}),
      };
    } catch (err) {
      this.ctx.log.warn(
        { action, hostname: plan.hostname, port: plan.port, error: errorText(err) },
        "collecting from Duplicati failed",
      );
      await this.ctx.audit.record({
        ...actor,
        action,
        category: "backup",
        targetType: "server",
        targetId: plan.serverId ?? null,
        status: "error",
        details: { serverName: serverName ?? null, hostname: plan.hostname, port: plan.port },
        errorMessage: errorText(err),
      });
      if (err instanceof DuplicatiError) throw httpErrorOf(err);
      throw err;
    }
  }

  /**
   * Which server the Duplicati is: the one the request named; else the server whose id is the machine-id (the id
   * its pushed reports use); else the newest server with the same name (the original's rule, for a Duplicati
   * whose machine-id changed); else a new server with the machine-id.
   */
  private async identify(requested: string | undefined, machineId: string | undefined, name: string): Promise<string> {
    if (requested) return requested;
    return this.ctx.db.read(async (q) => {
      if (machineId && (await getConnection(q, machineId))) return machineId;
      const named = (await findServersByName(q, name))[0];
      if (named) return named.id;
      if (machineId) return machineId;
      throw new DuplicatiError(
        "api",
        "Could not determine the Duplicati machine-id. Set Duplicati → Settings → Advanced Options → Machine-id and try again.",
      );
    });
  }

  private async recordServer(input: {
    id: string;
    name: string;
    url: string;
    password: string | null;
    actor: AuditActor;
  }): Promise<{ alias: string; created: boolean }> {
    const now = this.ctx.clock.now().toISOString();
    const stored = input.password === null ? null : this.ctx.secrets.encrypt(input.password, PASSWORD_PURPOSE);
    const result = await this.ctx.db.write(async (q) => {
      const r = await upsertCollectedServer(q, {
        id: input.id,
        name: input.name,
        url: input.url,
        password: stored,
        now,
      });
      if (r.created) {
        await this.ctx.audit.recordIn(q, {
          ...input.actor,
          action: "server_added",
          category: "server",
          targetType: "server",
          targetId: input.id,
          details: { serverName: input.name, server_url: input.url, source: "duplicati" },
        });
      }
      return r;
    });
    const ref = { id: input.id, name: input.name, alias: result.alias };
    if (result.created) this.ctx.events.emit("serverChanged", { serverId: input.id, change: "created", server: ref });
    else if (result.previousName !== undefined) {
      this.ctx.events.emit("serverChanged", {
        serverId: input.id,
        change: "renamed",
        server: ref,
        previousName: result.previousName,
      });
    }
    return { alias: result.alias, created: result.created };
  }

  /**
   * Stores a backup's log entries as runs through the ingest service (one transaction). Runs already stored (pushed
   * by Duplicati or collected before: same server, job and begin time) are counted as duplicates; entries that are
   * not valid backup results as errors.
   */
  private async storeLogs(
    serverId: string,
    serverName: string,
    backup: DuplicatiBackupEntry,
    entries: readonly DuplicatiLogEntry[],
  ): Promise<{ stored: number; duplicates: number; errors: string[]; backupEntries: DuplicatiLogEntry[] }> {
    const ids = { serverId, serverName, backupId: backup.Backup.ID, backupName: backup.Backup.Name };
    const reports: unknown[] = [];
    const errors: string[] = [];
    const backupEntries: DuplicatiLogEntry[] = [];
    for (const entry of entries) {
      const mapped = reportOfLogEntry(entry, ids);
      if (mapped.kind === "other") continue;
      if (mapped.kind === "invalid") {
        errors.push(`${backup.Backup.Name}: ${mapped.reason}`);
        continue;
      }
      backupEntries.push(entry);
      try {
        validateReport(mapped.report);
        reports.push(mapped.report);
      } catch (err) {
        errors.push(`${backup.Backup.Name}: log entry ${String(entry.ID ?? "?")}: ${errorText(err)}`);
      }
    }
    const { stored, duplicates } =
      reports.length > 0 ? await this.ctx.services.ingest.ingestBatch(reports) : { stored: 0, duplicates: 0 };
    return { stored, duplicates, errors, backupEntries };
  }
}
