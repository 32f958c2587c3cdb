import {
  CHAR_0,
  CHAR_COLON,
  CHAR_DASH,
  CHAR_DOT,
  CHAR_T,
  CHAR_Z,
  MS_PER_DAY,
  MS_PER_HOUR,
  MS_PER_MINUTE,
  MS_PER_SECOND,
  digitsAt,
} from "./text-scan";

/**
 * Dates as Duplicati writes them: ISO 8601 with up to 7 fractional digits (.NET ticks), with `Z`, an offset, or no
 * zone at all (`0001-01-01T00:00:00` for "never"). A missing zone is read as UTC, which is what Duplicati means by
 * it and what keeps the result independent of this server's TZ.
 */
const ISO_LIKE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Largest time value a Date can hold (ECMAScript's TimeClip), in either direction. */
const MAX_DATE_MS = 8.64e15;

/**
 * parseReportDate as epoch milliseconds, without the Date object (the ingest hot path only needs the number and
 * its ISO string, see isoString below).
 */
export function parseReportDateMs(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const text = value.trim();
  if (isPlainUtcTimestamp(text)) {
    // Read by position; ISO_LIKE would capture the same fields (see isPlainUtcTimestamp).
    const year = digitsAt(text, 0, 4);
    const month = digitsAt(text, 5, 2);
    const day = digitsAt(text, 8, 2);
    const hour = digitsAt(text, 11, 2);
    const minute = digitsAt(text, 14, 2);
    const second = digitsAt(text, 17, 2);
    return epochOrNull(year, month, day, hour, minute, second, text.length > 20 ? text.slice(20, -1) : "", 0);
  }
  const m = ISO_LIKE.exec(text);
  if (!m) return null;
  const year = digitsValue(m[1] as string);
  const month = digitsValue(m[2] as string);
  const day = digitsValue(m[3] as string);
  const hour = digitsValue(m[4] ?? "0");
  const minute = digitsValue(m[5] ?? "0");
  const second = digitsValue(m[6] ?? "0");
  const zone = m[8] ?? "Z";
  let offsetMinutes = 0;
  if (zone !== "Z" && zone !== "z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0"));
  }
  return epochOrNull(year, month, day, hour, minute, second, m[7] ?? "", offsetMinutes);
}

/** The checks and arithmetic shared by both ways of reading a date. */
function epochOrNull(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  fraction: string,
  offsetMinutes: number,
): number | null {
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  if (day > daysInMonth(year, month)) return null; // 31 February and friends
  // utcEpochMs, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999, and Duplicati's "never" is year 1.
  const epoch =
    utcEpochMs(year, month, day, hour, minute, second, fractionMs(fraction)) - offsetMinutes * MS_PER_MINUTE;
  return Math.abs(epoch) <= MAX_DATE_MS ? epoch : null;
}

/**
 * Whether `text` has the form Duplicati writes, `yyyy-MM-ddTHH:mm:ss[.f…]Z`. Such a text matches ISO_LIKE with
 * exactly these fields and zone Z, so it can be read without the regular expression and its eight captures, which
 * cost more than everything else here.
 */
function isPlainUtcTimestamp(text: string): boolean {
  const length = text.length;
  if (length < 20 || text.charCodeAt(length - 1) !== CHAR_Z) return false;
  if (text.charCodeAt(4) !== CHAR_DASH || text.charCodeAt(7) !== CHAR_DASH || text.charCodeAt(10) !== CHAR_T)
    return false;
  if (text.charCodeAt(13) !== CHAR_COLON || text.charCodeAt(16) !== CHAR_COLON) return false;
  if (length > 20 && (length === 21 || text.charCodeAt(19) !== CHAR_DOT || digitsAt(text, 20, length - 21) < 0)) {
    return false;
  }
  return (
    digitsAt(text, 0, 4) >= 0 &&
    digitsAt(text, 5, 2) >= 0 &&
    digitsAt(text, 8, 2) >= 0 &&
    digitsAt(text, 11, 2) >= 0 &&
    digitsAt(text, 14, 2) >= 0 &&
    digitsAt(text, 17, 2) >= 0
  );
}

/** Milliseconds of a fraction of a second given by its digits, rounded down: floor(Number(`0.${digits}`) * 1000). */
function fractionMs(digits: string): number {
  if (digits.length === 0) return 0;
  // The first three digits, without parsing a decimal: for up to 15 digits the double nearest to 0.ddd… times
  // 1000 errs by less than 3e-13, and the exact value is either a whole number of milliseconds (then both agree,
  // checked for all 1000) or at least 1e-12 away from one, so the floor is the same. Longer fractions keep the
  // original formula (there rounding can reach the next millisecond).
  if (digits.length > 15) return Math.floor(Number(`0.${digits}`) * 1000);
  return digits.length >= 3 ? digitsAt(digits, 0, 3) : digitsValue(digits.padEnd(3, "0"));
}

export function parseReportDate(value: unknown): Date | null {
  const epoch = parseReportDateMs(value);
  return epoch === null ? null : new Date(epoch);
}

export function toIsoOrNull(value: unknown): string | null {
  const epoch = parseReportDateMs(value);
  return epoch === null ? null : isoString(epoch);
}

// UTC calendar arithmetic for the ingest hot path. Every upload turns a dozen dates into epochs and back into ISO
// strings; Date's setters and toISOString are C++ builtins that cost about a microsecond per call on the benchmark
// machine, several times what the arithmetic below does. The results are exactly Date's: proleptic Gregorian
// calendar, year 0 included. It lives in this module, next to its main user, because calls across modules cost
// extra: under tsx an imported function is read through getters on every call.

/** Days from 0000-03-01 (the start of a 400-year era as counted below) to 1970-01-01. */
const DAYS_0000_03_01_TO_EPOCH = 719_468;
const DAYS_PER_ERA = 146_097;
/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the range toISOString prints with four-digit years. */
const MIN_FOUR_DIGIT_YEAR_MS = -62_167_219_200_000;
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Days in `month` (1–12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? Number.NaN);
}

/**
 * Days since 1970-01-01 of a valid calendar date (Howard Hinnant's days_from_civil: years are counted from March so
 * that the leap day ends the year, and in 400-year eras, which repeat exactly).
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * DAYS_PER_ERA + dayOfEra - DAYS_0000_03_01_TO_EPOCH;
}

/**
 * Epoch milliseconds of a UTC wall-clock time whose fields are already in range (callers check them); unlike
 * Date.UTC, years 0–99 are not moved to 1900–1999.
 */
export function utcEpochMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms = 0,
): number {
  return (
    daysFromCivil(year, month, day) * MS_PER_DAY +
    hour * MS_PER_HOUR +
    minute * MS_PER_MINUTE +
    second * MS_PER_SECOND +
    ms
  );
}

/**
 * `new Date(epochMs).toISOString()`, computed without the Date: same truncation of fractional milliseconds, and
 * Date itself for what it prints differently (years outside 0000–9999 as ±YYYYYY) or rejects (NaN, out of range).
 */
export function isoString(epochMs: number): string {
  const t = Math.trunc(epochMs);
  if (!(t >= MIN_FOUR_DIGIT_YEAR_MS && t <= MAX_FOUR_DIGIT_YEAR_MS)) return new Date(epochMs).toISOString();
  const days = Math.floor(t / MS_PER_DAY);
  let rest = t - days * MS_PER_DAY;
  // civil_from_days, the inverse of daysFromCivil.
  const z = days + DAYS_0000_03_01_TO_EPOCH;
  const era = Math.floor(z / DAYS_PER_ERA);
  const dayOfEra = z - era * DAYS_PER_ERA;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rest / MS_PER_HOUR);
  rest -= hour * MS_PER_HOUR;
  const minute = Math.floor(rest / MS_PER_MINUTE);
  rest -= minute * MS_PER_MINUTE;
  const second = Math.floor(rest / MS_PER_SECOND);
  const ms = rest - second * MS_PER_SECOND;
  // One flat string from character codes: concatenating the thirteen pieces would build a tree of cons strings
  // that has to be flattened again as soon as the text is used.
  return String.fromCharCode(
    CHAR_0 + Math.floor(year / 1000),
    CHAR_0 + (Math.floor(year / 100) % 10),
    CHAR_0 + (Math.floor(year / 10) % 10),
    CHAR_0 + (year % 10),
    CHAR_DASH,
    CHAR_0 + Math.floor(month / 10),
    CHAR_0 + (month % 10),
    CHAR_DASH,
    CHAR_0 + Math.floor(day / 10),
    CHAR_0 + (day % 10),
    CHAR_T,
    CHAR_0 + Math.floor(hour / 10),
    CHAR_0 + (hour % 10),
    CHAR_COLON,
    CHAR_0 + Math.floor(minute / 10),
    CHAR_0 + (minute % 10),
    CHAR_COLON,
    CHAR_0 + Math.floor(second / 10),
    CHAR_0 + (second % 10),
    CHAR_DOT,
    CHAR_0 + Math.floor(ms / 100),
    CHAR_0 + (Math.floor(ms / 10) % 10),
    CHAR_0 + (ms % 10),
    CHAR_Z,
  );
}

/** Value of a run of ASCII digits, as a regular expression's `\d` captured it (Number() is slower on "06"). */
export function digitsValue(digits: string): number {
  return digitsAt(digits, 0, digits.length);
}
