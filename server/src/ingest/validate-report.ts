import type { z } from "zod";
import { badRequest } from "../core/errors";
import { parseDurationToSeconds } from "./duration";
import { parseReportDateMs } from "./dates";
import { compileCheck } from "./schema-check";
import {
  DuplicatiReportSchema,
  REQUIRED_DATA_FIELDS,
  REQUIRED_EXTRA_FIELDS,
  ReportDataSchema,
  SimpleReportSchema,
  type DuplicatiReport,
  type SimpleReport,
} from "./report-schema";

export type ValidatedReport =
  | { shape: "duplicati"; report: DuplicatiReport; times: ReportTimes }
  | { shape: "simple"; report: SimpleReport; times: ReportTimes };

/** The run's times as validation parsed them, so that mapping does not parse them again. */
export interface ReportTimes {
  /** Start, epoch milliseconds. */
  readonly beginMs: number;
  /** End as reported, epoch milliseconds; null when the report gives none. */
  readonly endMs: number | null;
  /** Duration in seconds; null when the report gives none (the simple shape only). */
  readonly durationSeconds: number | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Human-readable list of zod issues as `{field, message}`, for the 400 body. */
function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = ""): Array<{ field: string; message: string }> {
  return issues.map((i) => ({ field: [prefix, ...i.path.map(String)].filter(Boolean).join("."), message: i.message }));
}

function invalidFields(fields: Array<{ field: string; message: string }>): never {
  throw badRequest("Invalid backup report", {
    message: fields.map((f) => `${f.field}: ${f.message}`).join("; "),
    invalidFields: fields,
  });
}

// Fast "certainly valid" tests compiled from the schemas (see schema-check.ts). When one passes, the body itself is
// the report: it has exactly the shape the schema describes, which is all mapReport reads (zod's parse would return
// a copy of the same values). When it fails, safeParse decides and words the errors.
const isValidDuplicatiReport = compileCheck(DuplicatiReportSchema);
const isValidSimpleReport = compileCheck(SimpleReportSchema);

function parseDuplicati(body: Record<string, unknown>): DuplicatiReport {
  if (isValidDuplicatiReport?.(body) === true) return body as DuplicatiReport;
  const parsed = DuplicatiReportSchema.safeParse(body);
  if (!parsed.success) invalidFields(describeIssues(parsed.error.issues));
  return parsed.data;
}

function parseSimple(body: Record<string, unknown>): SimpleReport {
  if (isValidSimpleReport?.(body) === true) return body as SimpleReport;
  const parsed = SimpleReportSchema.safeParse(body);
  if (!parsed.success) invalidFields(describeIssues(parsed.error.issues));
  return parsed.data;
}

/** Without an end time, mapping derives it as begin + duration: that must still be a date (not past year 275760). */
const derivableEnd = (beginMs: number, durationSeconds: number | null): boolean =>
  durationSeconds === null || Number.isFinite(new Date(beginMs + durationSeconds * 1000).getTime());

/**
 * Validates an upload body in the original duplistatus' order, so the same mistakes get the same error bodies:
 * MainOperation → Extra present → required Extra fields → required Data fields. Then everything the original left
 * unchecked (types, dates, durations) is checked against the declared schema, so a bad value is a 400 and never
 * reaches the database.
 */
export function validateReport(body: unknown): ValidatedReport {
  if (!isObject(body)) {
    throw badRequest("Invalid request body", { message: "The request body must be a JSON object" });
  }
  if (!("Data" in body) && isObject(body.backup) && isObject(body.server)) return validateSimple(body);

  const data = isObject(body.Data) ? body.Data : undefined;
  if (data?.MainOperation !== "Backup") throw badRequest("Only backup operations are supported");
  if (!isObject(body.Extra)) throw badRequest("Missing Extra section in request data");

  const extra = body.Extra;
  const missingExtra = REQUIRED_EXTRA_FIELDS.filter((f) => !extra[f]);
  if (missingExtra.length > 0) {
    throw badRequest(`Missing required fields in Extra section: ${missingExtra.join(", ")}`, {
      missingFields: missingExtra,
      extraSection: extra,
    });
  }
  const missingData = REQUIRED_DATA_FIELDS.filter((f) => !data[f]);
  if (missingData.length > 0) {
    throw badRequest(`Missing required fields in Data section: ${missingData.join(", ")}`, {
      missingFields: missingData,
      dataSection: data,
    });
  }

  const report = parseDuplicati(body);
  const problems: Array<{ field: string; message: string }> = [];
  const beginMs = parseReportDateMs(report.Data.BeginTime);
  if (beginMs === null) problems.push({ field: "Data.BeginTime", message: "not a valid date" });
  const endMs = report.Data.EndTime != null ? parseReportDateMs(report.Data.EndTime) : null;
  if (report.Data.EndTime != null && endMs === null) {
    problems.push({ field: "Data.EndTime", message: "not a valid date" });
  }
  const durationSeconds = parseDurationToSeconds(report.Data.Duration);
  if (durationSeconds === null) {
    problems.push({ field: "Data.Duration", message: "not a valid duration ([d.]hh:mm:ss[.fffffff])" });
  }
  if (beginMs !== null && endMs === null && !derivableEnd(beginMs, durationSeconds)) {
    problems.push({ field: "Data.Duration", message: "too long: BeginTime plus Duration is not a valid date" });
  }
  const last = report.Data.BackendStatistics?.LastBackupDate;
  if (last != null && parseReportDateMs(last) === null) {
    problems.push({ field: "Data.BackendStatistics.LastBackupDate", message: "not a valid date" });
  }
  // A null beginMs is among the problems; the condition repeats it for the type checker.
  if (problems.length > 0 || beginMs === null) invalidFields(problems);
  return { shape: "duplicati", report, times: { beginMs, endMs, durationSeconds } };
}

function validateSimple(body: Record<string, unknown>): ValidatedReport {
  const report = parseSimple(body);
  const problems: Array<{ field: string; message: string }> = [];
  const beginMs = parseReportDateMs(report.backup.startTime);
  if (beginMs === null) problems.push({ field: "backup.startTime", message: "not a valid date" });
  const endMs = report.backup.endTime !== undefined ? parseReportDateMs(report.backup.endTime) : null;
  if (report.backup.endTime !== undefined && endMs === null) {
    problems.push({ field: "backup.endTime", message: "not a valid date" });
  }
  const durationSeconds = report.backup.duration !== undefined ? parseDurationToSeconds(report.backup.duration) : null;
  if (report.backup.duration !== undefined && durationSeconds === null) {
    problems.push({ field: "backup.duration", message: "not a valid duration (seconds or hh:mm:ss)" });
  }
  if (beginMs !== null && endMs === null && !derivableEnd(beginMs, durationSeconds)) {
    problems.push({ field: "backup.duration", message: "too long: startTime plus duration is not a valid date" });
  }
  // A null beginMs is among the problems; the condition repeats it for the type checker.
  if (problems.length > 0 || beginMs === null) invalidFields(problems);
  return { shape: "simple", report, times: { beginMs, endMs, durationSeconds } };
}

// Re-exported so the OpenAPI assembly documents the same object this module validates.
export { ReportDataSchema };
