import type { Clock } from "../core/clock";
import type { Logger } from "../core/logger";
import type { Database } from "../db/database";
import { getConfigValue, setConfigValue } from "../store/configuration-store";
import type { AuditActor, AuditService } from "./audit-service";
import {
  type AuditFilter,
  type AuditRow,
  countAuditRows,
  countAuditRowsBefore,
  deleteAuditRowsBefore,
  distinctAuditValues,
  findAuditRows,
  oldestAuditTimestamp,
} from "./audit-store";

export const RETENTION_SETTING = "audit_retention_days";
export const DEFAULT_RETENTION_DAYS = 90;
export const MIN_RETENTION_DAYS = 30;
export const MAX_RETENTION_DAYS = 365;
/** The most entries one export returns (reference §2.8). */
export const EXPORT_MAX_ROWS = 10_000;
/**
 * Retention deletes in transactions of this many rows: a first cleanup after lowering the retention can remove
 * millions of entries, and one transaction that size would hold the single SQLite writer (and every upload) for
 * seconds.
 */
const DELETE_BATCH = 10_000;
const DAY_MS = 86_400_000;

export interface AuditLogView {
  id: number;
  timestamp: string;
  userId: string | null;
  username: string | null;
  action: string;
  category: string;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown> | null;
  ipAddress: string | null;
  userAgent: string | null;
  status: string;
  errorMessage: string | null;
}

/** Details are stored as JSON text; anything that is not a JSON object (never written by us) is still shown. */
function parseDetails(text: string | null): Record<string, unknown> | null {
  if (text === null || text === "") return null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
    return { value: parsed };
  } catch {
    return { raw: text };
  }
}

export const toView = (r: AuditRow): AuditLogView => ({
  id: Number(r.id),
  timestamp: r.timestamp,
  userId: r.user_id,
  username: r.username,
  action: r.action,
  category: r.category,
  targetType: r.target_type,
  targetId: r.target_id,
  details: parseDetails(r.details),
  ipAddress: r.ip_address,
  userAgent: r.user_agent,
  status: r.status,
  errorMessage: r.error_message,
});

const parseRetention = (raw: string | null): number => {
  const n = raw === null ? NaN : Number(raw);
  return Number.isInteger(n) && n >= MIN_RETENTION_DAYS && n <= MAX_RETENTION_DAYS ? n : DEFAULT_RETENTION_DAYS;
};

export interface CleanupPreview {
  dryRun: true;
  wouldDeleteCount: number;
  oldestRemaining: string | null;
  retentionDays: number;
  /** YYYY-MM-DD (UTC) of the cutoff instant. */
  cutoffDate: string;
}

export interface CleanupResult {
  success: true;
  deletedCount: number;
  oldestRemaining: string | null;
  retentionDays: number;
}

/** Reading, exporting and pruning the audit log (reference §2.8). Writing entries is AuditService's job. */
export class AuditLogService {
  constructor(private readonly deps: { db: Database; clock: Clock; audit: AuditService; log: Logger }) {}

  list(filter: AuditFilter, limit: number, offset: number): Promise<{ logs: AuditLogView[]; total: number }> {
    return this.deps.db.read(async (q) => ({
      logs: (await findAuditRows(q, filter, limit, offset)).map(toView),
      total: await countAuditRows(q, filter),
    }));
  }

  async exportRows(filter: AuditFilter): Promise<AuditLogView[]> {
    return (await this.deps.db.read((q) => findAuditRows(q, filter, EXPORT_MAX_ROWS, 0))).map(toView);
  }

  filterValues(): Promise<{ actions: string[]; categories: string[]; statuses: string[] }> {
    return this.deps.db.read(async (q) => ({
      actions: await distinctAuditValues(q, "action"),
      categories: await distinctAuditValues(q, "category"),
      statuses: await distinctAuditValues(q, "status"),
    }));
  }

  /** The configured retention; a missing or unusable stored value means the default. */
  retentionDays(): Promise<number> {
    return this.deps.db.read(async (q) => parseRetention(await getConfigValue(q, RETENTION_SETTING)));
  }

  async setRetentionDays(days: number, actor: AuditActor): Promise<number> {
    await this.deps.db.write(async (q) => {
      const oldValue = parseRetention(await getConfigValue(q, RETENTION_SETTING));
      await setConfigValue(q, RETENTION_SETTING, String(days));
      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "audit_retention_updated",
        category: "config",
        targetType: "configuration",
        targetId: RETENTION_SETTING,
        details: { oldValue, newValue: days },
      });
    });
    return days;
  }

  private cutoff(days: number): Date {
    return new Date(this.deps.clock.now().getTime() - days * DAY_MS);
  }

  /** What a cleanup would delete now, without deleting anything. */
  async previewCleanup(days?: number): Promise<CleanupPreview> {
    const retentionDays = days ?? (await this.retentionDays());
    const cutoff = this.cutoff(retentionDays);
    const iso = cutoff.toISOString();
    return this.deps.db.read(async (q) => ({
      dryRun: true as const,
      wouldDeleteCount: await countAuditRowsBefore(q, iso),
      oldestRemaining: await oldestAuditTimestamp(q, iso),
      retentionDays,
      cutoffDate: iso.slice(0, 10),
    }));
  }

  /**
   * Deletes the entries older than the retention (the given one, else the configured one) and records an
   * audit_cleanup entry with the last batch. Used by POST /api/audit-log/cleanup and by the daily job.
   */
  async cleanup(options: {
    days?: number;
    actor: AuditActor;
    trigger: "manual" | "scheduled";
  }): Promise<CleanupResult> {
    const retentionDays = options.days ?? (await this.retentionDays());
    const cutoff = this.cutoff(retentionDays).toISOString();
    const entry = { ...options.actor, action: "audit_cleanup", category: "system" } as const;
    let deletedCount = 0;
    try {
      for (;;) {
        const batch = await this.deps.db.write(async (q) => {
          const deleted = await deleteAuditRowsBefore(q, cutoff, DELETE_BATCH);
          if (deleted === DELETE_BATCH) return { deleted, last: false as const };
          await this.deps.audit.recordIn(q, {
            ...entry,
            details: { retentionDays, deletedCount: deletedCount + deleted, trigger: options.trigger },
          });
          return { deleted, last: true as const, oldest: await oldestAuditTimestamp(q) };
        });
        deletedCount += batch.deleted;
        if (batch.last) return { success: true, deletedCount, oldestRemaining: batch.oldest, retentionDays };
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await this.deps.audit.record({
        ...entry,
        status: "error",
        details: { retentionDays, deletedCount, trigger: options.trigger },
        errorMessage: message,
      });
      throw err;
    }
  }
}
