import { z } from "zod";
import { AUDIT_CATEGORIES } from "./audit-service";
import type { AuditFilter } from "./audit-store";

/** Query parameters of the audit log views (reference §2.8). An empty parameter (`?action=`) means "no filter". */

const blankToUndefined = (v: unknown): unknown => (v === "" ? undefined : v);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

const DateParam = z.union([z.iso.date(), z.iso.datetime({ offset: true })], {
  error: "expected a date (YYYY-MM-DD) or an ISO 8601 date-time",
});

export const AUDIT_STATUSES = ["success", "failure", "error"] as const;

const filterShape = {
  startDate: optional(DateParam).describe("From this day (YYYY-MM-DD, UTC) or instant, inclusive"),
  endDate: optional(DateParam).describe("Up to this day (YYYY-MM-DD, UTC, the whole day) or instant, inclusive"),
  userId: optional(z.string().max(200)).describe("Exact user id"),
  username: optional(z.string().max(200)).describe("Part of the username, case-insensitive"),
  action: optional(z.string().max(100)).describe("Exact action, e.g. login"),
  category: optional(z.enum(AUDIT_CATEGORIES)),
  status: optional(z.enum(AUDIT_STATUSES)),
};

type FilterQuery = z.infer<z.ZodObject<typeof filterShape>>;

function checkRange(q: { startDate?: string; endDate?: string }, issue: (message: string) => void): void {
  if (q.startDate && q.endDate && startOf(q.startDate) >= endBefore(q.endDate)) {
    issue("endDate must not be before startDate");
  }
}

const DAY_MS = 86_400_000;
const isDay = (s: string): boolean => s.length === 10;
const startOf = (s: string): string => (isDay(s) ? `${s}T00:00:00.000Z` : new Date(s).toISOString());
/** endDate is inclusive: a day runs to the next midnight UTC, an instant includes its own millisecond. */
const endBefore = (s: string): string =>
  new Date(isDay(s) ? Date.parse(`${s}T00:00:00.000Z`) + DAY_MS : Date.parse(s) + 1).toISOString();

export const AuditListQuery = z
  .object({
    ...filterShape,
    page: optional(z.coerce.number().int().min(1).max(1_000_000)).describe("Page, from 1 (default 1)"),
    offset: optional(z.coerce.number().int().min(0).max(1_000_000_000)).describe("Rows to skip (wins over page)"),
    limit: optional(z.coerce.number().int().min(1).max(500)).describe("Rows per page, 1–500 (default 50)"),
  })
  .superRefine((q, ctx) => checkRange(q, (message) => ctx.addIssue({ code: "custom", path: ["endDate"], message })));

export const AuditExportQuery = z
  .object({
    ...filterShape,
    format: optional(z.enum(["csv", "json"])).describe("csv (default) or json"),
  })
  .superRefine((q, ctx) => checkRange(q, (message) => ctx.addIssue({ code: "custom", path: ["endDate"], message })));

export function toAuditFilter(q: FilterQuery): AuditFilter {
  return {
    from: q.startDate === undefined ? undefined : startOf(q.startDate),
    before: q.endDate === undefined ? undefined : endBefore(q.endDate),
    userId: q.userId,
    username: q.username,
    action: q.action,
    category: q.category,
    status: q.status,
  };
}

/** Page-based or offset-based paging (offset wins, as in the original's endless scroll). */
export function paging(q: { page?: number; offset?: number; limit?: number }): {
  page: number;
  limit: number;
  offset: number;
} {
  const limit = q.limit ?? 50;
  if (q.offset !== undefined) return { page: Math.floor(q.offset / limit) + 1, limit, offset: q.offset };
  const page = q.page ?? 1;
  return { page, limit, offset: (page - 1) * limit };
}
