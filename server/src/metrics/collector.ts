import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { BACKUP_STATUSES } from "../core/domain";
import type { JobRunCounts, JobStateView, PluginServices } from "../plugins/api";

/**
 * The Prometheus view of duplistatus, built at scrape time from the plugin API's read services: the current state of
 * every job (jobs.list(), one query over the maintained `jobs` rows), the per-status run counters kept on those rows
 * (jobs.runCounts()) and the summary's server count. Nothing is counted in memory, so every instance on the same
 * database answers the same, the counters survive restarts, and no scrape ever scans the stored runs.
 *
 * Each scrape fills a fresh prom-client registry (no state shared between concurrent scrapes, and jobs deleted since
 * the last scrape simply disappear); prom-client writes the text format: HELP/TYPE lines, label escaping.
 */

/** Labels of every per-job series. Per-run ids are never labels (they would make a new series per run). */
const JOB_LABELS = ["server_id", "server_name", "backup_name"] as const;
type JobLabels = Record<(typeof JOB_LABELS)[number], string>;

const seconds = (iso: string | null): number | null => {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : null;
};

/** The per-job gauges: a series is left out when its value is unknown (e.g. a job that never succeeded). */
const JOB_GAUGES: ReadonlyArray<{ name: string; help: string; value: (j: JobStateView) => number | null }> = [
  {
    name: "duplistatus_backup_last_run_timestamp_seconds",
    help: "Start time of the job's latest run, in Unix seconds.",
    value: (j) => seconds(j.lastRunAt),
  },
  {
    name: "duplistatus_backup_last_success_timestamp_seconds",
    help: "Start time of the job's latest Success or Warning run, in Unix seconds (absent if none).",
    value: (j) => seconds(j.lastSuccessAt),
  },
  {
    name: "duplistatus_backup_expected_timestamp_seconds",
    help: "When the job's next run is expected, in Unix seconds (absent if unknown).",
    value: (j) => seconds(j.nextExpectedAt),
  },
  {
    name: "duplistatus_backup_overdue",
    help: "1 if the job is monitored and its expected run is later than the overdue tolerance allows, else 0.",
    value: (j) => (j.overdue ? 1 : 0),
  },
  {
    name: "duplistatus_backup_monitoring_enabled",
    help: "1 if overdue monitoring is enabled for the job, else 0.",
    value: (j) => (j.monitoringEnabled ? 1 : 0),
  },
  {
    name: "duplistatus_backup_last_duration_seconds",
    help: "Duration of the job's latest run, in seconds.",
    value: (j) => j.durationSeconds,
  },
  {
    name: "duplistatus_backup_last_uploaded_bytes",
    help: "Bytes uploaded to the destination by the job's latest run.",
    value: (j) => j.uploadedBytes,
  },
  {
    name: "duplistatus_backup_last_size_bytes",
    help: "Size of the source files examined by the job's latest run, in bytes.",
    value: (j) => j.sizeBytes,
  },
  {
    name: "duplistatus_backup_storage_bytes",
    help: "Size of the backup at the destination after the job's latest run, in bytes.",
    value: (j) => j.storageBytes,
  },
  {
    name: "duplistatus_backup_versions",
    help: "Number of backup versions at the destination after the job's latest run.",
    value: (j) => j.versions,
  },
  {
    name: "duplistatus_backup_last_warnings",
    help: "Warnings reported by the job's latest run.",
    value: (j) => j.warnings,
  },
  {
    name: "duplistatus_backup_last_errors",
    help: "Errors reported by the job's latest run.",
    value: (j) => j.errors,
  },
];

const jobKey = (serverId: string, backupName: string) => JSON.stringify([serverId, backupName]);

export interface MetricsCollectorDeps {
  /** ctx.services.jobs: the job states and the stored run counters. */
  jobs: Pick<PluginServices["jobs"], "list" | "runCounts">;
  /** ctx.services.summary: the server count. */
  summary: PluginServices["summary"];
  /** duplistatus version, for duplistatus_build_info. */
  version: string;
  /** Add prom-client's default process and Node.js metrics (METRICS_PROCESS). */
  processMetrics: boolean;
}

export class MetricsCollector {
  /** The default process metrics live across scrapes (CPU, GC and event-loop figures accumulate); null when off. */
  private readonly processRegistry: Registry | null;

  constructor(private readonly deps: MetricsCollectorDeps) {
    this.processRegistry = deps.processMetrics ? new Registry() : null;
    if (this.processRegistry) {
      collectDefaultMetrics({ register: this.processRegistry });
      // prom-client also reports nodejs_active_{handles,requests,resources}_total, gauges whose `_total` suffix breaks
      // the naming rules (promtool rejects them); the same figures stay available by type without the suffix.
      for (const metric of this.processRegistry.getMetricsAsArray()) {
        if (metric.name.endsWith("_total") && String(metric.type) !== "counter") {
          this.processRegistry.removeSingleMetric(metric.name);
        }
      }
    }
  }

  /** The metrics in the Prometheus text format 0.0.4. */
  async render(): Promise<string> {
    const [counters, servers] = await Promise.all([runCounters(this.deps.jobs), countServers(this.deps.summary)]);
    const jobs = await this.deps.jobs.list();

    const registry = new Registry();
    const registers = [registry];

    new Gauge({
      name: "duplistatus_build_info",
      help: "Always 1; the labels carry the duplistatus and Node.js versions.",
      labelNames: ["version", "node"],
      registers,
    }).set({ version: this.deps.version, node: process.versions.node }, 1);
    new Gauge({ name: "duplistatus_servers", help: "Servers (Duplicati machines) known.", registers }).set(servers);
    new Gauge({ name: "duplistatus_backup_jobs", help: "Backup jobs with at least one run.", registers }).set(
      jobs.length,
    );
    new Gauge({
      name: "duplistatus_overdue_backups",
      help: "Backup jobs currently overdue.",
      registers,
    }).set(jobs.filter((j) => j.overdue).length);

    const gauges = JOB_GAUGES.map(
      (def) => [def, new Gauge({ name: def.name, help: def.help, labelNames: JOB_LABELS, registers })] as const,
    );
    const lastStatus = new Gauge({
      name: "duplistatus_backup_last_status",
      help: "1 for the status of the job's latest run (Success, Warning, Error, Fatal, Unknown), 0 for the others.",
      labelNames: [...JOB_LABELS, "status"],
      registers,
    });
    const runs = new Counter({
      name: "duplistatus_backup_runs_total",
      help: "Runs of the job stored, by status (kept in the database: survives restarts; deletions lower it).",
      labelNames: [...JOB_LABELS, "status"],
      registers,
    });

    for (const job of jobs) {
      const labels: JobLabels = {
        server_id: job.serverId,
        server_name: job.serverName,
        backup_name: job.backupName,
      };
      for (const [def, gauge] of gauges) {
        const value = def.value(job);
        if (value !== null && Number.isFinite(value)) gauge.set(labels, value);
      }
      for (const status of BACKUP_STATUSES) lastStatus.set({ ...labels, status }, job.status === status ? 1 : 0);
      // A job that appeared between the two reads gets its counters at the next scrape.
      const counted = counters.get(jobKey(job.serverId, job.backupName));
      if (counted) {
        for (const status of BACKUP_STATUSES) {
          runs.inc({ ...labels, status }, Number(counted.runs[status] ?? 0));
        }
      }
    }

    const output = this.processRegistry ? Registry.merge([registry, this.processRegistry]) : registry;
    return output.metrics();
  }
}

async function runCounters(jobs: MetricsCollectorDeps["jobs"]): Promise<Map<string, JobRunCounts>> {
  const rows = await jobs.runCounts();
  return new Map(rows.map((r) => [jobKey(r.serverId, r.backupName), r]));
}

async function countServers(summary: MetricsCollectorDeps["summary"]): Promise<number> {
  return Number((await summary()).totalServers ?? 0);
}
