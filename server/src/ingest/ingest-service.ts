import { addRunToChartRollups } from "../charts/rollups";
import type { Clock } from "../core/clock";
import type { ServerRef } from "../core/domain";
import { conflict } from "../core/errors";
import type { EventBus } from "../core/events";
import { applyRunToJob } from "../core/job-state";
import type { Database, Queryable } from "../db/database";
import { getJobForUpdate, saveJob } from "../store/jobs-store";
import { insertRun } from "../store/runs-store";
import { upsertServerFromReport, type ServerUpsertResult } from "../store/servers-store";
import { mapReport, type MappedReport } from "./map-report";
import { validateReport } from "./validate-report";

class DuplicateRun extends Error {}

export interface IngestResult {
  runId: string;
  serverId: string;
  backupName: string;
}

interface Committed {
  mapped: MappedReport;
  server: ServerUpsertResult;
  isLatest: boolean;
  nextExpectedAt: string | null;
  overdueSince: string | null;
}

/**
 * Turns a report into stored state: validate, map, then one transaction (server, run, job state). Events go out
 * only after the commit, so integrations never hear of a run that was rolled back.
 */
export class IngestService {
  constructor(private readonly deps: { db: Database; events: EventBus; clock: Clock; timeZone: string }) {}

  async ingest(body: unknown): Promise<IngestResult> {
    const validated = validateReport(body);
    const mapped = mapReport(validated, { now: this.deps.clock.now(), timeZone: this.deps.timeZone });
    let committed: Committed;
    try {
      committed = await this.deps.db.write((q) => this.store(q, mapped));
    } catch (err) {
      if (err instanceof DuplicateRun) throw conflict("ignored, duplicated data");
      throw err;
    }
    this.publish(committed);
    return { runId: mapped.run.id, serverId: mapped.server.id, backupName: mapped.run.backup_name };
  }

  /**
   * Stores many already-valid reports in one transaction (bulk loading, imports, benchmarks). Duplicates are
   * skipped and counted. Events are not emitted for bulk loads.
   */
  async ingestBatch(bodies: readonly unknown[]): Promise<{ stored: number; duplicates: number }> {
    const now = this.deps.clock.now();
    const mapped = bodies.map((b) => mapReport(validateReport(b), { now, timeZone: this.deps.timeZone }));
    return this.deps.db.write(async (q) => {
      let stored = 0;
      let duplicates = 0;
      for (const m of mapped) {
        try {
          await this.store(q, m);
          stored++;
        } catch (err) {
          if (!(err instanceof DuplicateRun)) throw err;
          duplicates++;
        }
      }
      return { stored, duplicates };
    });
  }

  private async store(q: Queryable, mapped: MappedReport): Promise<Committed> {
    const now = mapped.run.created_at;
    const server = await upsertServerFromReport(
      q,
      { ...mapped.server, now, runDate: mapped.run.date },
      this.deps.db.dialect.forUpdate,
    );
    if (!(await insertRun(q, mapped.run))) throw new DuplicateRun();
    await addRunToChartRollups(q, mapped.run);
    const prev = await getJobForUpdate(q, this.deps.db.dialect.forUpdate, mapped.run.server_id, mapped.run.backup_name);
    const { job, isLatest } = applyRunToJob(prev, mapped.run, mapped.nextScheduledRun, now);
    await saveJob(q, job);
    return {
      mapped,
      server,
      isLatest,
      nextExpectedAt: job.next_expected_at,
      overdueSince: prev?.overdue_since ?? null,
    };
  }

  private publish(c: Committed): void {
    const ref: ServerRef = { id: c.server.server.id, name: c.server.server.name, alias: c.server.server.alias };
    if (c.server.created) {
      this.deps.events.emit("serverChanged", { serverId: ref.id, change: "created", server: ref });
    } else if (c.server.previousName !== undefined) {
      this.deps.events.emit("serverChanged", {
        serverId: ref.id,
        change: "renamed",
        server: ref,
        previousName: c.server.previousName,
      });
    }
    this.deps.events.emit("backupReceived", {
      server: ref,
      job: { serverId: ref.id, backupName: c.mapped.run.backup_name },
      run: c.mapped.run,
      isLatest: c.isLatest,
      nextExpectedAt: c.nextExpectedAt,
      overdueSince: c.overdueSince,
    });
  }
}
