import type { Database } from "../db/database";
import type { MonitoringSettingsService } from "../monitoring/settings-service";
import { MasterKeyError, type NotificationConfigService, SMTP_KEY } from "../notifications/notification-config";
import { getConfigValue } from "../store/configuration-store";
import { listServerFlags, listServerJobs } from "./dashboard-store";
import type { UnifiedConfig } from "./schemas";

/**
 * GET /api/configuration/unified: every setting the settings pages need, in one object (reference §2.5).
 * Secrets never leave: the ntfy access token and the SMTP username and password are replaced by has* flags, and
 * server passwords by hasPassword. The notification settings come from the notification room's service (its
 * views carry no ntfy token or SMTP password); the SMTP username, which its view decrypts, is dropped here.
 */

type EmailView = NonNullable<UnifiedConfig["email"]>;
const CONNECTION_TYPES: readonly string[] = ["plain", "starttls", "ssl"];

const nonEmpty = (v: unknown): boolean => typeof v === "string" && v !== "";
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/**
 * The SMTP settings from the stored value itself, without decrypting anything: used when this installation's key
 * cannot open the stored secrets (a database restored from elsewhere), so the page still shows the settings.
 */
export function storedEmailView(raw: string | null): EmailView | undefined {
  let stored: Record<string, unknown> | null;
  try {
    const v: unknown = raw ? JSON.parse(raw) : null;
    stored = v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    stored = null;
  }
  if (!stored || !nonEmpty(stored.host)) return undefined;
  const type = str(stored.connectionType);
  return {
    host: str(stored.host),
    port: Number(stored.port) || 587,
    connectionType: (CONNECTION_TYPES.includes(type) ? type : "starttls") as EmailView["connectionType"],
    mailto: str(stored.mailto),
    senderName: str(stored.senderName),
    fromAddress: str(stored.fromAddress),
    requireAuth: stored.requireAuth !== false,
    enabled: true,
    hasUsername: nonEmpty(stored.username),
    hasPassword: nonEmpty(stored.password),
    masterKeyInvalid: true,
  };
}

async function emailView(db: Database, notifications: NotificationConfigService): Promise<EmailView | undefined> {
  try {
    const view = await notifications.smtpView();
    if (!view) return undefined;
    return {
      host: view.host,
      port: view.port,
      connectionType: view.connectionType,
      mailto: view.mailto,
      senderName: view.senderName,
      fromAddress: view.fromAddress,
      requireAuth: view.requireAuth,
      enabled: true,
      hasUsername: view.username !== "",
      hasPassword: view.hasPassword,
    };
  } catch (err) {
    if (!(err instanceof MasterKeyError)) throw err;
    return storedEmailView(await db.read((q) => getConfigValue(q, SMTP_KEY)));
  }
}

export async function unifiedConfiguration(deps: {
  db: Database;
  monitoring: MonitoringSettingsService;
  notifications: NotificationConfigService;
}): Promise<UnifiedConfig> {
  const { db, monitoring, notifications } = deps;
  const ntfy = await notifications.ntfyView();
  const templates = await notifications.templates();
  const email = await emailView(db, notifications);
  const { servers, serverJobs } = await db.read(async (q) => ({
    servers: await listServerFlags(q),
    serverJobs: await listServerJobs(q),
  }));
  const address = (s: (typeof servers)[number]) => ({
    id: s.id,
    name: s.name,
    server_url: s.server_url,
    alias: s.alias,
    note: s.note,
    hasPassword: Number(s.has_password) === 1,
  });
  return {
    ntfy: { url: ntfy.url, topic: ntfy.topic, hasAccessToken: ntfy.hasAccessToken },
    templates: { ...templates },
    ...(email ? { email } : {}),
    overdue_tolerance: await monitoring.tolerance(),
    backup_settings: await monitoring.backupSettingsMap(),
    serverAddresses: servers.map(address),
    cronConfig: await monitoring.checkSchedule(),
    notificationFrequency: await monitoring.frequency(),
    serversWithBackups: serverJobs.map((j) => ({
      ...address(j),
      backupName: j.backup_name,
      expectedBackupDate: j.next_expected_at ?? "",
      lastBackupDate: j.latest_date ?? "",
    })),
  };
}
