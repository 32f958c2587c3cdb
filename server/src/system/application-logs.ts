import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { AppContext, CoreModule } from "../context";
import { badRequest, notFound } from "../core/errors";
import { attachLogFile } from "../core/logger";
import { defineRoute, type RouteDef } from "../http/route";
import {
  EXPORT_LEVELS,
  type ExportLevel,
  LogFiles,
  countLines,
  filterLines,
  readTail,
  rotateLogFiles,
} from "./log-file";

const TAGS = ["system"];
const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });
const adminAccess = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Not an administrator, or CSRF token missing", schema: ErrorBody },
};

const LogsQuery = z.object({
  file: z.string().max(300).optional().describe('"application.log" (or the LOG_FILE name) or "<name>.N", N 1–10'),
  tail: z.string().max(20).optional().describe("Lines from the end, 1–10000 (default 1000)"),
});

const ExportQuery = z.object({
  file: z.string().max(300).optional().describe("Required: the file to export"),
  logLevels: z
    .string()
    .max(200)
    .optional()
    .describe(`Comma-separated levels to keep (${EXPORT_LEVELS.join(", ")}; default INFO,WARN,ERROR)`),
  search: z.string().max(500).optional().describe("Keep only lines containing this text (case-insensitive)"),
});

const LogsBody = z.object({
  logs: z.string(),
  fileSize: z.number().int(),
  lastModified: z.string(),
  lineCount: z.number().int(),
  currentFile: z.string(),
  availableFiles: z.array(z.string()),
  message: z.string().optional(),
});

const NOT_ENABLED = "The application log file is off: set LOG_FILE (e.g. LOG_FILE=logs/application.log) to enable it";

/** GET /api/application-logs and its export (reference §2.7) over the log file of LOG_FILE. */
export function applicationLogRoutes(ctx: AppContext): RouteDef[] {
  const files = new LogFiles(ctx.config.logFile ?? null);

  /** Validated name → existing path, or the 400/404 the original answers. */
  const resolve = (name: string): string => {
    const problem = files.checkName(name);
    if (problem) throw badRequest(problem);
    const file = files.pathOf(name);
    if (!file) throw notFound("Log file not found", { message: NOT_ENABLED, availableFiles: [] });
    if (!fs.existsSync(file)) {
      throw notFound("Log file not found", { logs: "", fileSize: 0, availableFiles: files.available() });
    }
    return file;
  };

  return [
    defineRoute({
      method: "get",
      path: "/api/application-logs",
      access: "admin",
      summary: "The last lines of the application log file (or, without `file`, the list of log files)",
      description:
        "Our logs are JSON lines on stdout; with LOG_FILE set they are also written to that file, which is rotated at " +
        "every start (<name>.1 … <name>.10). Without LOG_FILE there are no files to list or read.",
      tags: TAGS,
      query: LogsQuery,
      responses: {
        200: { description: "Log lines and the list of files", schema: LogsBody },
        400: { description: "Invalid tail or file name", schema: ErrorBody },
        404: { description: "No such log file (or no LOG_FILE)", schema: ErrorBody },
        ...adminAccess,
      },
      handler: async (_kctx, { query }) => {
        const tail = query.tail === undefined || query.tail === "" ? 1000 : Number(query.tail);
        if (!Number.isInteger(tail) || tail < 1 || tail > 10_000) {
          throw badRequest("Invalid tail parameter", { message: "tail must be an integer from 1 to 10000" });
        }
        if (!query.file) {
          return {
            body: {
              logs: "",
              fileSize: 0,
              lastModified: ctx.clock.now().toISOString(),
              lineCount: 0,
              currentFile: "",
              availableFiles: files.available(),
              ...(files.file ? {} : { message: NOT_ENABLED }),
            },
          };
        }
        const file = resolve(query.file);
        const stat = await fs.promises.stat(file);
        return {
          body: {
            logs: await readTail(file, tail),
            fileSize: stat.size,
            lastModified: stat.mtime.toISOString(),
            lineCount: await countLines(file),
            currentFile: query.file,
            availableFiles: files.available(),
          },
        };
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/application-logs/export",
      access: "admin",
      summary: "Download a log file filtered by level and text (text/plain attachment)",
      tags: TAGS,
      query: ExportQuery,
      responses: {
        200: {
          description: "Attachment duplistatus-logs-<timestamp>.txt: the matching lines",
          contentType: "text/plain",
          schema: z.string(),
        },
        400: { description: "Missing or invalid file name", schema: ErrorBody },
        404: { description: "No such log file (or no LOG_FILE)", schema: ErrorBody },
        ...adminAccess,
      },
      handler: async (_kctx, { query }) => {
        if (!query.file) throw badRequest("File parameter is required");
        const file = resolve(query.file);
        const levels = (query.logLevels ?? "INFO,WARN,ERROR")
          .split(",")
          .map((l) => l.trim().toUpperCase())
          .filter((l): l is ExportLevel => (EXPORT_LEVELS as readonly string[]).includes(l));
        const text = await filterLines(file, levels, query.search ?? "");
        const stamp = ctx.clock.now().toISOString().replace(/[:.]/g, "-").slice(0, -5);
        return {
          headers: {
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Disposition": `attachment; filename="duplistatus-logs-${stamp}.txt"`,
          },
          body: text,
        };
      },
    }),
  ];
}

const detachers = new WeakMap<AppContext, () => void>();

/**
 * The application log file: with LOG_FILE set, the previous files are rotated and the logger also writes to the file
 * from this room's start on (list it first in CORE_MODULES so that the other rooms' start-up lines are in it).
 */
export const applicationLogsModule: CoreModule = {
  name: "application-logs",
  routes: (ctx) => applicationLogRoutes(ctx),
  start(ctx) {
    const file = ctx.config.logFile;
    if (!file || detachers.has(ctx)) return;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      rotateLogFiles(file);
      const detach = attachLogFile(ctx.log, file);
      if (detach) detachers.set(ctx, detach);
      else ctx.log.warn({ file }, "this logger cannot write to a log file; LOG_FILE ignored");
    } catch (err) {
      ctx.log.error({ err, file }, "cannot open the log file; logging to stdout only");
    }
  },
  stop(ctx) {
    detachers.get(ctx)?.();
    detachers.delete(ctx);
  },
};
