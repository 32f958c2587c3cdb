import type { Clock } from "../core/clock";
import type { BackupStatus } from "../core/domain";
import type { Database, Queryable } from "../db/database";
import { TOLERANCE_MINUTES, resolveTolerance } from "../monitoring/interval";
import { getConfigValue } from "../store/configuration-store";

/** The current state of one backup job, as integrations (MQTT, metrics, status panels) present it. */
export interface JobStateView {
  serverId: string;
  serverName: string;
  serverAlias: string;
  backupName: string;
  runCount: number;
  status: BackupStatus | null;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  durationSeconds: number | null;
  uploadedBytes: number | null;
  sizeBytes: number | null;
  storageBytes: number | null;
  versions: number | null;
  warnings: number | null;
  errors: number | null;
  monitoringEnabled: boolean;
  nextExpectedAt: string | null;
  overdue: boolean;
  overdueSince: string | null;
}

interface Row {
  server_id: string;
  server_name: string;
  server_alias: string;
  backup_name: string;
  run_count: number;
  latest_status: BackupStatus | null;
  latest_date: string | null;
  last_success_date: string | null;
  monitoring_enabled: number;
  next_expected_at: string | null;
  overdue_since: string | null;
  duration_seconds: number | null;
  uploaded_size: number | null;
  size: number | null;
  known_file_size: number | null;
  backup_list_count: number | null;
  warnings: number | null;
  errors: number | null;
}

const SELECT = `SELECT j.server_id, s.name AS server_name, s.alias AS server_alias, j.backup_name, j.run_count,
    j.latest_status, j.latest_date, j.last_success_date, j.monitoring_enabled, j.next_expected_at, j.overdue_since,
    b.duration_seconds, b.uploaded_size, b.size, b.known_file_size, b.backup_list_count, b.warnings, b.errors
  FROM jobs j
  JOIN servers s ON s.id = j.server_id
  LEFT JOIN backups b ON b.id = j.latest_run_id`;

const num = (v: number | null): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Read-only job states for integrations. One query over the maintained `jobs` table (plus a primary-key join to each
 * job's latest run); overdue uses the same rule as the summary and the checker (monitored, has runs, now past the
 * next expected run plus the tolerance).
 */
export class JobStateService {
  constructor(private readonly deps: { db: Database; clock: Clock }) {}

  list(): Promise<JobStateView[]> {
    return this.deps.db.read(async (q) => {
      const cutoff = await this.cutoff(q);
      const rows = await q.all<Row>(`${SELECT} WHERE j.run_count > 0 ORDER BY s.name, j.backup_name`);
      return rows.map((r) => this.view(r, cutoff));
    });
  }

  get(serverId: string, backupName: string): Promise<JobStateView | null> {
    return this.deps.db.read(async (q) => {
      const cutoff = await this.cutoff(q);
      const row = await q.get<Row>(`${SELECT} WHERE j.server_id = ? AND j.backup_name = ?`, [serverId, backupName]);
      return row ? this.view(row, cutoff) : null;
    });
  }

  private async cutoff(q: Queryable): Promise<string> {
    const tolerance = TOLERANCE_MINUTES[resolveTolerance(await getConfigValue(q, "overdue_tolerance"))];
    return new Date(this.deps.clock.now().getTime() - tolerance * 60_000).toISOString();
  }

  private view(r: Row, cutoff: string): JobStateView {
    const monitored = Number(r.monitoring_enabled) === 1;
    return {
      serverId: r.server_id,
      serverName: r.server_name,
      serverAlias: r.server_alias,
      backupName: r.backup_name,
      runCount: Number(r.run_count),
      status: r.latest_status,
      lastRunAt: r.latest_date,
      lastSuccessAt: r.last_success_date,
      durationSeconds: num(r.duration_seconds),
      uploadedBytes: num(r.uploaded_size),
      sizeBytes: num(r.size),
      storageBytes: num(r.known_file_size),
      versions: num(r.backup_list_count),
      warnings: num(r.warnings),
      errors: num(r.errors),
      monitoringEnabled: monitored,
      nextExpectedAt: r.next_expected_at,
      overdue: monitored && Number(r.run_count) > 0 && r.next_expected_at !== null && r.next_expected_at < cutoff,
      overdueSince: r.overdue_since,
    };
  }
}
