import path from "node:path";
import { z } from "zod";

/**
 * Environment → typed configuration. One schema with defaults; a bad value stops the process at start-up with a
 * message naming the variable, instead of surfacing later as odd behaviour.
 */
const boolish = z
  .enum(["true", "false", "1", "0", "yes", "no", "on", "off", ""])
  .transform((v) => ["true", "1", "yes", "on"].includes(v));

/** An MQTT topic prefix (empty = the default): no wildcard, NUL, empty level or leading `$`. */
const mqttTopicPrefix = (fallback: string) =>
  z.preprocess(
    (v) => (v === "" ? undefined : v),
    z
      .string()
      .refine(
        (v) =>
          !v.startsWith("$") && !/[+#]/.test(v) && !v.includes("\0") && v.split("/").every((level) => level !== ""),
        "must be an MQTT topic without wildcards, empty levels or a leading $",
      )
      .default(fallback),
  );

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(9666),
  HOST: z.string().default("0.0.0.0"),
  DATA_DIR: z.string().default("./data"),
  // Unset (or empty): the SQLite file in DATA_DIR. Otherwise PostgreSQL (see docs/scale-out.md).
  DATABASE_URL: z
    .string()
    .refine(
      (v) => v.trim() === "" || /^postgres(ql)?:\/\/\S+$/i.test(v.trim()),
      "must be a postgres:// or postgresql:// URL",
    )
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(10),
  NODE_ENV: z.string().default("production"),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  TZ: z.string().optional(),
  UPLOAD_TOKEN: z.string().min(1).optional(),
  UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(5 * 1024 * 1024),
  JSON_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  SQLITE_SYNCHRONOUS: z.enum(["NORMAL", "FULL"]).default("NORMAL"),
  SQLITE_CACHE_MB: z.coerce.number().int().positive().default(16),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(10_000),
  VALIDATE_RESPONSES: boolish.optional(),
  PWD_ENFORCE: z.string().optional(),
  PWD_MIN_LEN: z.coerce.number().int().min(1).default(8),
  ADMIN_PASSWORD: z.string().optional(),
  MQTT_URL: z
    .string()
    .refine(
      (v) => v === "" || /^(mqtts?|wss?|tcp|tls|ssl):\/\/\S+$/i.test(v),
      "must be an mqtt://, mqtts://, ws:// or wss:// URL",
    )
    .optional(),
  MQTT_USERNAME: z.string().optional(),
  MQTT_PASSWORD: z.string().optional(),
  MQTT_CA: z.string().optional(),
  MQTT_CERT: z.string().optional(),
  MQTT_KEY: z.string().optional(),
  MQTT_CLIENT_ID: z.string().max(128).optional(),
  MQTT_BASE_TOPIC: mqttTopicPrefix("duplistatus"),
  MQTT_DISCOVERY_PREFIX: mqttTopicPrefix("homeassistant"),
  MQTT_DISCOVERY: boolish.optional(),
  MQTT_RESYNC_SECONDS: z.coerce.number().int().min(0).default(60),
  REQUIRE_API_KEYS: boolish.optional(),
  UPLOAD_RATE_LIMIT: z.coerce.number().int().min(0).default(600),
  LOGIN_RATE_LIMIT: z.coerce.number().int().min(0).default(10),
  TRUST_PROXY: boolish.optional(),
  SECURE_COOKIES: boolish.optional(),
  METRICS_ACCESS: z.preprocess(
    (v) => (typeof v === "string" ? v.trim().toLowerCase() || undefined : v),
    z.enum(["token", "open"]).default("token"),
  ),
  METRICS_PROCESS: boolish.optional(),
  /** User plugins' folder (default DATA_DIR/plugins). */
  PLUGINS_DIR: z.string().optional(),
  LOG_FILE: z.string().optional(),
  DUPLICATI_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  COLLECT_INTERVAL_MINUTES: z.coerce.number().int().min(0).default(0),
});

export type AppConfig = {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /** PostgreSQL: connections in this instance's pool. */
  databasePoolSize: number;
  sqliteFile: string;
  nodeEnv: string;
  isDevelopment: boolean;
  logLevel: z.infer<typeof EnvSchema>["LOG_LEVEL"];
  timeZone: string;
  uploadToken: string | undefined;
  uploadMaxBytes: number;
  jsonMaxBytes: number;
  sqliteSynchronous: "NORMAL" | "FULL";
  sqliteCacheMb: number;
  requestTimeoutMs: number;
  shutdownGraceMs: number;
  validateResponses: boolean;
  passwordMinLength: number;
  passwordEnforce: boolean;
  adminPassword: string | undefined;
  mqttUrl: string | undefined;
  /** The MQTT bridge's options (it runs only when mqttUrl is set). */
  mqtt: {
    username: string | undefined;
    password: string | undefined;
    /** File paths (PEM) for TLS. */
    ca: string | undefined;
    cert: string | undefined;
    key: string | undefined;
    /** Default: duplistatus-<random>. */
    clientId: string | undefined;
    baseTopic: string;
    discoveryPrefix: string;
    /** Home Assistant discovery on/off. */
    discovery: boolean;
    /** Seconds between full re-syncs of the retained topics with the database (0 = only on events). */
    resyncSeconds: number;
  };
  /** Login attempts per minute per client IP (0 = unlimited). */
  loginRateLimit: number;
  /** Uploads per minute per client IP (0 = unlimited). */
  uploadRateLimit: number;
  /** Default of the "require keys for the external endpoints" setting (changeable at run time by an admin). */
  requireApiKeys: boolean;
  /** Believe X-Forwarded-For / X-Forwarded-Proto (set when behind a reverse proxy). */
  trustProxy: boolean;
  /** Force the Secure cookie flag (it is also set whenever the request came over HTTPS). */
  secureCookies: boolean;
  /** GET /metrics: "token" (a read/admin API token or a logged-in user) or "open" (anyone). */
  metricsAccess: "token" | "open";
  /** Add prom-client's process/Node.js metrics to /metrics. */
  metricsProcess: boolean;
  /** Where user plugins are loaded from (PLUGINS_DIR, default DATA_DIR/plugins). */
  pluginsDir: string;
  /** Also write the JSON log lines to this file (absolute; LOG_FILE relative to DATA_DIR), rotated at start. */
  logFile: string | undefined;
  /** Timeout of each request to a Duplicati server (collect, schedule sync, connection test). */
  duplicatiTimeoutMs: number;
  /** Minutes between automatic collections from servers with a stored URL and password (0 = off). */
  collectIntervalMinutes: number;
};

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid environment: ${lines.join("; ")}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    databaseUrl: e.DATABASE_URL?.trim() || undefined,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    sqliteFile: path.join(dataDir, "backups.db"),
    nodeEnv: e.NODE_ENV,
    isDevelopment: e.NODE_ENV === "development",
    logLevel: e.LOG_LEVEL,
    timeZone: e.TZ || Intl.DateTimeFormat().resolvedOptions().timeZone,
    uploadToken: e.UPLOAD_TOKEN,
    uploadMaxBytes: e.UPLOAD_MAX_BYTES,
    jsonMaxBytes: e.JSON_MAX_BYTES,
    sqliteSynchronous: e.SQLITE_SYNCHRONOUS,
    sqliteCacheMb: e.SQLITE_CACHE_MB,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    // Response validation costs time on hot paths, so it is on where mistakes should be loud (tests, development).
    validateResponses: e.VALIDATE_RESPONSES ?? (e.NODE_ENV === "test" || e.NODE_ENV === "development"),
    passwordMinLength: e.PWD_MIN_LEN,
    passwordEnforce: (e.PWD_ENFORCE ?? "true").toLowerCase() !== "false",
    adminPassword: e.ADMIN_PASSWORD,
    mqttUrl: e.MQTT_URL || undefined,
    mqtt: {
      username: e.MQTT_USERNAME || undefined,
      password: e.MQTT_PASSWORD || undefined,
      ca: e.MQTT_CA || undefined,
      cert: e.MQTT_CERT || undefined,
      key: e.MQTT_KEY || undefined,
      clientId: e.MQTT_CLIENT_ID || undefined,
      baseTopic: e.MQTT_BASE_TOPIC,
      discoveryPrefix: e.MQTT_DISCOVERY_PREFIX,
      discovery: e.MQTT_DISCOVERY ?? true,
      resyncSeconds: e.MQTT_RESYNC_SECONDS,
    },
    requireApiKeys: e.REQUIRE_API_KEYS ?? false,
    uploadRateLimit: e.UPLOAD_RATE_LIMIT,
    loginRateLimit: e.LOGIN_RATE_LIMIT,
    trustProxy: e.TRUST_PROXY ?? false,
    secureCookies: e.SECURE_COOKIES ?? false,
    metricsAccess: e.METRICS_ACCESS,
    metricsProcess: e.METRICS_PROCESS ?? false,
    pluginsDir: e.PLUGINS_DIR?.trim() ? path.resolve(e.PLUGINS_DIR.trim()) : path.join(dataDir, "plugins"),
    logFile: e.LOG_FILE?.trim() ? path.resolve(dataDir, e.LOG_FILE.trim()) : undefined,
    duplicatiTimeoutMs: e.DUPLICATI_TIMEOUT_MS,
    collectIntervalMinutes: e.COLLECT_INTERVAL_MINUTES,
  };
}
