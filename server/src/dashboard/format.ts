/** Small presentation helpers of the dashboard and detail views. Pure: callers pass `now`. */

/** "2025-06-14" → "14/06/2025" (the original's chart `date` label). */
export function dayLabel(day: string): string {
  const [y, m, d] = day.split("-");
  return `${d ?? ""}/${m ?? ""}/${y ?? ""}`;
}

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ["year", 365 * 86_400_000],
  ["month", 30 * 86_400_000],
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
];

/**
 * Relative time of `target` seen from `now`, in the largest whole unit: "in 3 hours", "2 days ago",
 * "less than a minute ago". Used for `expectedBackupElapsed`.
 */
export function relativeTime(target: Date, now: Date): string {
  const diff = target.getTime() - now.getTime();
  const abs = Math.abs(diff);
  const future = diff > 0;
  for (const [unit, ms] of UNITS) {
    if (abs >= ms) {
      const n = Math.floor(abs / ms);
      const text = `${n} ${unit}${n === 1 ? "" : "s"}`;
      return future ? `in ${text}` : `${text} ago`;
    }
  }
  return future ? "in less than a minute" : "less than a minute ago";
}

/** Start of the UTC day `days - 1` days before `now`, as ISO: the first instant of an N-day window ending today. */
export function windowStart(now: Date, days: number): string {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  start.setUTCDate(start.getUTCDate() - (days - 1));
  return start.toISOString();
}
