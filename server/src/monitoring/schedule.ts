/**
 * Next-expected-run computation for overdue monitoring.
 *
 * `getNextBackupRunDate` is a port of upstream duplistatus'
 * `GetNextBackupRunDate`, itself a simplified port of Duplicati's
 * `Scheduler.GetNextValidTime`. Weekdays are UTC weekdays (0 = Sunday) and all
 * calendar arithmetic is UTC, so the host's time zone and its DST changes never
 * move a computed instant.
 *
 * Everything here is pure: callers pass `now` and the stored values in.
 */

import { daysInMonth } from "../ingest/dates";
import { memoByString } from "../core/memo-by-string";
import { addInterval, approxIntervalMs, areValidTokens, parseInterval, type IntervalToken } from "./interval";

/** Safety cap on interval additions, as upstream. */
const MAX_INTERVAL_STEPS = 50_000;
/** A weekday filter can need up to 6 single-day steps; upstream allows 8. */
const MAX_DAY_STEPS = 8;
/** Cap on the maintenance loop of `computeNextExpected`, as upstream. */
const MAX_MAINTENANCE_LOOPS = 1000;
const ONE_SECOND_MS = 1000;
const ONE_DAY_MS = 86_400_000;
const ALL_WEEKDAYS: readonly number[] = [0, 1, 2, 3, 4, 5, 6];

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

function requireDate(value: unknown, name: string): Date {
  if (!isValidDate(value)) throw new Error(`Invalid ${name} date`);
  return value;
}

/**
 * Parsed interval strings: every upload computes its job's next expected run from the job's interval, and a fleet
 * uses a handful of distinct intervals ("1D", "12h", "1W"…), so each is parsed once.
 */
const parsedInterval = memoByString((text): readonly IntervalToken[] => {
  const tokens = parseInterval(text);
  if (!tokens) throw new Error(`Invalid interval: "${text}"`);
  return tokens.map((t) => Object.freeze(t));
}, 256);

function requireTokens(interval: string | readonly IntervalToken[]): readonly IntervalToken[] {
  if (typeof interval === "string") return parsedInterval(interval);
  if (!areValidTokens(interval)) throw new Error("Invalid interval tokens");
  return interval;
}

function requireInRange(date: Date): Date {
  // Huge intervals ("9999999Y") push the date past the representable range.
  if (Number.isNaN(date.getTime())) throw new Error("Interval moved the date out of range");
  return date;
}

/**
 * The first run after `lastBackup` (strictly later than lastBackup + 1 s) on an
 * allowed UTC weekday, reached from `baseTime` by whole intervals — §5.1.
 *
 * - `baseTime` at/after the threshold on an allowed weekday is returned as is.
 * - Otherwise the interval is added until past the threshold (≤ 50 000 steps).
 * - If that lands on a disallowed weekday: intervals of a day or more (M = 30 d,
 *   Y = 365 d) step one UTC day at a time (≤ 8 days), keeping the time of day;
 *   shorter intervals keep adding the interval (≤ 50 000 steps).
 * - An empty weekday list means every day is allowed.
 *
 * Throws on an invalid date or interval, when no weekday in the list is 0–6,
 * or when a cap is hit. Upstream only parsed the interval after its early
 * return, so an invalid interval sometimes went unnoticed; here it always
 * throws, so a broken setting is reported instead of silently "working".
 */
export function getNextBackupRunDate(
  lastBackup: Date,
  baseTime: Date,
  interval: string | readonly IntervalToken[],
  allowedWeekDays: readonly number[],
): Date {
  const last = requireDate(lastBackup, "lastBackup");
  const base = requireDate(baseTime, "baseTime");
  const tokens = requireTokens(interval);

  const allowed = new Set(allowedWeekDays);
  const allDaysAllowed = allowedWeekDays.length === 0;
  if (!allDaysAllowed && !ALL_WEEKDAYS.some((d) => allowed.has(d))) {
    // Upstream would spin to its cap and throw; fail fast with the reason.
    throw new Error("allowedWeekDays contains no weekday between 0 (Sunday) and 6 (Saturday)");
  }
  const isAllowed = (d: Date): boolean => allDaysAllowed || allowed.has(d.getUTCDay());

  // "After the last backup" means at least one second later, as in Duplicati.
  const threshold = last.getTime() + ONE_SECOND_MS;
  // Clone: upstream mutated its candidate in place, which must not leak to callers.
  let candidate = new Date(base.getTime());

  if (candidate.getTime() >= threshold && isAllowed(candidate)) return candidate;

  let steps = 0;
  while (candidate.getTime() <= threshold && steps++ < MAX_INTERVAL_STEPS) {
    candidate = requireInRange(addInterval(candidate, tokens));
  }
  if (candidate.getTime() <= threshold) {
    throw new Error(`Could not get past the last backup within ${MAX_INTERVAL_STEPS} interval steps`);
  }

  if (isAllowed(candidate)) return candidate;

  if (approxIntervalMs(tokens) >= ONE_DAY_MS) {
    // Long intervals: move to the next allowed weekday, keeping the time of day.
    for (let i = 0; i < MAX_DAY_STEPS; i++) {
      // `candidate` is always our own copy here, so stepping it in place is safe.
      candidate.setUTCDate(candidate.getUTCDate() + 1);
      requireInRange(candidate);
      if (isAllowed(candidate)) return candidate;
    }
    throw new Error(`No allowed weekday found within ${MAX_DAY_STEPS} days`);
  }

  // Short intervals: the job runs many times a day, so the first run on an
  // allowed day is simply the next multiple of the interval that lands there.
  steps = 0;
  while (!isAllowed(candidate) && steps++ < MAX_INTERVAL_STEPS) {
    candidate = requireInRange(addInterval(candidate, tokens));
  }
  if (!isAllowed(candidate)) {
    throw new Error(`No allowed weekday found within ${MAX_INTERVAL_STEPS} interval steps`);
  }
  return candidate;
}

export type NextExpectedInput = {
  /** Date of the job's latest run. */
  latestRun: Date;
  /** Stored next expected run (`settings.time`), or null when there is none. */
  previousNext: Date | null;
  interval: string;
  allowedWeekDays: readonly number[];
};

/**
 * Maintenance step of §5.3: the next expected run after a new latest run,
 * keeping the schedule's UTC time of day.
 *
 * With t = previousNext (or latestRun when null / invalid):
 * - if t is after latestRun (the run came early, or the interval changed),
 *   t is moved to latestRun's UTC date with t's UTC time of day, and if that is
 *   still after latestRun, to latestRun itself;
 * - then t = getNextBackupRunDate(latestRun, t, …) while t ≤ latestRun.
 *
 * So expected 14:00 + late run at 22:00 → 14:00 the next day. As in upstream
 * code (not its docs' example 3), a run at 13:59 just before a 14:00 schedule
 * falls back to latestRun and the next expected run becomes 13:59 next day.
 * With previousNext null this equals getNextBackupRunDate(latest, latest, …).
 * Throws what getNextBackupRunDate throws (invalid interval, …).
 */
export function computeNextExpected(input: NextExpectedInput): Date {
  const latest = requireDate(input.latestRun, "latestRun");
  const latestMs = latest.getTime();
  const { interval, allowedWeekDays } = input;

  // Upstream kept an unparsable stored time as is; starting from the latest run
  // instead yields a usable schedule rather than propagating garbage.
  let t = isValidDate(input.previousNext) ? new Date(input.previousNext.getTime()) : new Date(latestMs);

  if (t.getTime() > latestMs) {
    // getNext would return a future t unchanged, so rebase it to a point at or
    // before the latest run that still carries the schedule's time of day.
    const rebased = new Date(latestMs);
    rebased.setUTCHours(t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds(), t.getUTCMilliseconds());
    t = rebased.getTime() <= latestMs ? rebased : new Date(latestMs);
  }

  let loops = 0;
  while (t.getTime() <= latestMs && loops < MAX_MAINTENANCE_LOOPS) {
    t = getNextBackupRunDate(latest, t, interval, allowedWeekDays);
    loops++;
  }
  if (loops >= MAX_MAINTENANCE_LOOPS) {
    // Unreachable in practice (getNext always returns a time after `latest`),
    // kept as upstream's fallback.
    t = getNextBackupRunDate(latest, latest, interval, allowedWeekDays);
  }
  return t;
}

/**
 * True when `now` is past the expected run plus the tolerance (strictly).
 * Works on epoch milliseconds, so a DST change in the host zone cannot shift
 * the tolerance window (upstream used local `setMinutes`). A negative or
 * non-finite tolerance counts as none, as upstream only added positive values.
 * Invalid dates are never overdue.
 */
export function isOverdue(nextExpected: Date, toleranceMinutes: number, now: Date): boolean {
  if (!isValidDate(nextExpected) || !isValidDate(now)) return false;
  const tolerance = Number.isFinite(toleranceMinutes) && toleranceMinutes > 0 ? toleranceMinutes : 0;
  return now.getTime() > nextExpected.getTime() + tolerance * 60_000;
}

/** Date.UTC with range checks, so "20250230T…" is rejected instead of rolling over. */
function utcFromParts(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): Date | null {
  if (month < 1 || month > 12) return null;
  if (day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const date = new Date(0);
  // setUTCFullYear avoids Date.UTC's mapping of years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return isValidDate(date) ? date : null;
}

/** Duplicati's compact UTC form, e.g. "20251121T223000Z". */
const DUPLICATI_COMPACT_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/i;
/** ISO 8601 extended form; date-only and offset-less forms are allowed. */
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

function parseOffsetMinutes(offset: string | undefined): number | null {
  if (!offset || offset.toUpperCase() === "Z") return 0;
  const match = /^([+-])(\d{2}):?(\d{2})?$/.exec(offset);
  if (!match) return null;
  const hours = Number(match[2]);
  const minutes = Number(match[3] ?? "0");
  if (hours > 23 || minutes > 59) return null;
  return (match[1] === "-" ? -1 : 1) * (hours * 60 + minutes);
}

/**
 * Parses Duplicati's `Extra["next-scheduled-run"]` ("yyyyMMddTHHmmssZ"), or an
 * ISO 8601 string as found in `Schedule.Time`. A valid Date is cloned.
 *
 * A time without an offset is read as UTC, not in the host's zone: Duplicati
 * reports UTC, and the result must not depend on where duplistatus runs.
 * Impossible dates (Feb 30, hour 24) and anything else → null.
 */
export function parseNextScheduledRun(value: unknown): Date | null {
  if (value instanceof Date) return isValidDate(value) ? new Date(value.getTime()) : null;
  if (typeof value !== "string") return null;
  const text = value.trim();

  const compact = DUPLICATI_COMPACT_RE.exec(text);
  if (compact) {
    const [, y, mo, d, h, mi, s] = compact;
    return utcFromParts(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), 0);
  }

  const iso = ISO_RE.exec(text);
  if (!iso) return null;
  const [, y, mo, d, h, mi, s, fraction, offset] = iso;
  const offsetMinutes = parseOffsetMinutes(offset);
  if (offsetMinutes === null) return null;
  const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, "0")) : 0;
  const local = utcFromParts(
    Number(y),
    Number(mo),
    Number(d),
    Number(h ?? "0"),
    Number(mi ?? "0"),
    Number(s ?? "0"),
    ms,
  );
  if (!local) return null;
  const result = new Date(local.getTime() - offsetMinutes * 60_000);
  return isValidDate(result) ? result : null;
}

const WEEKDAY_BY_NAME: Readonly<Record<string, number>> = {
  sunday: 0,
  sun: 0,
  monday: 1,
  mon: 1,
  tuesday: 2,
  tue: 2,
  wednesday: 3,
  wed: 3,
  thursday: 4,
  thu: 4,
  friday: 5,
  fri: 5,
  saturday: 6,
  sat: 6,
};

function weekdaysFromNames(names: readonly unknown[]): number[] {
  const days = new Set<number>();
  for (const name of names) {
    if (typeof name !== "string") continue;
    const day = WEEKDAY_BY_NAME[name.trim().toLowerCase()];
    if (day !== undefined) days.add(day);
  }
  return [...days].sort((a, b) => a - b);
}

/**
 * Allowed UTC weekdays (0 = Sunday, sorted, unique) from Duplicati's
 * `Schedule.Rule`, e.g. "AllowedWeekDays=Monday,Tuesday". Full names and
 * three-letter abbreviations are accepted in any case; unknown names are
 * skipped. The rule may hold other `;`-separated clauses. A bare day list
 * ("mon,tue") and an array such as `Schedule.AllowedDays` are accepted too.
 * No recognisable day → every day, as upstream.
 */
export function parseAllowedWeekDays(rule: unknown): number[] {
  let names: unknown[] = [];
  if (Array.isArray(rule)) {
    names = rule;
  } else if (typeof rule === "string") {
    const clause = /(?:^|;)\s*AllowedWeekDays\s*=([^;]*)/i.exec(rule);
    names = (clause ? (clause[1] ?? "") : rule).split(",");
  }
  const days = weekdaysFromNames(names);
  return days.length > 0 ? days : [...ALL_WEEKDAYS];
}
