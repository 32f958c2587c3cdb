import type { Clock } from "../core/clock";
import type { Database } from "../db/database";

export interface HealthReport {
  healthy: boolean;
  body: Record<string, unknown>;
}

/** Database health in the original's shape: 200 healthy / 503 otherwise. */
export class HealthService {
  constructor(private readonly deps: { db: Database; clock: Clock; isDevelopment: boolean }) {}

  async check(): Promise<HealthReport> {
    const timestamp = this.deps.clock.now().toISOString();
    try {
      return await this.deps.db.read(async (q) => {
        const ping = await q.get<{ ok: number }>(`SELECT 1 AS ok`);
        const tables = (await q.all<{ name: string }>(this.deps.db.dialect.listTablesSql)).map((t) => t.name);
        const required = ["servers", "backups", "jobs", "configurations"];
        const missing = required.filter((t) => !tables.includes(t));
        const basic = Number(ping?.ok) === 1;
        const healthy = basic && missing.length === 0;
        return {
          healthy,
          body: {
            status: healthy ? "healthy" : "degraded",
            database: "connected",
            basicConnection: basic,
            tablesFound: tables.length,
            tables,
            preparedStatements: true,
            initializationStatus: missing.length === 0 ? "complete" : "failed",
            initializationComplete: missing.length === 0,
            connectionHealth: basic,
            timestamp,
            connectionDetails: {
              walMode: this.deps.db.dialect.kind === "sqlite" ? "wal" : "n/a",
              busyTimeout: 30000,
              status: "ready",
            },
            ...(missing.length > 0 ? { initializationError: `Missing tables: ${missing.join(", ")}` } : {}),
          },
        };
      });
    } catch (err) {
      return {
        healthy: false,
        body: {
          status: "unhealthy",
          error: "Database connection failed",
          message: err instanceof Error ? err.message : String(err),
          ...(this.deps.isDevelopment && err instanceof Error ? { stack: err.stack } : {}),
          timestamp,
        },
      };
    }
  }
}
