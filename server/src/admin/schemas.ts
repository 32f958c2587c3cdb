import { z } from "zod";
import { RETENTION_PERIODS } from "./cleanup-service";

/** Request and response schemas of the maintenance routes (database backup/restore, cleanup, delete-job). */

export const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });

export const BackupQuery = z.object({
  format: z.string().optional().describe('"db" (SQLite file, the default) or "sql" (text dump)'),
});

export const RestoreBodyDoc = z.object({
  database: z.string().describe("The file: a SQLite database (.db, .sqlite, .sqlite3) or an SQL dump (.sql), ≤ 100 MB"),
});

export const RestoreResponse = z.strictObject({
  success: z.literal(true),
  message: z.string(),
  safetyBackupPath: z.string(),
  requiresReauth: z.literal(true),
});

/** Validated in the service, so that any wrong value gets the original's "Invalid retention period". */
export const CleanupBody = z.object({ retentionPeriod: z.unknown().optional() }).optional();
export const CleanupBodyDoc = z.object({ retentionPeriod: z.enum(RETENTION_PERIODS as [string, ...string[]]) });

export const CleanupResponse = z.strictObject({ message: z.string(), status: z.literal(200) });

/** Checked in the handler, so that a missing field gets one clear message rather than a schema dump. */
export const DeleteJobBody = z
  .object({ serverId: z.unknown().optional(), backupName: z.unknown().optional() })
  .optional();
export const DeleteJobBodyDoc = z.object({ serverId: z.string(), backupName: z.string() });

export const DeleteJobResponse = z.strictObject({
  message: z.string(),
  status: z.literal(200),
  deletedCount: z.number().int().positive(),
  serverName: z.string(),
  backupName: z.string(),
});
