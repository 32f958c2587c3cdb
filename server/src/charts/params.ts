import { BUCKET_MS, GRANULARITIES, type Granularity, bucketCount, bucketEndMs, bucketStartMs } from "./buckets";

/**
 * The query string of the chart endpoints → a resolved request (metrics, granularity, range widened to whole
 * buckets). Pure: `now` comes from the caller's clock. Bad input throws ChartError with the seed document's bodies.
 */

export const PERIODS = { "1d": 1, "7d": 7, "30d": 30, "90d": 90, "1y": 365 } as const;
export type Period = keyof typeof PERIODS;
export const DEFAULT_PERIOD: Period = "7d";
/** The seed document's default when neither a granularity nor an explicit range is given. */
export const DEFAULT_GRANULARITY: Granularity = "hour";

export const METRICS = ["duration", "size", "files", "storage", "uploaded", "versions"] as const;
export type Metric = (typeof METRICS)[number];

/** `granularity=auto` (and an explicit range without granularity) picks the finest one with at most this many buckets. */
export const AUTO_MAX_BUCKETS = 1_000;
/** A request may span at most this many buckets (a longer range needs a coarser granularity). */
export const MAX_BUCKETS = 50_000;

const DAY_MS = 86_400_000;

/** A failed request, with the seed document's error body: {"status":"error","error":…,"message":…}. */
export class ChartError extends Error {
  constructor(
    readonly status: 400 | 404,
    readonly kind: "ValidationError" | "NotFoundError",
    message: string,
  ) {
    super(message);
  }
  get body(): { status: "error"; error: "ValidationError" | "NotFoundError"; message: string } {
    return { status: "error", error: this.kind, message: this.message };
  }
}

export const validationError = (message: string) => new ChartError(400, "ValidationError", message);
export const notFoundError = (message: string) => new ChartError(404, "NotFoundError", message);

export type ChartQuery = Partial<
  Record<"period" | "metric" | "granularity" | "from" | "to" | "startDate" | "endDate", string | string[]>
>;

export interface ChartRequest {
  /** The period asked for (or the default), or "custom" when from/to or startDate/endDate set the range. */
  period: Period | "custom";
  metrics: Metric[];
  granularity: Granularity;
  /** The requested range (epoch ms, inclusive). */
  fromMs: number;
  toMs: number;
  /** Widened to whole buckets: start of the first bucket, and end (exclusive) of the last one. */
  startMs: number;
  endMs: number;
}

/** A single query value: absent or empty → undefined; repeated → invalid. */
function single(value: string | string[] | undefined, message: string): string | undefined {
  if (Array.isArray(value)) throw validationError(message);
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

const EPOCH_MS = /^\d{1,15}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
const HAS_TIME_WITHOUT_ZONE = /[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/i;
/** Years 0001–9999: the range where ISO-8601 text (the stored form) sorts like time. */
const MIN_MS = Date.parse("0001-01-01T00:00:00.000Z");
const MAX_MS = Date.parse("9999-12-01T00:00:00.000Z");
/** "+02:00" arrives as " 02:00" when the client did not URL-encode the plus sign. */
const UNENCODED_PLUS_OFFSET = /(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$/;

/** The YYYY-MM-DD part names a real day (JavaScript would read 2025-02-30 as 2 March). */
function isCalendarDate(text: string): boolean {
  const [y, m, d] = text.slice(0, 10).split("-").map(Number) as [number, number, number];
  const date = new Date(Date.UTC(2000, m - 1, d));
  date.setUTCFullYear(y);
  return date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/**
 * A point in time: epoch milliseconds (digits only) or ISO 8601 (a date, or a date and time). A time without an
 * offset is UTC, never the server's local time.
 */
export function parseInstant(input: string): number | null {
  const text = input.replace(UNENCODED_PLUS_OFFSET, "$1+$2");
  let ms: number;
  if (EPOCH_MS.test(text)) ms = Number(text);
  else if (ISO_DATE.test(text) && isCalendarDate(text)) {
    const normalised = text.replace(" ", "T");
    ms = Date.parse(HAS_TIME_WITHOUT_ZONE.test(normalised) ? `${normalised}Z` : normalised);
  } else return null;
  return Number.isFinite(ms) && ms >= MIN_MS && ms <= MAX_MS ? ms : null;
}

export function parseMetrics(text: string | undefined): Metric[] {
  if (text === undefined || text === "all") return [...METRICS];
  const names = text.split(",").map((s) => s.trim());
  if (names.length === 0 || names.some((m) => !(METRICS as readonly string[]).includes(m))) {
    throw validationError("Invalid metric format");
  }
  return METRICS.filter((m) => names.includes(m));
}

/** The finest granularity that shows [fromMs, toMs] in at most AUTO_MAX_BUCKETS buckets. */
export function autoGranularity(fromMs: number, toMs: number): Granularity {
  for (const g of GRANULARITIES) if (bucketCount(g, fromMs, toMs) <= AUTO_MAX_BUCKETS) return g;
  return "week";
}

export function parseChartQuery(query: ChartQuery, now: Date): ChartRequest {
  const periodText = single(query.period, "Invalid period format");
  if (periodText !== undefined && !(periodText in PERIODS)) throw validationError("Invalid period format");
  const metrics = parseMetrics(single(query.metric, "Invalid metric format"));
  const granularityText = single(query.granularity, "Invalid granularity format");
  if (
    granularityText !== undefined &&
    granularityText !== "auto" &&
    !GRANULARITIES.includes(granularityText as Granularity)
  ) {
    throw validationError("Invalid granularity format");
  }

  // from/to win over startDate/endDate (upstream's names); either end alone is allowed.
  const instant = (name: "from" | "to" | "startDate" | "endDate"): number | undefined => {
    const text = single(query[name], "Invalid date format");
    if (text === undefined) return undefined;
    const ms = parseInstant(text);
    if (ms === null) throw validationError("Invalid date format");
    return ms;
  };
  const fromGiven = instant("from") ?? instant("startDate");
  const toGiven = instant("to") ?? instant("endDate");
  const explicit = fromGiven !== undefined || toGiven !== undefined;
  const period: Period = (periodText as Period | undefined) ?? DEFAULT_PERIOD;
  const toMs = toGiven ?? now.getTime();
  const fromMs = fromGiven ?? toMs - PERIODS[period] * DAY_MS;
  if (fromMs > toMs) throw validationError("Invalid date range");

  const granularity: Granularity =
    granularityText === undefined
      ? explicit
        ? autoGranularity(fromMs, toMs)
        : DEFAULT_GRANULARITY
      : granularityText === "auto"
        ? autoGranularity(fromMs, toMs)
        : (granularityText as Granularity);
  const buckets = bucketCount(granularity, fromMs, toMs);
  if (buckets > MAX_BUCKETS) {
    throw validationError(
      `Too many data points: ${buckets} ${granularity} buckets (at most ${MAX_BUCKETS}); choose a coarser granularity or a shorter range`,
    );
  }
  return {
    period: explicit ? "custom" : period,
    metrics,
    granularity,
    fromMs,
    toMs,
    startMs: bucketStartMs(granularity, fromMs),
    endMs: bucketEndMs(granularity, toMs),
  };
}

/** Start of the last bucket of a request (the roll-up key bound, inclusive). */
export const lastBucketStartMs = (req: ChartRequest): number => req.endMs - BUCKET_MS[req.granularity];
