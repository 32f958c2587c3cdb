import { z } from "zod";
import { METRICS, PERIODS } from "./params";

/** Request and response schemas of /api/chart-data/* (validated in tests, published in the OpenAPI document). */

const queryValue = z.union([z.string(), z.array(z.string())]).optional();

/**
 * Everything is optional and checked by the service (params.ts), so that a bad value answers with the seed
 * document's error body ({"status":"error","error":"ValidationError","message":"Invalid period format"}).
 */
export const ChartQuerySchema = z.object({
  period: queryValue.describe(`Time period ending now: ${Object.keys(PERIODS).join(", ")} (default 7d)`),
  metric: queryValue.describe(`${METRICS.join(", ")} or all (default); several as a comma-separated list`),
  granularity: queryValue.describe(
    "minute, hour, day, week (Monday 00:00 UTC) or auto. Default hour; auto when from/to or startDate/endDate is given",
  ),
  from: queryValue.describe("Range start, epoch milliseconds or ISO 8601 (UTC when no offset); overrides period"),
  to: queryValue.describe("Range end, epoch milliseconds or ISO 8601 (default now); overrides period"),
  startDate: queryValue.describe("Same as from (the original's name); from wins when both are given"),
  endDate: queryValue.describe("Same as to (the original's name); to wins when both are given"),
});

export const ServerParamsSchema = z.object({
  serverId: z.string().describe("Server id (Duplicati machine-id) or server name"),
});

export const JobParamsSchema = ServerParamsSchema.extend({
  backupName: z.string().describe("Backup job name (URL-encoded)"),
});

export const TrendSchema = z.enum(["increasing", "decreasing", "stable"]);
export type Trend = z.infer<typeof TrendSchema>;

export const StatisticsSchema = z.object({
  min: z.number().nullable(),
  max: z.number().nullable(),
  avg: z.number().nullable().describe("Mean of the point values, 2 decimals"),
  total: z.number().describe("Sum of the point values"),
  trend: TrendSchema.nullable().describe(
    "Least-squares direction over the points (±5 % of the mean); null below 2 points",
  ),
});
export type Statistics = z.infer<typeof StatisticsSchema>;

const pointFields = {
  timestamp: z.string().describe("Bucket start, ISO 8601 UTC"),
  time: z.number().int().describe("Bucket start, epoch milliseconds"),
  value: z.number(),
  count: z.number().int().describe("Runs in the bucket"),
};

export const ChartPointSchema = z.object({
  ...pointFields,
  jobs: z.number().int().describe("Jobs that ran in the bucket (each contributes its last run to the gauges)"),
});
export type ChartPoint = z.infer<typeof ChartPointSchema>;

export const JobChartPointSchema = z.object({
  ...pointFields,
  status: z.string().nullable().describe("Status of the job's last run in the bucket"),
  duration: z.number().optional().describe("Duration of the bucket's runs, seconds (on the other metrics' points)"),
  size: z.number().optional().describe("Size of the bucket's last run, bytes (on the other metrics' points)"),
  files: z.number().optional().describe("File count of the bucket's last run (on the other metrics' points)"),
});
export type JobChartPoint = z.infer<typeof JobChartPointSchema>;

function seriesSchema<P extends z.ZodType>(point: P) {
  return z.object({
    label: z.string(),
    unit: z.string().describe("seconds, bytes, files or versions"),
    grafanaUnit: z.string().describe("The Grafana unit id: s, bytes or short"),
    aggregation: z
      .enum(["sum", "last"])
      .describe("sum: summed per bucket; last: each job's last run, summed over jobs"),
    data: z.array(point),
    statistics: StatisticsSchema,
  });
}

export interface MetricSeries<P> {
  label: string;
  unit: string;
  grafanaUnit: string;
  aggregation: "sum" | "last";
  data: P[];
  statistics: Statistics;
}

function metricsSchema<P extends z.ZodType>(point: P) {
  const series = seriesSchema(point).optional();
  return z.object({
    duration: series,
    size: series,
    files: series,
    storage: series,
    uploaded: series,
    versions: series,
  });
}

export const SummarySchema = z.object({
  totalBackups: z.number().int().describe("Runs in the range"),
  successfulBackups: z.number().int().describe("Runs with status Success or Warning"),
  failedBackups: z.number().int().describe("Runs with status Error or Fatal"),
  successRate: z.number().nullable().describe("successfulBackups / totalBackups in percent (null without runs)"),
  averageDuration: z.number().nullable().describe("Seconds per run"),
  totalDuration: z.number().describe("Seconds"),
  totalUploaded: z.number().describe("Bytes uploaded by the runs in the range"),
  totalData: z.number().describe("Σ over jobs of the source size of each job's last run in the range, bytes"),
  totalStorage: z.number().describe("Σ over jobs of the storage used after each job's last run in the range, bytes"),
  totalVersions: z.number().describe("Σ over jobs of the versions kept after each job's last run in the range"),
  jobs: z.number().int().describe("Jobs with at least one run in the range"),
});
export type Summary = z.infer<typeof SummarySchema>;

export const JobSummarySchema = SummarySchema.extend({
  growthRate: z.number().nullable().describe("Change of the source size from the first to the last run, percent"),
  reliability: z.number().nullable().describe("Runs with status Success (no warnings or errors), percent"),
});

export const RangeSchema = z.object({
  from: z.string().describe("Requested start, ISO 8601 UTC"),
  to: z.string().describe("Requested end, ISO 8601 UTC"),
  start: z.string().describe("Start of the first bucket: the range is widened to whole buckets"),
  end: z.string().describe("End (exclusive) of the last bucket"),
});

const ServerRefSchema = z.object({ id: z.string(), name: z.string(), alias: z.string() });

export const JobBreakdownSchema = z.object({
  name: z.string(),
  count: z.number().int(),
  successfulBackups: z.number().int(),
  failedBackups: z.number().int(),
  successRate: z.number().nullable(),
  averageDuration: z.number().nullable(),
  totalDuration: z.number(),
  totalUploaded: z.number(),
  totalSize: z.number().describe("Source size of the job's last run in the range, bytes"),
  totalStorage: z.number().describe("Storage used after the job's last run in the range, bytes"),
  versions: z.number(),
  firstRun: z.string(),
  lastRun: z.string(),
  lastStatus: z.string(),
  growthRate: z.number().nullable(),
});
export type JobBreakdown = z.infer<typeof JobBreakdownSchema>;

const common = {
  period: z.enum([...(Object.keys(PERIODS) as [keyof typeof PERIODS]), "custom"]),
  granularity: z.enum(["minute", "hour", "day", "week"]),
  range: RangeSchema,
};

export const AggregatedDataSchema = z.object({
  scope: z.literal("aggregated"),
  ...common,
  metrics: metricsSchema(ChartPointSchema),
  summary: SummarySchema,
});

export const ServerDataSchema = z.object({
  scope: z.literal("server"),
  server: ServerRefSchema,
  ...common,
  metrics: metricsSchema(ChartPointSchema),
  backups: z.array(JobBreakdownSchema),
  summary: SummarySchema,
});

export const JobDataSchema = z.object({
  scope: z.literal("job"),
  server: ServerRefSchema,
  backup: z.object({
    name: z.string(),
    schedule: z.string().describe("Expected interval between runs (monitoring setting, e.g. 1D)"),
    allowedWeekdays: z.array(z.number().int()),
    runCount: z.number().int().describe("All stored runs of the job"),
    lastRun: z.string().nullable(),
    lastStatus: z.string().nullable(),
    nextRun: z.string().nullable(),
  }),
  ...common,
  metrics: metricsSchema(JobChartPointSchema),
  summary: JobSummarySchema,
});

type Metrics<P> = Partial<Record<(typeof METRICS)[number], MetricSeries<P>>>;
export type AggregatedChartData = Omit<z.infer<typeof AggregatedDataSchema>, "metrics"> & {
  metrics: Metrics<ChartPoint>;
};
export type ServerChartData = Omit<z.infer<typeof ServerDataSchema>, "metrics"> & { metrics: Metrics<ChartPoint> };
export type JobChartData = Omit<z.infer<typeof JobDataSchema>, "metrics"> & { metrics: Metrics<JobChartPoint> };

export const envelope = <T extends z.ZodType>(data: T) => z.object({ status: z.literal("success"), data });

export const ChartErrorSchema = z.object({
  status: z.literal("error"),
  error: z.enum(["ValidationError", "NotFoundError", "InternalError"]),
  message: z.string(),
});
