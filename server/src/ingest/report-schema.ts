import { z } from "zod";

/**
 * Declared schemas of what POST /api/upload accepts. They drive validation (in the order the original checks, so
 * the error bodies match it) and the OpenAPI document.
 */

const count = z.number().finite().nullish();
const flag = z.boolean().nullish();
const str = z.string().nullish();
const logList = z.array(z.unknown()).nullish();

export const BackendStatisticsSchema = z.looseObject({
  BytesUploaded: count,
  BytesDownloaded: count,
  KnownFileSize: count,
  LastBackupDate: str,
  BackupListCount: count,
  ReportedQuotaError: flag,
  ReportedQuotaWarning: flag,
  MainOperation: str,
  ParsedResult: str,
  Version: str,
  BeginTime: str,
  Duration: str,
  Interrupted: flag,
  WarningsActualLength: count,
  ErrorsActualLength: count,
});

/** Duplicati's `Data` (IBackupResults). Unknown members pass through and are ignored. */
export const ReportDataSchema = z.looseObject({
  MainOperation: z.string(),
  ParsedResult: z.string(),
  BeginTime: z.string(),
  EndTime: str,
  Duration: z.union([z.string(), z.number().nonnegative()]),
  Version: str,
  DeletedFiles: count,
  DeletedFolders: count,
  ModifiedFiles: count,
  ExaminedFiles: count,
  OpenedFiles: count,
  AddedFiles: count,
  SizeOfModifiedFiles: count,
  SizeOfAddedFiles: count,
  SizeOfExaminedFiles: count,
  SizeOfOpenedFiles: count,
  NotProcessedFiles: count,
  AddedFolders: count,
  TooLargeFiles: count,
  FilesWithError: count,
  ModifiedFolders: count,
  ModifiedSymlinks: count,
  AddedSymlinks: count,
  DeletedSymlinks: count,
  PartialBackup: flag,
  Dryrun: flag,
  Interrupted: flag,
  WarningsActualLength: count,
  ErrorsActualLength: count,
  MessagesActualLength: count,
  Messages: logList,
  Warnings: logList,
  Errors: logList,
  Exception: str,
  BackendStatistics: BackendStatisticsSchema.nullish(),
});

export const ReportExtraSchema = z.looseObject({
  OperationName: str,
  "machine-id": z.string().min(1),
  "machine-name": z.string().min(1),
  "backup-name": z.string().min(1),
  "backup-id": z.string().min(1),
  "next-scheduled-run": str,
});

/** The JSON document Duplicati sends with --send-http-url / --send-http-json-urls. */
export const DuplicatiReportSchema = z
  .looseObject({
    Data: ReportDataSchema,
    Extra: ReportExtraSchema,
    LogLines: logList,
    Exception: str,
  })
  .meta({ id: "DuplicatiReport", description: "A Duplicati backup report (JSON result output format)" });

export type DuplicatiReport = z.infer<typeof DuplicatiReportSchema>;

/** The simple shape of the older product documents, for scripts around other backup tools. */
export const SimpleReportSchema = z
  .object({
    server: z.object({
      id: z.string().min(1).optional(),
      name: z.string().min(1),
      version: z.string().optional(),
    }),
    backup: z.object({
      id: z.string().min(1).optional(),
      name: z.string().min(1),
      status: z.string().min(1),
      startTime: z.string(),
      endTime: z.string().optional(),
      duration: z.union([z.number().nonnegative(), z.string()]).optional(),
      files: z.number().nonnegative().optional(),
      size: z.number().nonnegative().optional(),
      storageUsed: z.number().nonnegative().optional(),
      uploadedSize: z.number().nonnegative().optional(),
      versions: z.number().int().nonnegative().optional(),
      warnings: z.number().int().nonnegative().optional(),
      errors: z.number().int().nonnegative().optional(),
      messages: z
        .array(z.union([z.string(), z.object({ level: z.string().optional(), message: z.string() })]))
        .optional(),
    }),
  })
  .meta({ id: "SimpleBackupReport", description: "Simple report shape for non-Duplicati scripts" });

export type SimpleReport = z.infer<typeof SimpleReportSchema>;

/** Fields the original requires to be truthy, in its order (their absence is reported as `missingFields`). */
export const REQUIRED_EXTRA_FIELDS = ["machine-id", "machine-name", "backup-name", "backup-id"] as const;
export const REQUIRED_DATA_FIELDS = ["ParsedResult", "BeginTime", "Duration"] as const;

export const UploadResponseSchema = z.object({ success: z.literal(true) }).meta({ id: "UploadAccepted" });
