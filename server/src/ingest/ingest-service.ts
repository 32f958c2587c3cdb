import type { Clock } from "../core/clock";
import type { ServerRef } from "../core/domain";
import { conflict } from "../core/errors";
import type { EventBus } from "../core/events";
import type { Logger } from "../core/logger";
import type { Database } from "../db/database";
import type { ResolvedNotificationPrefs } from "../monitoring/notification-prefs";
import { IngestWriter } from "./ingest-writer";
import { mapReport, type MappedReport } from "./map-report";
import { DuplicateRun, storeReport, type StoredReport } from "./store-report";
import { validateReport } from "./validate-report";

export interface IngestResult {
  runId: string;
  serverId: string;
  backupName: string;
}

/**
 * Turns a report into stored state: validate, map, then one transaction (server, run, job state, audit entry).
 * Events go out only after the commit, so integrations never hear of a run that was rolled back.
 */
export class IngestService {
  private writer: IngestWriter | undefined;

  constructor(
    private readonly deps: {
      db: Database;
      events: EventBus;
      clock: Clock;
      timeZone: string;
      /** Takes the preferences the upload's transaction read, for the notices of its event (settings service). */
      notificationPrefs?: {
        rememberPrefs(serverId: string, backupName: string, prefs: ResolvedNotificationPrefs): void;
      };
    },
  ) {}

  /**
   * Stores uploads on the ingest writer thread from now on (SQLite; see ingest-writer.ts). Without it, uploads are
   * stored through Database.write on the event loop, as on PostgreSQL.
   */
  startWriterThread(log: Logger): void {
    this.writer ??= IngestWriter.start(this.deps.db, (mapped) => this.storeHere(mapped), log);
  }

  /** Ends the writer thread once what it was given is stored (before the database closes). */
  async stopWriterThread(): Promise<void> {
    await this.writer?.close();
  }

  /** Whether uploads are stored on the writer thread now (diagnostics and tests). */
  get threaded(): boolean {
    return this.writer?.threaded ?? false;
  }

  private storeHere(mapped: MappedReport): Promise<StoredReport> {
    return this.deps.db.write((q) =>
      storeReport(q, mapped, { forUpdate: this.deps.db.dialect.forUpdate, audit: true, notificationPrefs: true }),
    );
  }

  async ingest(body: unknown): Promise<IngestResult> {
    const validated = validateReport(body);
    const mapped = mapReport(validated, { now: this.deps.clock.now(), timeZone: this.deps.timeZone });
    let stored: StoredReport;
    try {
      stored = await (this.writer ? this.writer.store(mapped) : this.storeHere(mapped));
    } catch (err) {
      if (err instanceof DuplicateRun) throw conflict("ignored, duplicated data");
      throw err;
    }
    this.publish(mapped, stored);
    return { runId: mapped.run.id, serverId: mapped.server.id, backupName: mapped.run.backup_name };
  }

  /**
   * Stores many already-valid reports in one transaction (bulk loading, imports, benchmarks). Duplicates are
   * skipped and counted. Events are not emitted and runs are not audited one by one for bulk loads.
   */
  async ingestBatch(bodies: readonly unknown[]): Promise<{ stored: number; duplicates: number }> {
    const now = this.deps.clock.now();
    const mapped = bodies.map((b) => mapReport(validateReport(b), { now, timeZone: this.deps.timeZone }));
    const options = { forUpdate: this.deps.db.dialect.forUpdate, audit: false, notificationPrefs: false };
    return this.deps.db.write(async (q) => {
      let stored = 0;
      let duplicates = 0;
      for (const m of mapped) {
        try {
          await storeReport(q, m, options);
          stored++;
        } catch (err) {
          if (!(err instanceof DuplicateRun)) throw err;
          duplicates++;
        }
      }
      return { stored, duplicates };
    });
  }

  private publish(mapped: MappedReport, c: StoredReport): void {
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
    if (c.notificationPrefs !== null) {
      this.deps.notificationPrefs?.rememberPrefs(ref.id, mapped.run.backup_name, c.notificationPrefs);
    }
    this.deps.events.emit("backupReceived", {
      server: ref,
      job: { serverId: ref.id, backupName: mapped.run.backup_name },
      run: mapped.run,
      isLatest: c.isLatest,
      nextExpectedAt: c.nextExpectedAt,
      overdueSince: c.overdueSince,
    });
  }
}
