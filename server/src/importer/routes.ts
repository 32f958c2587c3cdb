import path from "node:path";
import { z } from "zod";
import { requestActor } from "../audit/request-actor";
import type { AppContext } from "../context";
import { HttpError } from "../core/errors";
import { uploadedFile } from "../http/multipart";
import { defineRoute, type RouteDef } from "../http/route";
import { DuplistatusImportService } from "./import-service";
import { ImportRefusedError } from "./original-db";
import { InvalidKeyError, parseOriginalKey } from "./original-secrets";

/** The largest original database the HTTP import takes (larger ones: `npm run import:duplistatus`). */
export const IMPORT_MAX_BYTES = 1024 * 1024 * 1024;

const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });

const ImportResponse = z.object({
  success: z.literal(true),
  message: z.string(),
  source: z.object({ fileName: z.string(), schemaVersion: z.string(), description: z.string() }),
  servers: z.object({ total: z.number(), created: z.number(), updated: z.number() }),
  jobs: z.object({ total: z.number(), updated: z.number() }),
  runs: z.object({
    inFile: z.number(),
    imported: z.number(),
    alreadyPresent: z.number(),
    duplicatesInFile: z.number(),
    unreadable: z.number(),
  }),
  settings: z.object({
    jobs: z.number(),
    serverDefaults: z.number(),
    configuration: z.array(z.string()),
    skipped: z.number(),
    overdueEpisodes: z.number(),
  }),
  secrets: z.object({
    imported: z.number(),
    reenter: z.array(
      z.object({
        kind: z.enum(["server_password", "smtp_username", "smtp_password"]),
        serverId: z.string().optional(),
        serverName: z.string().optional(),
        reason: z.string(),
      }),
    ),
  }),
  notImported: z.array(z.string()),
  notes: z.array(z.string()),
});

const ImportBodyDoc = z.object({
  database: z.string().describe("The original's data/backups.db (any version), stopped or checkpointed"),
  key: z
    .string()
    .optional()
    .describe(
      "The original's data/.duplistatus.key as 64 hex digits or base64 (e.g. `xxd -p -c 64 .duplistatus.key`), to bring its encrypted server and SMTP passwords across",
    ),
});

/** POST /api/database/import: the original duplistatus' database into this one (see docs/switching.md). */
export function importRoutes(ctx: AppContext): RouteDef[] {
  const { db, clock, log, config, audit, access, events, secrets, services } = ctx;
  const importer = new DuplistatusImportService({
    db,
    clock,
    log,
    secrets,
    audit,
    events,
    dataDir: config.dataDir,
    timeZone: config.timeZone,
  });
  return [
    defineRoute({
      method: "post",
      path: "/api/database/import",
      access: "admin",
      summary: 'Import a database of the original duplistatus (multipart field "database", optional field "key")',
      description:
        "Servers, every run, per-job monitoring and notification settings, tolerance, frequency, templates, ntfy and " +
        "SMTP settings come across, in one transaction; users, sessions and the audit log do not. Importing the same " +
        "file again changes nothing. Without the original's key, its encrypted passwords are listed in " +
        "secrets.reenter. A file that is not SQLite, is damaged, or is not the original's database is refused (400) " +
        "and nothing is written.",
      tags: ["maintenance"],
      bodyParser: "multipart",
      multipart: { uploadDir: path.join(config.dataDir, "temp"), maxFileBytes: IMPORT_MAX_BYTES },
      bodyDoc: ImportBodyDoc,
      responses: {
        200: { description: "Imported; what came across and what did not", schema: ImportResponse },
        400: { description: "No file, an invalid key, or a file that cannot be imported", schema: ErrorBody },
        401: { description: "Not logged in", schema: ErrorBody },
        403: { description: "Not an administrator, or CSRF token missing", schema: ErrorBody },
        413: { description: "File larger than 1 GiB", schema: ErrorBody },
      },
      handler: async (kctx) => {
        const file = uploadedFile(kctx, "database");
        if (!file) {
          throw new HttpError(400, {
            error: "No file uploaded",
            message: 'Send the original\'s backups.db in the multipart field "database"',
          });
        }
        const rawKey = (kctx.request.body as Record<string, unknown> | undefined)?.key;
        let key: Buffer | null = null;
        if (typeof rawKey === "string" && rawKey.trim() !== "") {
          try {
            key = parseOriginalKey(rawKey);
          } catch (err) {
            if (err instanceof InvalidKeyError)
              throw new HttpError(400, { error: "Invalid key", message: err.message });
            throw err;
          }
        }
        let summary;
        try {
          summary = await importer.importFile(file.path, {
            key,
            fileName: file.originalName ?? "backups.db",
            actor: await requestActor(access, kctx),
            via: "http",
          });
        } catch (err) {
          if (err instanceof ImportRefusedError) {
            throw new HttpError(400, { error: "Cannot import this file", message: err.message });
          }
          throw err;
        }
        if (summary.settings.configuration.includes("overdue check schedule")) await services.overdue.schedule();
        const { runs, servers } = summary;
        return {
          body: {
            success: true,
            message: `Imported ${runs.imported} run(s) of ${runs.inFile} and ${servers.total} server(s) from ${summary.source.description}`,
            ...summary,
          },
        };
      },
    }),
  ];
}
