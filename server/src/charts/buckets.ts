import type { TimeBucket } from "../db/dialect";

/**
 * Bucket arithmetic in UTC, in JavaScript: what the ingest path uses to find a new run's buckets, and what the
 * request parser uses to widen a range to whole buckets. It must agree with the SQL of `bucketStartSql`
 * (db/dialect.ts); test/unit/chart-buckets.spec.ts checks the two against each other.
 */

export type Granularity = TimeBucket;

export const GRANULARITIES: readonly Granularity[] = ["minute", "hour", "day", "week"];

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Length of a bucket (all UTC buckets are fixed-length: no DST, and no leap seconds in JavaScript time). */
export const BUCKET_MS: Readonly<Record<Granularity, number>> = {
  minute: MINUTE_MS,
  hour: HOUR_MS,
  day: DAY_MS,
  week: 7 * DAY_MS,
};

const floorTo = (ms: number, step: number): number => Math.floor(ms / step) * step;

/** Start (epoch ms) of the bucket containing `ms`. Weeks start on Monday 00:00 UTC. */
export function bucketStartMs(granularity: Granularity, ms: number): number {
  if (granularity !== "week") return floorTo(ms, BUCKET_MS[granularity]);
  const day = Math.floor(ms / DAY_MS);
  // Day 0 (1970-01-01) was a Thursday: three days after a Monday.
  const sinceMonday = (((day + 3) % 7) + 7) % 7;
  return (day - sinceMonday) * DAY_MS;
}

/** Start of the bucket after the one containing `ms` (the exclusive end of that bucket). */
export function bucketEndMs(granularity: Granularity, ms: number): number {
  return bucketStartMs(granularity, ms) + BUCKET_MS[granularity];
}

/** The bucket start of an ISO-8601 timestamp, as the ISO text the roll-up tables are keyed by. */
export function bucketStartIso(granularity: Granularity, iso: string): string {
  return new Date(bucketStartMs(granularity, Date.parse(iso))).toISOString();
}

/** Number of buckets of `granularity` that a range [fromMs, toMs] touches. */
export function bucketCount(granularity: Granularity, fromMs: number, toMs: number): number {
  return Math.round((bucketEndMs(granularity, toMs) - bucketStartMs(granularity, fromMs)) / BUCKET_MS[granularity]);
}
