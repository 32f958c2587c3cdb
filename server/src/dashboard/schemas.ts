import { z } from "zod";
import { BackupStatusSchema, BackupViewSchema } from "../reporting/schemas";
import { NOTIFICATION_EVENTS } from "../monitoring/settings-types";

/** Response schemas of the dashboard, detail, last-timestamps and unified-configuration endpoints (reference §2.4, §2.5, §2.7). */

const NA = z.literal("N/A");
const isoOrNA = z.string().describe('ISO 8601 UTC, or "N/A"');

export const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });

export const ChartPointSchema = z
  .object({
    date: z.string().describe("dd/mm/yyyy (UTC day)"),
    isoDate: z.string().describe("Start of the UTC day, ISO 8601"),
    uploadedSize: z.number().describe("Bytes uploaded by the day's runs (sum)"),
    duration: z.number().int().describe("Run time of the day's runs, whole minutes (floored sum)"),
    durationSeconds: z.number().describe("Run time of the day's runs, seconds (sum)"),
    fileCount: z.number().describe("Last run of each job that day, summed over jobs"),
    fileSize: z.number().describe("Last run of each job that day, summed over jobs"),
    storageSize: z.number().describe("Last run of each job that day, summed over jobs"),
    backupVersions: z.number().describe("Last run of each job that day, summed over jobs"),
    runCount: z.number().int().describe("Runs that day"),
  })
  .meta({ id: "DailyChartPoint" });

export const BackupInfoSchema = z
  .object({
    name: z.string(),
    lastBackupDate: isoOrNA,
    lastBackupId: z.string().describe('Id of the latest run, or "N/A"'),
    lastBackupStatus: z.union([BackupStatusSchema, NA]),
    lastBackupDuration: z.string().describe('HH:MM:SS, or "N/A"'),
    lastBackupListCount: z.number().nullable(),
    backupCount: z.number().int(),
    statusHistory: z.array(BackupStatusSchema).describe("Statuses of the last 10 runs, oldest first"),
    fileCount: z.number(),
    fileSize: z.number(),
    storageSize: z.number(),
    uploadedSize: z.number(),
    warnings: z.number(),
    errors: z.number(),
    availableBackups: z.array(z.string()),
    isBackupOverdue: z.boolean(),
    notificationEvent: z.enum(NOTIFICATION_EVENTS),
    expectedBackupDate: isoOrNA,
    expectedBackupElapsed: z.string(),
    lastNotificationSent: isoOrNA,
  })
  .meta({ id: "DashboardBackupInfo" });

export const ServerSummarySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    server_url: z.string(),
    alias: z.string(),
    note: z.string(),
    hasPassword: z.boolean(),
    backupInfo: z.array(BackupInfoSchema),
    totalBackupCount: z.number().int(),
    totalStorageSize: z.number(),
    totalFileCount: z.number(),
    totalFileSize: z.number(),
    totalUploadedSize: z.number(),
    haveOverdueBackups: z.boolean(),
    lastBackupDate: isoOrNA,
    lastBackupStatus: z.union([BackupStatusSchema, NA]),
    lastBackupDuration: z.string(),
    lastBackupListCount: z.number().nullable(),
    lastBackupId: z.string(),
    lastBackupName: z.string(),
    lastOverdueCheck: isoOrNA,
    backupNames: z.array(z.string()),
  })
  .meta({ id: "DashboardServerSummary" });

export const OverallSummarySchema = z.object({
  totalServers: z.number().int(),
  totalBackupsRuns: z.number().int(),
  totalBackups: z.number().int(),
  totalUploadedSize: z.number(),
  totalStorageUsed: z.number(),
  totalBackupSize: z.number(),
  overdueBackupsCount: z.number().int(),
  secondsSinceLastBackup: z.number().int().nullable(),
});

export const DashboardResponseSchema = z.object({
  serversSummary: z.array(ServerSummarySchema),
  overallSummary: OverallSummarySchema,
  chartData: z.array(ChartPointSchema),
});

export const PaginationSchema = z.object({
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const FullServerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    alias: z.string(),
    note: z.string(),
    server_url: z.string(),
    created_at: z.string(),
    hasPassword: z.boolean(),
    backups: z.array(BackupViewSchema).describe("Newest first, one page"),
    pagination: PaginationSchema,
    chartData: z.array(ChartPointSchema).describe("One point per UTC day over the last 30 days, oldest first"),
  })
  .meta({ id: "FullServer" });

export const OverdueBackupSchema = z.object({
  serverName: z.string(),
  backupName: z.string(),
  lastBackupDate: isoOrNA,
  lastNotificationSent: isoOrNA,
  notificationEvent: z.enum(NOTIFICATION_EVENTS),
  expectedBackupDate: z.string(),
  expectedBackupElapsed: z.string(),
});

export const DetailResponseSchema = z.object({
  server: FullServerSchema,
  overdueBackups: z.array(OverdueBackupSchema),
  lastOverdueCheck: isoOrNA,
});

export const LastTimestampsSchema = z.object({
  timestamps: z.record(z.string(), z.string()).describe('"serverId:backupName" → ISO date of the latest run'),
  raw: z.array(z.object({ server_name: z.string(), server_id: z.string(), backup_name: z.string(), date: z.string() })),
});

const ServerAddressSchema = z.object({
  id: z.string(),
  name: z.string(),
  server_url: z.string(),
  alias: z.string(),
  note: z.string(),
  hasPassword: z.boolean(),
});

export const UnifiedConfigSchema = z.object({
  ntfy: z
    .object({ url: z.string(), topic: z.string(), hasAccessToken: z.boolean() })
    .describe("The access token itself is never returned"),
  templates: z.looseObject({ language: z.string() }),
  email: z
    .object({
      host: z.string(),
      port: z.number(),
      connectionType: z.enum(["plain", "starttls", "ssl"]),
      mailto: z.string(),
      senderName: z.string(),
      fromAddress: z.string(),
      requireAuth: z.boolean(),
      enabled: z.literal(true),
      hasUsername: z.boolean(),
      hasPassword: z.boolean(),
      masterKeyInvalid: z
        .literal(true)
        .optional()
        .describe("The stored SMTP secrets cannot be opened with this installation's key; save them again"),
    })
    .optional()
    .describe("Absent when SMTP is not configured; the SMTP username and password are never returned"),
  overdue_tolerance: z.string(),
  backup_settings: z.record(z.string(), z.unknown()),
  serverAddresses: z.array(ServerAddressSchema),
  cronConfig: z.object({ cronExpression: z.string(), enabled: z.boolean() }),
  notificationFrequency: z.string(),
  serversWithBackups: z.array(
    ServerAddressSchema.extend({ backupName: z.string(), expectedBackupDate: z.string(), lastBackupDate: z.string() }),
  ),
});

export type ChartPoint = z.infer<typeof ChartPointSchema>;
export type BackupInfo = z.infer<typeof BackupInfoSchema>;
export type ServerSummary = z.infer<typeof ServerSummarySchema>;
export type OverallSummary = z.infer<typeof OverallSummarySchema>;
export type DashboardResponse = z.infer<typeof DashboardResponseSchema>;
export type FullServer = z.infer<typeof FullServerSchema>;
export type OverdueBackup = z.infer<typeof OverdueBackupSchema>;
export type DetailResponse = z.infer<typeof DetailResponseSchema>;
export type LastTimestamps = z.infer<typeof LastTimestampsSchema>;
export type UnifiedConfig = z.infer<typeof UnifiedConfigSchema>;
