import { insertAuditEntry } from "../audit/audit-service";
import { addRunToChartRollups, newestRunOf } from "../charts/rollups";
import { applyRunToJob } from "../core/job-state";
import type { Queryable } from "../db/database";
import { type ResolvedNotificationPrefs, readNotificationPrefs } from "../monitoring/notification-prefs";
import { getJobForUpdate, saveJob } from "../store/jobs-store";
import { insertRun } from "../store/runs-store";
import { upsertServerFromReport, type ServerUpsertResult } from "../store/servers-store";
import type { MappedReport } from "./map-report";

/** The run is already stored (same server, job and begin time): the upload answers 409 and nothing is written. */
export class DuplicateRun extends Error {
  constructor() {
    super("duplicate run");
    this.name = "DuplicateRun";
  }
}

/** What the upload transaction decided, for the events sent after its commit. Plain data (crosses threads). */
export interface StoredReport {
  server: ServerUpsertResult;
  isLatest: boolean;
  nextExpectedAt: string | null;
  /** The job's open overdue episode as the transaction found it (monitoring re-evaluates only such jobs). */
  overdueSince: string | null;
  /**
   * The job's notification preferences as this transaction read them, for the notices of the upload's event (read
   * here, next to the job row, instead of on the event loop afterwards); null when the run is not the job's latest
   * (a late report notifies nobody) or the caller did not ask.
   */
  notificationPrefs: ResolvedNotificationPrefs | null;
}

/**
 * The statements of one upload, inside the caller's transaction: server, run, chart roll-ups, job state and the
 * `backup_upload` audit entry (reference §2.2: ids, status and size, never the report or its log text). The audit row
 * commits with the run, so the log never misses a stored upload nor records one that was rolled back. Throws
 * DuplicateRun when the run is already stored. Shared by the in-process path and the ingest writer thread.
 */
export async function storeReport(
  q: Queryable,
  mapped: MappedReport,
  options: { forUpdate: string; audit: boolean; notificationPrefs: boolean },
): Promise<StoredReport> {
  const { forUpdate } = options;
  const now = mapped.run.created_at;
  const server = await upsertServerFromReport(q, { ...mapped.server, now, runDate: mapped.run.date }, forUpdate);
  if (!(await insertRun(q, mapped.run))) throw new DuplicateRun();
  const prev = await getJobForUpdate(q, forUpdate, mapped.run.server_id, mapped.run.backup_name);
  await addRunToChartRollups(q, mapped.run, newestRunOf(prev, mapped.run.date));
  const { job, isLatest } = applyRunToJob(prev, mapped.run, mapped.nextScheduledRun, now);
  await saveJob(q, job, prev !== undefined);
  if (options.audit) await auditUpload(q, mapped, server);
  const notificationPrefs =
    options.notificationPrefs && isLatest ? await readNotificationPrefs(q, job.server_id, job.backup_name) : null;
  return {
    server,
    isLatest,
    nextExpectedAt: job.next_expected_at,
    overdueSince: prev?.overdue_since ?? null,
    notificationPrefs,
  };
}

/** Bulk loads (collect, imports) are audited once per collection by their caller, not per run. */
function auditUpload(q: Queryable, mapped: MappedReport, server: ServerUpsertResult): Promise<void> {
  const now = mapped.run.created_at;
  return insertAuditEntry(q, now, {
    action: "backup_upload",
    category: "backup",
    targetType: "backup",
    targetId: mapped.run.id,
    details: {
      serverId: server.server.id,
      backupName: mapped.run.backup_name,
      runId: mapped.run.id,
      status: mapped.run.status,
      uploadedSize: mapped.run.uploaded_size,
    },
  });
}
