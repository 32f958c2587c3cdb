import type { AuditService } from "./audit/audit-service";
import type { SessionAndTokenPolicy } from "./auth/access-policy";
import type { AppConfig } from "./config";
import type { Clock } from "./core/clock";
import type { EventBus } from "./core/events";
import type { Logger } from "./core/logger";
import type { SecretBox } from "./core/secrets";
import type { Database } from "./db/database";
import type { RouteDef } from "./http/route";
import type { IngestService } from "./ingest/ingest-service";
import type { OverdueChecker } from "./monitoring/overdue-checker";
import type { MonitoringSettingsService } from "./monitoring/settings-service";
import type { ReportingService } from "./reporting/reporting-service";
import type { HealthService } from "./system/health-service";

/** What the core's own rooms (auth, admin, reporting…) are built from. Plugins get far less: see PluginContext. */
export interface AppContext {
  config: AppConfig;
  log: Logger;
  clock: Clock;
  db: Database;
  events: EventBus;
  audit: AuditService;
  secrets: SecretBox;
  access: SessionAndTokenPolicy;
  services: {
    ingest: IngestService;
    reporting: ReportingService;
    health: HealthService;
    monitoring: MonitoringSettingsService;
    overdue: OverdueChecker;
  };
}

/**
 * A room of the core: its routes, and optionally background work started after the database is ready and stopped
 * before it closes (e.g. the daily audit retention job).
 */
export interface CoreModule {
  name: string;
  routes?(ctx: AppContext): RouteDef[];
  start?(ctx: AppContext): void | Promise<void>;
  stop?(ctx: AppContext): void | Promise<void>;
}
