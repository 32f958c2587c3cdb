import type { Clock } from "../core/clock";
import type { Logger } from "../core/logger";
import type { Database, Queryable } from "../db/database";

export const AUDIT_CATEGORIES = ["auth", "user", "config", "backup", "server", "system"] as const;
export type AuditCategory = (typeof AUDIT_CATEGORIES)[number];
export type AuditStatus = "success" | "failure" | "error";

export interface AuditActor {
  userId?: string | null;
  username?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
}

export interface AuditEntry extends AuditActor {
  action: string;
  category: AuditCategory;
  status?: AuditStatus;
  targetType?: string | null;
  targetId?: string | null;
  details?: Record<string, unknown> | null;
  errorMessage?: string | null;
}

/** Keys whose values never reach the audit log (reference §2.8). */
const SECRET_KEY = /password|token|secret|session_id|sessionid|api_key|apikey|csrf|authorization|cookie/i;

export function redactDetails(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactDetails);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        SECRET_KEY.test(k) ? "[REDACTED]" : redactDetails(v),
      ]),
    );
  }
  return value;
}

const INSERT_SQL = `INSERT INTO audit_log (timestamp, user_id, username, action, category, target_type, target_id, details, ip_address, user_agent, status, error_message)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Inserts one entry in the caller's transaction (`timestamp`: ISO). Details are redacted here, whoever calls. */
export async function insertAuditEntry(q: Queryable, timestamp: string, entry: AuditEntry): Promise<void> {
  await q.run(INSERT_SQL, [
    timestamp,
    entry.userId ?? null,
    entry.username ?? null,
    entry.action,
    entry.category,
    entry.targetType ?? null,
    entry.targetId ?? null,
    entry.details ? JSON.stringify(redactDetails(entry.details)) : null,
    entry.ipAddress ?? null,
    entry.userAgent ? entry.userAgent.slice(0, 500) : null,
    entry.status ?? "success",
    entry.errorMessage ?? null,
  ]);
}

/**
 * Writes audit entries. `record` runs in its own small transaction and never throws (an audit failure is logged,
 * it does not fail the action); `recordIn` joins the caller's transaction when the entry must commit with the change.
 */
export class AuditService {
  constructor(private readonly deps: { db: Database; clock: Clock; log: Logger }) {}

  async record(entry: AuditEntry): Promise<void> {
    try {
      await this.deps.db.write((q) => this.recordIn(q, entry));
    } catch (err) {
      this.deps.log.error({ err, action: entry.action }, "audit write failed");
    }
  }

  recordIn(q: Queryable, entry: AuditEntry): Promise<void> {
    return insertAuditEntry(q, this.deps.clock.now().toISOString(), entry);
  }
}
