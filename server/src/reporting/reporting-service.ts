import type { Clock } from "../core/clock";
import { HttpError } from "../core/errors";
import type { Logger } from "../core/logger";
import type { Database, Queryable } from "../db/database";
import { dataVersionSql } from "../db/dialect";
import { TOLERANCE_MINUTES, resolveTolerance } from "../monitoring/interval";
import { getConfigValue } from "../store/configuration-store";
import { findServersByName, getServerById, type ServerPublicRow } from "../store/servers-store";
import { BACKUP_VIEW_SELECT, type BackupViewRow, toBackupView, toServerView } from "./backup-view";
import type { BackupView, ServerView, Summary } from "./schemas";

/** The totals of the `jobs` table behind GET /api/summary, without the parts that depend on the clock. */
interface SummaryTotals {
  servers: number;
  jobs: number;
  runs: number;
  uploaded: number;
  storage: number;
  size: number;
  ok: number;
  failed: number;
  lastDate: string | null;
  /** Monitored jobs with runs but no next_expected_at: left out of the overdue count. */
  unevaluable: number;
}

/** Everything GET /api/summary needs from the database, as of one data version. Never mutated once made. */
interface SummarySnapshot extends SummaryTotals {
  version: string;
  toleranceMinutes: number;
  /** next_expected_at of every monitored job with runs, in SQLite's text order (see compareText). */
  nextExpected: readonly string[];
  /** Monitored jobs whose next_expected_at is stored as a number: before any cutoff text, so always overdue. */
  alwaysOverdue: number;
}

const TOTALS_COLUMNS = `COUNT(*) AS jobs,
                COALESCE(SUM(run_count), 0) AS runs,
                COALESCE(SUM(uploaded_total), 0) AS uploaded,
                COALESCE(SUM(latest_known_file_size), 0) AS storage,
                COALESCE(SUM(latest_size), 0) AS size,
                MAX(latest_date) AS last_date,
                COALESCE(SUM(CASE WHEN latest_status IN ('Success', 'Warning') THEN 1 ELSE 0 END), 0) AS ok,
                COALESCE(SUM(CASE WHEN latest_status IN ('Error', 'Fatal') THEN 1 ELSE 0 END), 0) AS failed,
                COALESCE(SUM(CASE WHEN monitoring_enabled = 1 AND run_count > 0 AND next_expected_at IS NULL THEN 1 ELSE 0 END), 0) AS unevaluable`;

type TotalsRow = Record<string, number | string | null>;

function totalsOf(servers: { n: number } | undefined, r: TotalsRow = {}): SummaryTotals {
  return {
    servers: Number(servers?.n ?? 0),
    jobs: Number(r.jobs ?? 0),
    runs: Number(r.runs ?? 0),
    uploaded: Number(r.uploaded ?? 0),
    storage: Number(r.storage ?? 0),
    size: Number(r.size ?? 0),
    ok: Number(r.ok ?? 0),
    failed: Number(r.failed ?? 0),
    lastDate: typeof r.last_date === "string" ? r.last_date : null,
    unevaluable: Number(r.unevaluable ?? 0),
  };
}

/**
 * SQLite's BINARY order of two texts (memcmp of their UTF-8 bytes, then length), which is code point order. UTF-16
 * code unit order differs from it only between a surrogate and a unit from U+E000 up; mapping those as ICU does
 * ("code point order fix-up") makes the comparison of code units agree.
 */
export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x += x >= 0xe000 ? -0x800 : 0x2000;
      y += y >= 0xe000 ? -0x800 : 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** A UTF-16 unit from U+D800 up: where UTF-16 order and code point order may differ. */
const HIGH_UNITS = /[\ud800-\uffff]/;

/** How many entries of `sorted` (ascending by compareText) are below `bound`. */
export function countBelow(sorted: readonly string[], bound: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareText(sorted[mid] as string, bound) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Read side of the external API. Every query reads the maintained `jobs` table and primary-key lookups, so the cost
 * follows the number of jobs, never the number of stored runs.
 */
export class ReportingService {
  /** The summary's data as of the last data version seen (SQLite; see dataVersionSql). */
  private snapshot: SummarySnapshot | undefined;
  /** PostgreSQL has no data version: the warning about unevaluable jobs is repeated only when their number changes. */
  private lastUnevaluableLogged = 0;
  private readonly versionSql: string | null;

  constructor(private readonly deps: { db: Database; clock: Clock; log: Logger }) {
    this.versionSql = dataVersionSql(deps.db.dialect.kind);
  }

  /**
   * GET /api/summary. Aggregating 10,000 jobs takes milliseconds, so on SQLite the aggregate is kept per data
   * version (any write, by this connection or another, moves it; the tolerance setting is in the database too):
   * a request that finds the version unchanged costs one cheap statement. What depends on the clock is computed per
   * request from the snapshot: the overdue count (next_expected_at before now − tolerance, by binary search over the
   * sorted values), secondsSinceLastBackup and lastUpdated. Requests arriving together take turns on the database
   * lock, so the first computes and the others find its snapshot.
   */
  async summary(): Promise<Summary> {
    const now = this.deps.clock.now();
    if (this.versionSql === null) return this.summaryUncached(now);
    const versionSql = this.versionSql;
    const s = await this.deps.db.read(async (q) => {
      const version = String((await q.get<{ version: unknown }>(versionSql))?.version);
      if (this.snapshot?.version === version) return this.snapshot;
      return (this.snapshot = await this.takeSnapshot(q, version));
    });
    const cutoff = new Date(now.getTime() - s.toleranceMinutes * 60_000).toISOString();
    return summaryOf(s, s.alwaysOverdue + countBelow(s.nextExpected, cutoff), now);
  }

  private async takeSnapshot(q: Queryable, version: string): Promise<SummarySnapshot> {
    const toleranceMinutes = TOLERANCE_MINUTES[resolveTolerance(await getConfigValue(q, "overdue_tolerance"))];
    const servers = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM servers`);
    // One pass over the jobs: the totals, and the next_expected_at values the per-request SQL compared with the
    // cutoff (monitored jobs with runs), as one JSON array: 10,000 values as one string instead of 10,000 rows.
    // A number always sorts before the cutoff text in SQLite (always overdue), a blob after it (never).
    const row = await q.get<TotalsRow>(
      `SELECT ${TOTALS_COLUMNS},
              json_group_array(next_expected_at)
                FILTER (WHERE monitoring_enabled = 1 AND typeof(next_expected_at) = 'text') AS expected,
              COALESCE(SUM(CASE WHEN monitoring_enabled = 1 AND typeof(next_expected_at) IN ('integer', 'real')
                                THEN 1 ELSE 0 END), 0) AS expected_numbers
         FROM jobs WHERE run_count > 0`,
    );
    const expected: unknown = JSON.parse(typeof row?.expected === "string" ? row.expected : "[]");
    const values = Array.isArray(expected) ? expected.map(String) : [];
    // Without a unit from U+D800 up, UTF-16 order is SQLite's, and the built-in comparison is much faster.
    const nextExpected = values.some((v) => HIGH_UNITS.test(v)) ? values.sort(compareText) : values.sort();
    const totals = totalsOf(servers, row);
    if (totals.unevaluable > 0) this.warnUnevaluable(totals.unevaluable);
    return { ...totals, version, toleranceMinutes, nextExpected, alwaysOverdue: Number(row?.expected_numbers ?? 0) };
  }

  /** PostgreSQL: the aggregate with the overdue count, per request. */
  private summaryUncached(now: Date): Promise<Summary> {
    return this.deps.db.read(async (q) => {
      const tolerance = TOLERANCE_MINUTES[resolveTolerance(await getConfigValue(q, "overdue_tolerance"))];
      const cutoff = new Date(now.getTime() - tolerance * 60_000).toISOString();
      const servers = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM servers`);
      const row = await q.get<TotalsRow>(
        `SELECT ${TOTALS_COLUMNS},
                COALESCE(SUM(CASE WHEN monitoring_enabled = 1 AND run_count > 0 AND next_expected_at < ? THEN 1 ELSE 0 END), 0) AS overdue
           FROM jobs WHERE run_count > 0`,
        [cutoff],
      );
      const totals = totalsOf(servers, row);
      if (totals.unevaluable !== this.lastUnevaluableLogged) {
        this.lastUnevaluableLogged = totals.unevaluable;
        if (totals.unevaluable > 0) this.warnUnevaluable(totals.unevaluable);
      }
      return summaryOf(totals, Number(row?.overdue ?? 0), now);
    });
  }

  private warnUnevaluable(jobs: number): void {
    this.deps.log.warn({ jobs }, "jobs without a valid schedule were left out of the overdue count");
  }

  /** The latest run of each job of a server, newest job first. */
  async latestBackups(identifier: string): Promise<{ server: ServerView; backups: BackupView[] }> {
    return this.deps.db.read(async (q) => {
      const server = await resolveServer(q, identifier);
      const runs = await q.all<BackupViewRow>(
        `${BACKUP_VIEW_SELECT} JOIN jobs j ON j.latest_run_id = b.id WHERE j.server_id = ? ORDER BY j.latest_date DESC`,
        [server.id],
      );
      return { server: toServerView(server), backups: runs.map(toBackupView) };
    });
  }

  /** The most recent run of a server over all its jobs. */
  async latestBackup(identifier: string): Promise<{ server: ServerView; backup: BackupView | null }> {
    return this.deps.db.read(async (q) => {
      const server = await resolveServer(q, identifier);
      // The job first (a server's few job rows, sorted; the join only checks in the id index that its run exists),
      // then that one run's row: the wide run rows of the other jobs are never read.
      const run = await q.get<BackupViewRow>(
        `${BACKUP_VIEW_SELECT} WHERE b.id = (SELECT j.latest_run_id FROM jobs j JOIN backups r ON r.id = j.latest_run_id
           WHERE j.server_id = ? ORDER BY j.latest_date DESC LIMIT 1)`,
        [server.id],
      );
      return { server: toServerView(server), backup: run ? toBackupView(run) : null };
    });
  }
}

function summaryOf(t: SummaryTotals, overdue: number, now: Date): Summary {
  return {
    totalServers: t.servers,
    totalBackupsRuns: t.runs,
    totalBackups: t.jobs,
    totalBackupJobs: t.jobs,
    totalUploadedSize: t.uploaded,
    totalStorageUsed: t.storage,
    totalBackupSize: t.size,
    overdueBackupsCount: overdue,
    secondsSinceLastBackup: t.lastDate ? Math.floor((now.getTime() - Date.parse(t.lastDate)) / 1000) : null,
    successfulBackups: t.ok,
    failedBackups: t.failed,
    lastUpdated: now.toISOString(),
  };
}

/** A server by id, else by name (Homepage URLs use names); a name shared by several servers is ambiguous. */
export async function resolveServer(q: Queryable, identifier: string): Promise<ServerPublicRow> {
  const byId = await getServerById(q, identifier);
  if (byId) return byId;
  const byName = await findServersByName(q, identifier);
  if (byName.length === 1 && byName[0]) return byName[0];
  if (byName.length > 1) {
    const ids = byName.map((s) => s.id);
    throw new HttpError(400, {
      error: "Multiple servers found with the same name",
      message: `Multiple servers found with name "${identifier}". Please use the server ID instead of the name. Available IDs: ${ids.join(", ")}`,
      status: 400,
      duplicate_servers: byName.map((s) => ({ id: s.id, name: s.name })),
    });
  }
  throw new HttpError(404, {
    error: "Server not found",
    message: `No server found with identifier: ${identifier}`,
    status: 404,
  });
}
