import path from "node:path";
import type Koa from "koa";
import type { AuditActor } from "../audit/audit-service";
import { requestActor } from "../audit/request-actor";
import type { AppContext } from "../context";
import { badRequest } from "../core/errors";
import { defineRoute, type RouteDef } from "../http/route";
import { uploadedFile } from "../http/multipart";
import { BackupCleanupService } from "./cleanup-service";
import { BACKUP_FORMATS, type BackupFormat, DatabaseBackupService } from "./database-backup-service";
import { DatabaseRestoreService, RESTORE_MAX_BYTES } from "./database-restore-service";
import {
  BackupQuery,
  CleanupBody,
  CleanupBodyDoc,
  CleanupResponse,
  DeleteJobBody,
  DeleteJobBodyDoc,
  DeleteJobResponse,
  ErrorBody,
  RestoreBodyDoc,
  RestoreResponse,
} from "./schemas";

const TAGS = ["maintenance"];
const accessResponses = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Not an administrator, or CSRF token missing", schema: ErrorBody },
};

const isBackupFormat = (value: string): value is BackupFormat => (BACKUP_FORMATS as readonly string[]).includes(value);

/** Database backup and restore, retention cleanup and job deletion: the administrator's maintenance tools. */
export function maintenanceRoutes(ctx: AppContext): RouteDef[] {
  const { db, clock, log, config, audit, access, events } = ctx;
  const backups = new DatabaseBackupService({ db, clock, dataDir: config.dataDir });
  const restorer = new DatabaseRestoreService({ db, clock, log, dataDir: config.dataDir, audit, access });
  const cleanup = new BackupCleanupService({ db, clock, events, audit });
  const actor = (kctx: Koa.Context): Promise<AuditActor> => requestActor(access, kctx);

  return [
    defineRoute({
      method: "get",
      path: "/api/database/backup",
      access: "admin",
      summary: "Download a backup of the database (SQLite file or SQL dump)",
      description: "Taken online: uploads carry on while it runs, and the copy is a consistent snapshot.",
      tags: TAGS,
      query: BackupQuery,
      responses: {
        200: { description: "The backup, as an attachment", contentType: "application/octet-stream" },
        400: { description: "Unknown format", schema: ErrorBody },
        ...accessResponses,
      },
      handler: async (kctx, { query }) => {
        const format = query.format ?? "db";
        if (!isBackupFormat(format)) throw badRequest("Invalid format", { message: 'format must be "db" or "sql"' });
        const download = await backups.create(format);
        await audit.record({
          ...(await actor(kctx)),
          action: "database_backup",
          category: "system",
          targetType: "database",
          details: { format, fileName: download.fileName, sizeBytes: download.size },
        });
        return {
          body: download.stream,
          headers: {
            "Content-Type": download.contentType,
            "Content-Disposition": `attachment; filename="${download.fileName}"`,
            "Content-Length": String(download.size),
            "Cache-Control": "no-store",
          },
        };
      },
    }),

    defineRoute({
      method: "post",
      path: "/api/database/restore",
      access: "admin",
      summary: 'Restore the database from a backup (multipart field "database")',
      description:
        "The file is checked first (integrity, duplistatus schema, migrated to the current version); a safety copy " +
        "of the live database is kept; all sessions end, so everyone logs in again.",
      tags: TAGS,
      bodyParser: "multipart",
      multipart: { uploadDir: path.join(config.dataDir, "temp"), maxFileBytes: RESTORE_MAX_BYTES },
      bodyDoc: RestoreBodyDoc,
      responses: {
        200: { description: "Restored; log in again", schema: RestoreResponse },
        400: { description: "No file, or not a valid duplistatus database / SQL dump", schema: ErrorBody },
        413: { description: "File larger than 100 MB", schema: ErrorBody },
        ...accessResponses,
      },
      handler: async (kctx) => ({ body: await restorer.restore(uploadedFile(kctx, "database"), await actor(kctx)) }),
    }),

    defineRoute({
      method: "post",
      path: "/api/backups/cleanup",
      access: "admin",
      summary: "Delete runs older than a retention period, or all data",
      tags: TAGS,
      body: CleanupBody,
      bodyDoc: CleanupBodyDoc,
      internalError: { error: "Failed to delete old backups" },
      responses: {
        200: { description: "Runs deleted; job totals recomputed", schema: CleanupResponse },
        400: { description: "Invalid retention period", schema: ErrorBody },
        ...accessResponses,
      },
      handler: async (kctx, { body }) => ({ body: await cleanup.cleanup(body?.retentionPeriod, await actor(kctx)) }),
    }),

    defineRoute({
      method: "delete",
      path: "/api/backups/delete-job",
      access: "admin",
      summary: "Delete every run of one backup job",
      tags: TAGS,
      bodyParser: "json",
      body: DeleteJobBody,
      bodyDoc: DeleteJobBodyDoc,
      responses: {
        200: { description: "Runs and job deleted", schema: DeleteJobResponse },
        400: { description: "serverId or backupName missing", schema: ErrorBody },
        404: { description: "No runs for this server and job", schema: ErrorBody },
        ...accessResponses,
      },
      handler: async (kctx, { body }) => {
        const { serverId, backupName } = body ?? {};
        if (typeof serverId !== "string" || !serverId || typeof backupName !== "string" || !backupName) {
          throw badRequest("Missing required fields", { message: "serverId and backupName are required" });
        }
        return { body: await cleanup.deleteJob(serverId, backupName, await actor(kctx)) };
      },
    }),
  ];
}
