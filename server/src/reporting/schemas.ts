import { z } from "zod";
import { BACKUP_STATUSES } from "../core/domain";

/** Response schemas of the external read endpoints (field names as the original duplistatus, plus our fixes). */

export const BackupStatusSchema = z.enum(BACKUP_STATUSES);

const jsonArray = z.array(z.unknown()).nullable();

export const BackupViewSchema = z
  .object({
    id: z.string(),
    server_id: z.string(),
    name: z.string(),
    backup_id: z.string(),
    date: z.string(),
    status: BackupStatusSchema,
    warnings: z.number(),
    errors: z.number(),
    messages: z.number(),
    fileCount: z.number(),
    fileSize: z.number(),
    uploadedSize: z.number(),
    duration: z.string().describe("HH:MM:SS, floored"),
    duration_seconds: z.number(),
    durationInMinutes: z.number(),
    knownFileSize: z.number(),
    backup_list_count: z.number(),
    messages_array: jsonArray,
    warnings_array: jsonArray,
    errors_array: jsonArray,
    available_backups: z.array(z.string()),
  })
  .meta({ id: "Backup" });

export const ServerViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    alias: z.string(),
    note: z.string(),
    created_at: z.string(),
  })
  .meta({ id: "ServerRef" });

export const LastBackupResponseSchema = z.object({
  server: ServerViewSchema,
  latest_backup: BackupViewSchema.nullable(),
  status: z.literal(200),
});

export const LastBackupsResponseSchema = z.object({
  server: ServerViewSchema,
  latest_backups: z.array(BackupViewSchema),
  backup_jobs_count: z.number(),
  backup_names: z.array(z.string()),
  status: z.literal(200),
});

export const SummaryResponseSchema = z
  .object({
    totalServers: z.number().int(),
    totalBackupsRuns: z.number().int(),
    totalBackups: z.number().int(),
    totalBackupJobs: z.number().int(),
    totalUploadedSize: z.number(),
    totalStorageUsed: z.number(),
    totalBackupSize: z.number(),
    overdueBackupsCount: z.number().int(),
    secondsSinceLastBackup: z.number().int().nullable(),
    successfulBackups: z.number().int(),
    failedBackups: z.number().int(),
    lastUpdated: z.string(),
  })
  .meta({ id: "Summary" });

export const ServerLookupErrorSchema = z.object({
  error: z.string(),
  message: z.string(),
  status: z.number(),
  duplicate_servers: z.array(z.object({ id: z.string(), name: z.string() })).optional(),
});

export type BackupView = z.infer<typeof BackupViewSchema>;
export type ServerView = z.infer<typeof ServerViewSchema>;
export type Summary = z.infer<typeof SummaryResponseSchema>;
