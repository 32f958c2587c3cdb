/**
 * Expected-interval strings for overdue monitoring, and the overdue tolerance
 * setting.
 *
 * An interval is written the way Duplicati writes `Schedule.Repeat`:
 * concatenated `<int><unit>` tokens such as "1D", "12h", "1W" or "1D2h30m".
 * Units are case-sensitive because `m` (minutes) and `M` (months) differ:
 *   s seconds, m minutes, h hours, D days, W weeks, M months, Y years.
 * A bare integer ("3600") means seconds, as in Duplicati.
 *
 * Everything here is pure: no I/O, no clock, no process time zone.
 */

export type IntervalUnit = "s" | "m" | "h" | "D" | "W" | "M" | "Y";

export type IntervalToken = { amount: number; unit: IntervalUnit };

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * Length of one unit in milliseconds for the approximate duration only. Months
 * and years are calendar steps in `addInterval`; the fixed 30/365 days are what
 * upstream uses to decide whether an interval is "at least a day".
 */
const APPROX_UNIT_MS: Record<IntervalUnit, number> = {
  s: SECOND_MS,
  m: MINUTE_MS,
  h: HOUR_MS,
  D: DAY_MS,
  W: 7 * DAY_MS,
  M: 30 * DAY_MS,
  Y: 365 * DAY_MS,
};

const UNITS: readonly IntervalUnit[] = ["s", "m", "h", "D", "W", "M", "Y"];

function isIntervalUnit(value: unknown): value is IntervalUnit {
  return typeof value === "string" && (UNITS as readonly string[]).includes(value);
}

function isValidAmount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** Whole string must be tokens; upstream's parser skipped junk between them. */
const TOKENS_RE = /^(?:\d+[smhDWMY])+$/;
const TOKEN_RE = /(\d+)([smhDWMY])/g;

/**
 * Parses an interval string into tokens, in written order.
 *
 * Returns null for anything upstream's validator rejects, and also for a zero
 * total ("0", "0s"), which upstream accepted but which can never advance a
 * date (its scheduler would spin 50 000 times and then throw). Like upstream's
 * validator, a zero-valued token inside a longer string ("1D0h") is rejected.
 * Whitespace anywhere is ignored so that "1D 2h" and " 12h " are accepted.
 */
export function parseInterval(text: string): IntervalToken[] | null {
  // Configuration values come from JSON, so guard against non-strings at runtime.
  if (typeof text !== "string") return null;
  const compact = text.replace(/\s+/g, "");
  if (compact.length === 0) return null;

  if (/^\d+$/.test(compact)) {
    const seconds = Number(compact);
    return isValidAmount(seconds) ? [{ amount: seconds, unit: "s" }] : null;
  }

  if (!TOKENS_RE.test(compact)) return null;

  const tokens: IntervalToken[] = [];
  for (const match of compact.matchAll(TOKEN_RE)) {
    const amount = Number(match[1]);
    const unit = match[2];
    if (!isValidAmount(amount) || !isIntervalUnit(unit)) return null;
    tokens.push({ amount, unit });
  }
  return tokens.length > 0 ? tokens : null;
}

/** True when `parseInterval` accepts the text. */
export function isValidInterval(text: unknown): boolean {
  return typeof text === "string" && parseInterval(text) !== null;
}

/** True when every token has a known unit and a positive integer amount. */
export function areValidTokens(tokens: unknown): tokens is IntervalToken[] {
  return (
    Array.isArray(tokens) &&
    tokens.length > 0 &&
    tokens.every(
      (t) =>
        typeof t === "object" &&
        t !== null &&
        isValidAmount((t as { amount?: unknown }).amount) &&
        isIntervalUnit((t as { unit?: unknown }).unit),
    )
  );
}

/** Canonical text of tokens, e.g. [{1,D},{2,h}] → "1D2h". */
export function formatInterval(tokens: readonly IntervalToken[]): string {
  return tokens.map((t) => `${t.amount}${t.unit}`).join("");
}

/**
 * Adds the interval to a date and returns a new Date.
 *
 * Tokens are applied in written order, so "1M1D" and "1D1M" can differ.
 * s/m/h are exact milliseconds. D/W/M/Y are calendar steps on the **UTC**
 * calendar: using local setters would move the UTC instant by an hour whenever
 * the process time zone crosses a DST change, and Duplicati reports times in
 * UTC. A day is therefore always 24 h here, whatever the host's zone.
 *
 * Month and year steps use `setUTCMonth` / `setUTCFullYear` exactly as
 * upstream does, including JavaScript's overflow at month ends: Jan 31 + 1M is
 * "Feb 31", which rolls over to Mar 3 (Mar 2 in a leap year), and Feb 29 + 1Y
 * becomes Mar 1. We keep that rather than clamping so that stored next-run
 * times match what upstream computed for the same data.
 *
 * A result outside the Date range is an Invalid Date; callers check for it.
 */
export function addInterval(date: Date, tokens: readonly IntervalToken[]): Date {
  const result = new Date(date.getTime());
  for (const { amount, unit } of tokens) {
    switch (unit) {
      case "s":
        result.setTime(result.getTime() + amount * SECOND_MS);
        break;
      case "m":
        result.setTime(result.getTime() + amount * MINUTE_MS);
        break;
      case "h":
        result.setTime(result.getTime() + amount * HOUR_MS);
        break;
      case "D":
        result.setUTCDate(result.getUTCDate() + amount);
        break;
      case "W":
        result.setUTCDate(result.getUTCDate() + amount * 7);
        break;
      case "M":
        result.setUTCMonth(result.getUTCMonth() + amount);
        break;
      case "Y":
        result.setUTCFullYear(result.getUTCFullYear() + amount);
        break;
    }
  }
  return result;
}

/**
 * Approximate length in milliseconds (M = 30 days, Y = 365 days). Only good for
 * comparisons such as "is this at least a day?", never for date arithmetic.
 * Integer milliseconds avoid upstream's float sum in days, where "23h60m"
 * came out a hair under one day.
 */
export function approxIntervalMs(tokens: readonly IntervalToken[]): number {
  return tokens.reduce((sum, t) => sum + t.amount * APPROX_UNIT_MS[t.unit], 0);
}

/** Units of the legacy `{expectedInterval: <number>, intervalUnit}` format. */
const LEGACY_UNIT_STEPS: Record<"hour" | "day", ReadonlyArray<readonly [IntervalUnit, number]>> = {
  day: [
    ["D", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ],
  hour: [
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ],
};

function toLegacyNumber(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && /^\s*\d+(?:\.\d+)?\s*$/.test(value)) return Number(value);
  return null;
}

/**
 * Converts an interval found in stored settings to the current string format.
 *
 * - Legacy pre-string settings `{expectedInterval: 24, intervalUnit: "hour"}`
 *   (pass the object, or the two fields separately) become "24h"; days become
 *   "<n>D", as upstream's `convertLegacyToNew` does. A fractional legacy value,
 *   which upstream would have written as an unparsable "1.5h", is expressed in
 *   the largest unit that keeps it whole ("90m"); below a second → null.
 * - A current-format string with no legacy unit is validated and returned in
 *   canonical form ("1D 2h" → "1D2h").
 * - Anything else (unknown unit, non-positive, garbage) → null, so the caller
 *   can fall back to the default "1D".
 */
export function migrateLegacyInterval(value: unknown, unit?: unknown): string | null {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const legacy = value as {
      expectedInterval?: unknown;
      intervalUnit?: unknown;
    };
    return migrateLegacyInterval(legacy.expectedInterval, legacy.intervalUnit);
  }

  if (unit === undefined || unit === null) {
    if (typeof value !== "string") return null;
    const tokens = parseInterval(value);
    return tokens ? formatInterval(tokens) : null;
  }

  const unitKey = typeof unit === "string" ? unit.trim().toLowerCase() : "";
  if (unitKey !== "hour" && unitKey !== "day") return null;

  const amount = toLegacyNumber(value);
  if (amount === null || amount <= 0) return null;

  const steps = LEGACY_UNIT_STEPS[unitKey];
  const totalSeconds = amount * (steps[0]?.[1] ?? 1);
  for (const [stepUnit, stepSeconds] of steps) {
    const count = totalSeconds / stepSeconds;
    const rounded = Math.round(count);
    // Tolerance absorbs float noise such as 0.1 * 3600 = 360.00000000000006.
    if (rounded > 0 && Math.abs(count - rounded) < 1e-6 && Number.isSafeInteger(rounded)) {
      return `${rounded}${stepUnit}`;
    }
  }
  return null;
}

/** Overdue tolerance keys stored in `overdue_tolerance`, in UI order. */
export const TOLERANCE_KEYS = ["no_tolerance", "5min", "15min", "30min", "1h", "2h", "4h", "6h", "12h", "1d"] as const;

export type ToleranceKey = (typeof TOLERANCE_KEYS)[number];

/** Grace period added to the expected run before a job counts as overdue. */
export const TOLERANCE_MINUTES: Record<ToleranceKey, number> = {
  no_tolerance: 0,
  "5min": 5,
  "15min": 15,
  "30min": 30,
  "1h": 60,
  "2h": 120,
  "4h": 240,
  "6h": 360,
  "12h": 720,
  "1d": 1440,
};

/** Human labels, as used in upstream notifications. */
export const TOLERANCE_LABELS: Record<ToleranceKey, string> = {
  no_tolerance: "No tolerance",
  "5min": "5 min",
  "15min": "15 min",
  "30min": "30 min",
  "1h": "1 hour",
  "2h": "2 hours",
  "4h": "4 hours",
  "6h": "6 hours",
  "12h": "12 hours",
  "1d": "1 day",
};

/** Upstream code default (its user docs say 1 hour; the code is what runs). */
export const DEFAULT_TOLERANCE: ToleranceKey = "2h";

export function isToleranceKey(value: unknown): value is ToleranceKey {
  return typeof value === "string" && (TOLERANCE_KEYS as readonly string[]).includes(value);
}

/** Stored value → key; unknown or missing values fall back to the default, as upstream. */
export function resolveTolerance(value: unknown): ToleranceKey {
  return isToleranceKey(value) ? value : DEFAULT_TOLERANCE;
}
