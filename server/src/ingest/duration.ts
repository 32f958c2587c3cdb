// Duplicati reports run durations as a .NET TimeSpan in the constant ("c") format:
// `[-][d.]hh:mm:ss[.fffffff]`, e.g. "00:38:31.6018052" or, past 24 h, "1.02:03:04.5000000".
// The original duplistatus split on ":" only and so read the day part as a fraction of an hour
// ("1.02:03:04.5" → 3856.5 s); here the day part is honoured.

const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;
const SECONDS_PER_DAY = 86400;

// Groups: sign, days, hours, minutes, whole seconds, fraction digits.
// Hours are unbounded in the pattern so that a lenient "25:00:00" (no day part) still parses;
// the range checks below enforce the constant format's limits where they apply.
const TIMESPAN_PATTERN = /^(-)?(?:(\d+)\.)?(\d+):(\d{1,2}):(\d{1,2})(?:\.(\d+))?$/;

/**
 * Seconds in a Duplicati duration, keeping the fraction, or null when the value is negative or
 * unparsable. A finite non-negative number is taken as already being seconds. A bare numeric
 * string is rejected: .NET reads "432" as 432 days, so guessing seconds would be wrong either way.
 */
export function parseDurationToSeconds(value: unknown): number | null {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? value : null;
  }
  if (typeof value !== "string") return null;
  return parseTimeSpan(value.trim());
}

function parseTimeSpan(text: string): number | null {
  const match = TIMESPAN_PATTERN.exec(text);
  if (!match) return null;
  const [, sign, daysText, hoursText, minutesText, secondsText, fractionText] = match;
  if (sign !== undefined) return null;
  if (hoursText === undefined || minutesText === undefined || secondsText === undefined) return null;

  const days = daysText === undefined ? 0 : Number(daysText);
  const hours = Number(hoursText);
  const minutes = Number(minutesText);
  const seconds = Number(secondsText);
  if (minutes >= 60 || seconds >= 60) return null;
  if (daysText !== undefined && hours >= 24) return null;

  const wholeSeconds = days * SECONDS_PER_DAY + hours * SECONDS_PER_HOUR + minutes * SECONDS_PER_MINUTE + seconds;
  if (!Number.isSafeInteger(wholeSeconds)) return null;
  if (fractionText === undefined) return wholeSeconds;
  // Re-assemble the decimal text and parse it once: the result is the double nearest to the
  // exact value (2311.6018052 stays 2311.6018052), which summing floats would not guarantee.
  return Number.parseFloat(`${wholeSeconds}.${fractionText}`);
}

/** "HH:MM:SS" with the seconds floored and hours not wrapped at 24 (93784.5 → "26:03:04"). */
export function formatDurationHHMMSS(seconds: number): string {
  const total = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
  const hours = Math.floor(total / SECONDS_PER_HOUR);
  const minutes = Math.floor((total % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE);
  const secs = total % SECONDS_PER_MINUTE;
  return `${pad2(hours)}:${pad2(minutes)}:${pad2(secs)}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}
