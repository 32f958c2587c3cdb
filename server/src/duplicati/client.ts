import { DuplicatiError, type HttpReply, hostPort, jsonOf, requestOnce } from "./http";

export const DEFAULT_DUPLICATI_PORT = 8200;

/** Duplicati REST endpoints (Duplicati 2.1+; reference §8.3). */
export const LOGIN_PATH = "/api/v1/auth/login";
const SYSTEMINFO_PATH = "/api/v1/systeminfo";
const SERVERSETTINGS_PATH = "/api/v1/serversettings";
const BACKUPS_PATH = "/api/v1/backups";
const backupLogPath = (id: string) => `/api/v1/backup/${encodeURIComponent(id)}/log?pagesize=999`;

export interface DuplicatiTarget {
  hostname: string;
  port: number;
  password: string;
  /** Try this scheme first (the one of a stored URL); the default order is https, then http. */
  preferScheme?: "http" | "https";
}

export interface SystemOption {
  Name?: string;
  DefaultValue?: string | null;
}

export interface SystemInfo {
  MachineName?: string;
  Options?: SystemOption[];
  ServerOnlyOptions?: SystemOption[];
  [key: string]: unknown;
}

export interface DuplicatiSchedule {
  ID?: number;
  Tags?: string[];
  Time?: string | null;
  Repeat?: string | null;
  LastRun?: string | null;
  Rule?: string | null;
  AllowedDays?: string[] | null;
}

export interface DuplicatiBackupEntry {
  Backup: { ID: string; Name: string; TargetURL?: string; [key: string]: unknown };
  Schedule?: DuplicatiSchedule | null;
  [key: string]: unknown;
}

export interface DuplicatiLogEntry {
  ID?: number;
  Timestamp?: number | string;
  Type?: string;
  /** The result of the operation as a JSON string (the run's Data). */
  Message?: string;
  Exception?: string | null;
  [key: string]: unknown;
}

export interface ClientOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** True when a login reply is Duplicati's refusal: HTTP 401 (body {"Error":"Failed to log in","Code":401}). */
export const isLoginRefusal = (reply: HttpReply): boolean => reply.status === 401;

/**
 * A logged-in connection to one Duplicati server. `connect` finds the scheme (HTTPS first, self-signed accepted,
 * then HTTP) and logs in with the password; the other calls use the access token.
 */
export class DuplicatiSession {
  private constructor(
    readonly baseUrl: string,
    readonly scheme: "http" | "https",
    private readonly token: string,
    private readonly options: ClientOptions,
  ) {}

  /**
   * Logs in. Each scheme is tried in turn: 2xx with an AccessToken is a login, 401 is a wrong password (the scheme
   * is right, so the other one is not tried), anything else (no answer, a TLS error, a 404 or HTML page) moves on to
   * the next scheme. When none works, the most telling failure is reported: not a Duplicati server, then timeout,
   * then unreachable.
   */
  static async connect(target: DuplicatiTarget, options: ClientOptions): Promise<DuplicatiSession> {
    const order: Array<"http" | "https"> = target.preferScheme === "http" ? ["http", "https"] : ["https", "http"];
    const body = JSON.stringify({ Password: target.password, RememberMe: true });
    const failures: DuplicatiError[] = [];
    const where = hostPort(target.hostname, target.port);
    for (const scheme of order) {
      const baseUrl = `${scheme}://${where}`;
      let reply: HttpReply;
      try {
        reply = await requestOnce(new URL(LOGIN_PATH, baseUrl), {
          method: "POST",
          body,
          timeoutMs: options.timeoutMs,
          signal: options.signal,
        });
      } catch (err) {
        if (!(err instanceof DuplicatiError)) throw err;
        failures.push(new DuplicatiError(err.kind, err.message, `${scheme.toUpperCase()}: ${err.message}`));
        continue;
      }
      if (isLoginRefusal(reply)) {
        throw new DuplicatiError("auth", "Authentication failed: wrong Duplicati password", `${baseUrl} answered 401`);
      }
      const json = jsonOf(reply);
      const token = isObject(json) && typeof json.AccessToken === "string" ? json.AccessToken : "";
      if (reply.status >= 200 && reply.status < 300 && token) {
        return new DuplicatiSession(baseUrl, scheme, token, options);
      }
      const what =
        reply.status >= 200 && reply.status < 300
          ? "answered without an access token"
          : `answered HTTP ${reply.status}`;
      failures.push(new DuplicatiError("not-duplicati", what, `${scheme.toUpperCase()}: POST ${LOGIN_PATH} ${what}`));
    }
    const details = failures.map((f) => f.detail ?? f.message).join("; ");
    const notDuplicati = failures.find((f) => f.kind === "not-duplicati");
    if (notDuplicati) {
      throw new DuplicatiError("not-duplicati", `${where} does not look like a Duplicati server`, details);
    }
    if (failures.some((f) => f.kind === "timeout")) {
      throw new DuplicatiError("timeout", `Duplicati server at ${where} did not answer in time`, details);
    }
    throw new DuplicatiError("unreachable", `Cannot connect to a Duplicati server at ${where}`, details);
  }

  private async getJson(path: string): Promise<unknown> {
    let reply: HttpReply;
    try {
      reply = await requestOnce(new URL(path, this.baseUrl), {
        headers: { Authorization: `Bearer ${this.token}` },
        timeoutMs: this.options.timeoutMs,
        signal: this.options.signal,
      });
    } catch (err) {
      if (err instanceof DuplicatiError) {
        throw new DuplicatiError(err.kind, `Duplicati request GET ${path} failed: ${err.message}`, err.detail);
      }
      throw err;
    }
    if (reply.status < 200 || reply.status >= 300) {
      throw new DuplicatiError("api", `Duplicati API error: GET ${path} answered HTTP ${reply.status}`);
    }
    const json = jsonOf(reply);
    if (json === undefined) throw new DuplicatiError("api", `Duplicati API error: GET ${path} did not answer JSON`);
    return json;
  }

  async systemInfo(): Promise<SystemInfo> {
    const json = await this.getJson(SYSTEMINFO_PATH);
    if (!isObject(json)) throw new DuplicatiError("api", `Duplicati API error: ${SYSTEMINFO_PATH} is not an object`);
    return json as SystemInfo;
  }

  /** Duplicati 2.4+ leaves machine-id empty in systeminfo; its server settings carry "--machine-id". */
  async serverSettingsMachineId(): Promise<string | undefined> {
    try {
      const json = await this.getJson(SERVERSETTINGS_PATH);
      if (!isObject(json)) return undefined;
      const value = json["--machine-id"] ?? json["machine-id"];
      return typeof value === "string" && value.trim() ? value.trim() : undefined;
    } catch {
      return undefined;
    }
  }

  async backups(): Promise<DuplicatiBackupEntry[]> {
    const json = await this.getJson(BACKUPS_PATH);
    if (!Array.isArray(json)) throw new DuplicatiError("api", `Duplicati API error: ${BACKUPS_PATH} is not a list`);
    return json.filter(
      (b): b is DuplicatiBackupEntry =>
        isObject(b) && isObject(b.Backup) && typeof b.Backup.ID === "string" && typeof b.Backup.Name === "string",
    );
  }

  async backupLog(backupId: string): Promise<DuplicatiLogEntry[]> {
    const path = backupLogPath(backupId);
    const json = await this.getJson(path);
    if (!Array.isArray(json)) throw new DuplicatiError("api", `Duplicati API error: ${path} is not a list`);
    return json.filter(isObject) as DuplicatiLogEntry[];
  }
}

/** The machine-id or machine-name option of systeminfo (Options, then ServerOnlyOptions), when not empty. */
export function systemOption(info: SystemInfo, name: string): string | undefined {
  for (const list of [info.Options, info.ServerOnlyOptions]) {
    const value = Array.isArray(list) ? list.find((o) => o?.Name === name)?.DefaultValue : undefined;
    if (typeof value === "string" && value.trim()) return value.trim();
  }
  return undefined;
}

/** The machine name Duplicati reports: MachineName, else the machine-name option. */
export function machineNameOf(info: SystemInfo): string | undefined {
  const name = typeof info.MachineName === "string" ? info.MachineName.trim() : "";
  return name || systemOption(info, "machine-name");
}

/**
 * POST /api/servers/test-connection (reference §2.4): POST {"Password":"x","RememberMe":true} to the address's
 * login endpoint; Duplicati refuses the made-up password with 401 ({"Error":"Failed to log in","Code":401}, or a
 * body that is not JSON), which proves a Duplicati server answers there. Never throws.
 */
export async function testConnection(
  serverUrl: URL,
  options: ClientOptions,
): Promise<{ success: boolean; message: string }> {
  let reply: HttpReply;
  try {
    reply = await requestOnce(new URL(LOGIN_PATH, serverUrl.origin), {
      method: "POST",
      body: JSON.stringify({ Password: "x", RememberMe: true }),
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
  } catch (err) {
    if (!(err instanceof DuplicatiError)) throw err;
    if (err.kind === "timeout") {
      return { success: false, message: "Connection timeout - server may be unreachable or slow to respond" };
    }
    let message = err.message;
    if (/ECONNREFUSED|EHOSTUNREACH/.test(message)) {
      message +=
        serverUrl.protocol === "https:"
          ? ". If the server doesn't support HTTPS, try using HTTP instead"
          : ". If the server requires HTTPS, try using HTTPS instead";
    } else if (/certificate|SSL|TLS|EPROTO/i.test(message)) {
      message += ". This appears to be an SSL/TLS certificate issue with HTTPS connection";
    }
    return { success: false, message };
  }
  if (reply.status === 401) {
    const json = jsonOf(reply);
    if (json === undefined || (isObject(json) && json.Error === "Failed to log in" && json.Code === 401)) {
      return { success: true, message: "Connection successful" };
    }
  }
  return { success: false, message: `Server responded with status ${reply.status}` };
}
