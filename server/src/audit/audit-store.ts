import type { Queryable } from "../db/database";

/** SQL over the audit_log table (the writes of new entries stay in audit-service.ts). */

export interface AuditRow {
  id: number;
  timestamp: string;
  user_id: string | null;
  username: string | null;
  action: string;
  category: string;
  target_type: string | null;
  target_id: string | null;
  details: string | null;
  ip_address: string | null;
  user_agent: string | null;
  status: string;
  error_message: string | null;
}

/** Filters of the audit log views; every field is optional and they combine with AND. */
export interface AuditFilter {
  /** ISO timestamp, inclusive. */
  from?: string;
  /** ISO timestamp, exclusive. */
  before?: string;
  userId?: string;
  /** Case-insensitive substring of the username. */
  username?: string;
  action?: string;
  category?: string;
  status?: string;
}

const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function where(f: AuditFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    clauses.push(clause);
    params.push(value);
  };
  if (f.from !== undefined) add("timestamp >= ?", f.from);
  if (f.before !== undefined) add("timestamp < ?", f.before);
  if (f.userId !== undefined) add("user_id = ?", f.userId);
  if (f.username !== undefined) add("LOWER(username) LIKE ? ESCAPE '\\'", `%${escapeLike(f.username.toLowerCase())}%`);
  if (f.action !== undefined) add("action = ?", f.action);
  if (f.category !== undefined) add("category = ?", f.category);
  if (f.status !== undefined) add("status = ?", f.status);
  return { sql: clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "", params };
}

/** Newest first; the id breaks ties between entries of the same millisecond. */
export function findAuditRows(q: Queryable, f: AuditFilter, limit: number, offset: number): Promise<AuditRow[]> {
  const w = where(f);
  return q.all<AuditRow>(`SELECT * FROM audit_log ${w.sql} ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?`, [
    ...w.params,
    limit,
    offset,
  ]);
}

export async function countAuditRows(q: Queryable, f: AuditFilter): Promise<number> {
  const w = where(f);
  const row = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM audit_log ${w.sql}`, w.params);
  return Number(row?.n ?? 0);
}

/**
 * The distinct values of an indexed column, found by hopping from one value to the next through the index (a
 * "loose index scan"): a handful of lookups however many rows the log holds, where SELECT DISTINCT reads them all.
 */
export async function distinctAuditValues(q: Queryable, column: "action" | "category" | "status"): Promise<string[]> {
  const rows = await q.all<{ value: string | null }>(
    `WITH RECURSIVE v (value) AS (
       SELECT MIN(${column}) FROM audit_log
       UNION ALL
       SELECT (SELECT MIN(${column}) FROM audit_log WHERE ${column} > v.value) FROM v WHERE v.value IS NOT NULL
     )
     SELECT value FROM v WHERE value IS NOT NULL`,
  );
  return rows.map((r) => String(r.value));
}

export async function countAuditRowsBefore(q: Queryable, cutoff: string): Promise<number> {
  const row = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM audit_log WHERE timestamp < ?`, [cutoff]);
  return Number(row?.n ?? 0);
}

/** The oldest timestamp in the log, optionally among the entries at or after `from`. */
export async function oldestAuditTimestamp(q: Queryable, from?: string): Promise<string | null> {
  const row = await q.get<{ oldest: string | null }>(
    `SELECT MIN(timestamp) AS oldest FROM audit_log ${from === undefined ? "" : "WHERE timestamp >= ?"}`,
    from === undefined ? [] : [from],
  );
  return row?.oldest ?? null;
}

/** Deletes up to `batch` entries older than `cutoff`; returns how many went. */
export async function deleteAuditRowsBefore(q: Queryable, cutoff: string, batch: number): Promise<number> {
  const { changes } = await q.run(
    `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE timestamp < ? LIMIT ?)`,
    [cutoff, batch],
  );
  return changes;
}
