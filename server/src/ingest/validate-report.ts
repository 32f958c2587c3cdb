import type { z } from "zod";
import { badRequest } from "../core/errors";
import { parseDurationToSeconds } from "./duration";
import { parseReportDate } from "./dates";
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
  { shape: "duplicati"; report: DuplicatiReport } | { shape: "simple"; report: SimpleReport };

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

  const parsed = DuplicatiReportSchema.safeParse(body);
  if (!parsed.success) invalidFields(describeIssues(parsed.error.issues));
  const report = parsed.data;
  const problems: Array<{ field: string; message: string }> = [];
  if (!parseReportDate(report.Data.BeginTime)) problems.push({ field: "Data.BeginTime", message: "not a valid date" });
  if (report.Data.EndTime != null && !parseReportDate(report.Data.EndTime)) {
    problems.push({ field: "Data.EndTime", message: "not a valid date" });
  }
  if (parseDurationToSeconds(report.Data.Duration) === null) {
    problems.push({ field: "Data.Duration", message: "not a valid duration ([d.]hh:mm:ss[.fffffff])" });
  }
  const last = report.Data.BackendStatistics?.LastBackupDate;
  if (last != null && !parseReportDate(last)) {
    problems.push({ field: "Data.BackendStatistics.LastBackupDate", message: "not a valid date" });
  }
  if (problems.length > 0) invalidFields(problems);
  return { shape: "duplicati", report };
}

function validateSimple(body: Record<string, unknown>): ValidatedReport {
  const parsed = SimpleReportSchema.safeParse(body);
  if (!parsed.success) invalidFields(describeIssues(parsed.error.issues));
  const report = parsed.data;
  const problems: Array<{ field: string; message: string }> = [];
  if (!parseReportDate(report.backup.startTime))
    problems.push({ field: "backup.startTime", message: "not a valid date" });
  if (report.backup.endTime !== undefined && !parseReportDate(report.backup.endTime)) {
    problems.push({ field: "backup.endTime", message: "not a valid date" });
  }
  if (report.backup.duration !== undefined && parseDurationToSeconds(report.backup.duration) === null) {
    problems.push({ field: "backup.duration", message: "not a valid duration (seconds or hh:mm:ss)" });
  }
  if (problems.length > 0) invalidFields(problems);
  return { shape: "simple", report };
}

// Re-exported so the OpenAPI assembly documents the same object this module validates.
export { ReportDataSchema };
