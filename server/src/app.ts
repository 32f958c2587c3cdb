import http from "node:http";
import path from "node:path";
import type Router from "@koa/router";
import type { AddressInfo } from "node:net";
import type { AppConfig } from "./config";
import { type Clock, systemClock } from "./core/clock";
import { EventBus } from "./core/events";
import { createLogger, type Logger } from "./core/logger";
import { PluginHost } from "./core/plugin-host";
import { Database, databaseOptions } from "./db/database";
import { AuditService } from "./audit/audit-service";
import { SessionAndTokenPolicy } from "./auth/access-policy";
import type { AppContext } from "./context";
import { SecretBox } from "./core/secrets";
import { CORE_MODULES } from "./modules";
import { createHttpApp } from "./http/app";
import { buildOpenApi } from "./http/openapi";
import type { RouteDef } from "./http/route";
import { IngestService } from "./ingest/ingest-service";
import { createMetricsPlugin } from "./metrics/plugin";
import { OverdueChecker } from "./monitoring/overdue-checker";
import { MonitoringSettingsService } from "./monitoring/settings-service";
import { createEmailPlugin, emailPluginConfig } from "./notifications/email-plugin";
import { createNtfyPlugin, ntfyPluginConfig } from "./notifications/ntfy-plugin";
import { loadUserPlugins } from "./plugins/loader";
import { attachPluginRuntime } from "./plugins/runtime";
import { createPluginServices } from "./plugins/services";
import { DbPluginSettingsStore } from "./plugins/settings-store";
import { createWebhookPlugin } from "./plugins/webhook";
import { ReportingService } from "./reporting/reporting-service";
import { HealthService } from "./system/health-service";
import { systemRoutes } from "./system/routes";
import { VERSION } from "./version";
import { createMqttBridgePlugin, mqttBridgeConfig } from "../../mqtt-bridge/src";

/** Read-only services handed to plugins: the public plugin API's (plugins/api.ts). */
export type { PluginServices } from "./plugins/api";

export interface Duplistatus {
  readonly config: AppConfig;
  readonly log: Logger;
  readonly db: Database;
  readonly events: EventBus;
  readonly plugins: PluginHost;
  readonly services: AppContext["services"];
  readonly context: AppContext;
  readonly routes: readonly RouteDef[];
  /** The Koa router the routes were mounted on (tests walk it to prove every mounted route is declared). */
  readonly router: Router;
  readonly server: http.Server;
  /** Base URL once listening, e.g. http://127.0.0.1:9666 */
  url(): string;
  listen(): Promise<void>;
  /** Stop accepting, finish in-flight requests, stop plugins, close the database. */
  close(): Promise<void>;
}

export interface CreateOptions {
  clock?: Clock;
  log?: Logger;
}

/** Composition root: the core (database, events, services), the plugin host and the HTTP surface. */
export async function createDuplistatus(config: AppConfig, options: CreateOptions = {}): Promise<Duplistatus> {
  const log = options.log ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const db = await Database.open(databaseOptions(config), log);
  const events = new EventBus(log);
  const monitoring = new MonitoringSettingsService({ db, clock });
  const ingest = new IngestService({ db, events, clock, timeZone: config.timeZone, notificationPrefs: monitoring });
  // The live database: uploads are stored on a thread of their own (ingest-writer.ts), not on the event loop.
  ingest.startWriterThread(log);
  const reporting = new ReportingService({ db, clock, log });
  const health = new HealthService({ db, clock, isDevelopment: config.isDevelopment });
  const overdue = new OverdueChecker({ db, clock, events, settings: monitoring, log });
  const audit = new AuditService({ db, clock, log });
  const secrets = SecretBox.openOrCreate(config.dataDir);
  const access = new SessionAndTokenPolicy({
    db,
    clock,
    log,
    uploadToken: config.uploadToken,
    requireKeysDefault: config.requireApiKeys,
  });
  const context: AppContext = {
    config,
    log,
    clock,
    db,
    events,
    audit,
    secrets,
    access,
    services: { ingest, reporting, health, monitoring, overdue },
  };
  const plugins = new PluginHost({
    events,
    log,
    clock,
    ...createPluginServices(context),
    secrets,
    store: new DbPluginSettingsStore({ db, clock }),
    host: { version: VERSION, timeZone: config.timeZone },
    dataDir: path.join(config.dataDir, "plugin-data"),
    ...(config.nodeEnv === "test" ? { startTimeoutMs: 5_000, stopTimeoutMs: 5_000 } : {}),
  });
  attachPluginRuntime(context, { host: plugins, pluginsDir: config.pluginsDir, version: VERSION });
  await plugins.add(createNtfyPlugin(), { defaults: ntfyPluginConfig(config) });
  await plugins.add(createEmailPlugin(), { defaults: emailPluginConfig(config) });
  await plugins.add(createWebhookPlugin());
  const mqtt = mqttBridgeConfig(config, VERSION);
  if (mqtt) await plugins.add(createMqttBridgePlugin(), { defaults: mqtt });
  await plugins.add(createMetricsPlugin({ access: config.metricsAccess === "open" ? "public" : "user" }), {
    defaults: { processMetrics: config.metricsProcess },
  });
  await loadUserPlugins(plugins, { pluginsDir: config.pluginsDir, version: VERSION, log });

  const routes: RouteDef[] = [];
  let openApiDoc: Record<string, unknown> | undefined;
  for (const module of CORE_MODULES) routes.push(...(module.routes?.(context) ?? []));
  routes.push(...systemRoutes(health, () => (openApiDoc ??= buildOpenApi(routes, { version: VERSION }))));

  const { app, router } = createHttpApp({
    routes,
    access,
    trustProxy: config.trustProxy,
    log,
    isDevelopment: config.isDevelopment,
    validateResponses: config.validateResponses,
    uploadMaxBytes: config.uploadMaxBytes,
    jsonMaxBytes: config.jsonMaxBytes,
  });
  const server = http.createServer(app.callback());
  // Slow or stalled clients cannot hold sockets forever.
  server.requestTimeout = config.requestTimeoutMs;
  server.headersTimeout = Math.min(config.requestTimeoutMs, 20_000);
  server.keepAliveTimeout = 5_000;

  let closing: Promise<void> | undefined;
  const url = (): string => {
    const addr = server.address() as AddressInfo | null;
    if (!addr) throw new Error("not listening");
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    return `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${addr.port}`;
  };
  return {
    config,
    log,
    db,
    events,
    plugins,
    services: context.services,
    context,
    routes,
    router,
    server,
    url,
    async listen() {
      for (const module of CORE_MODULES) await module.start?.(context);
      await plugins.startAll();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.port, config.host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      log.info({ url: url(), dataDir: config.dataDir, version: VERSION }, "duplistatus listening");
    },
    close() {
      closing ??= (async () => {
        // server.close stops accepting and resolves once in-flight requests are answered; idle keep-alive
        // sockets are closed at once so they cannot hold the shutdown open.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
        await closed;
        clearTimeout(grace);
        // Plugins stop first (cancelling retries towards dead channels), then handlers still running get a bounded
        // moment to finish before the database closes under them.
        await plugins.stopAll();
        let idleTimer: NodeJS.Timeout | undefined;
        await Promise.race([
          events.idle(),
          new Promise<void>((resolve) => (idleTimer = setTimeout(resolve, config.shutdownGraceMs))),
        ]);
        clearTimeout(idleTimer);
        for (const module of [...CORE_MODULES].reverse()) await module.stop?.(context);
        await ingest.stopWriterThread();
        await db.close();
        log.info("duplistatus stopped");
      })();
      return closing;
    },
  };
}
