// "Available versions" of a backup job, read from Duplicati's retention-policy log lines:
//
//   2025-06-14 02:38:01 +01 - [Information-…:RetentionPolicy-BackupList]: Backups to consider: 14/06/2025 02:00:00, …
//   2025-06-14 02:38:01 +01 - [Information-…:RetentionPolicy-AllBackupsToDelete]: All backups to delete: 14/05/2025 02:00:04
//
// Result = considered − deleted, newest first, as ISO 8601 UTC strings with milliseconds.
// The listed timestamps are printed in the Duplicati machine's culture and local time. The original
// duplistatus read them in its own time zone; we use the UTC offset that Duplicati prints at the start
// of the same log line, and fall back to a configured IANA zone (or the process zone) without one.

import { daysInMonth, digitsValue, isoString, utcEpochMs } from "./dates";
import {
  CHAR_0,
  CHAR_9,
  CHAR_COLON,
  CHAR_DASH,
  CHAR_DOT,
  CHAR_PLUS,
  CHAR_SLASH,
  CHAR_SPACE,
  CHAR_T,
  MS_PER_DAY,
  MS_PER_MINUTE,
  digitsAt,
} from "./text-scan";

const CONSIDER_MARKER = "Backups to consider:";
const DELETE_MARKER = "All backups to delete:";
// Starts with a letter that is rare in log lines, which is what makes a substring search cheap.
const MARKERS_SHARED = "kups to ";

const MIN_YEAR = 1900;
const MAX_YEAR = 2100;
const MAX_OFFSET_MINUTES = 14 * 60;

/** Length of `dd/MM/yyyy HH:mm:ss` and `yyyy-MM-dd HH:mm:ss`, see parseFixedWidthStamp. */
const FIXED_WIDTH = 19;

/**
 * A list found after one of the markers, `text` from `start` to `end`, with the UTC offset of the
 * log line it came from. Positions rather than a slice: the fixed-width timestamps are read in
 * place (see parseStamps).
 */
interface MarkedList {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly offsetMinutes: number | null;
}

/** Calendar fields as printed, before the day/month order of slash dates is decided. */
interface RawStamp {
  readonly year: number;
  /** For year-first dates: month then day. Otherwise the two numbers in printed order. */
  readonly first: number;
  readonly second: number;
  readonly order: "ymd" | "dmy" | "slash";
  readonly hasMeridiem: boolean;
  readonly hour: number;
  readonly minute: number;
  readonly secondOfMinute: number;
}

interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

type SlashOrder = "day-first" | "month-first" | null;
type WallClockToEpoch = (wall: WallClock) => number;

/**
 * Versions listed by the last "Backups to consider:" line minus those of the last "All backups to
 * delete:" line, newest first. Non-string entries are skipped; a non-array input yields [] except a
 * plain string, which is read as text (upstream's fallback for non-JSON message text).
 */
export function extractAvailableVersions(lines: readonly unknown[] | null | undefined, timeZone?: string): string[] {
  const { consider, toDelete } = findLastLists(asEntries(lines));
  if (consider === null) return [];

  const considerStamps = parseStamps(consider);
  const deleteStamps = toDelete === null ? [] : parseStamps(toDelete);
  // Both lists come from the same machine and culture, and the deletions are a subset of the
  // considered versions, so one order decision must cover both or the subtraction would miss.
  const slashOrder = detectSlashOrder(considerStamps, deleteStamps);

  const considered = toEpochs(considerStamps, slashOrder, consider.offsetMinutes, timeZone);
  const deleted = new Set(
    toDelete === null ? [] : toEpochs(deleteStamps, slashOrder, toDelete.offsetMinutes, timeZone),
  );
  // Newest first, each version once: after sorting, duplicates are neighbours.
  const versions: string[] = [];
  let previous: number | undefined;
  for (const epoch of considered.sort((a, b) => b - a)) {
    if (epoch === previous) continue;
    previous = epoch;
    if (!deleted.has(epoch)) versions.push(isoString(epoch));
  }
  return versions;
}

/**
 * Minutes east of UTC from Duplicati's log-line prefix `yyyy-MM-dd HH:mm:ss ±HH[[:]MM]`
 * (e.g. "+01", "-05:30", "+0200"), or null when the line does not start with one.
 */
export function logLineOffsetMinutes(line: string): number | null {
  const plain = plainPrefixOffsetMinutes(line);
  if (plain !== undefined) return plain;
  const match = LOG_PREFIX_PATTERN.exec(line);
  if (!match) return null;
  const [, sign, hoursText, minutesText] = match;
  const hours = Number(hoursText);
  const minutes = minutesText === undefined ? 0 : Number(minutesText);
  if (minutes >= 60) return null;
  const total = hours * 60 + minutes;
  if (total > MAX_OFFSET_MINUTES) return null;
  return sign === "-" ? -total : total;
}

// The lookahead makes sure the whole offset was consumed ("+012" is not "+01" followed by junk).
const LOG_PREFIX_PATTERN =
  /^\s*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+([+-])(\d{2})(?::?(\d{2}))?(?![\d:])/;

/**
 * logLineOffsetMinutes for the prefix Duplicati writes by default, `yyyy-MM-dd HH:mm:ss ±HH` and
 * then neither a digit nor a colon, read by position (LOG_PREFIX_PATTERN matches such a line the
 * same way, with no minutes); undefined for any other line.
 */
function plainPrefixOffsetMinutes(line: string): number | null | undefined {
  const sign = line.charCodeAt(20);
  if ((sign !== CHAR_PLUS && sign !== CHAR_DASH) || line.charCodeAt(19) !== CHAR_SPACE) return undefined;
  const after = line.charCodeAt(23);
  if ((after >= CHAR_0 && after <= CHAR_9) || after === CHAR_COLON) return undefined;
  const hours = digitsAt(line, 21, 2);
  if (hours < 0 || !isPlainDateTimeAt(line, 0)) return undefined;
  const total = hours * 60;
  if (total > MAX_OFFSET_MINUTES) return null;
  return sign === CHAR_DASH ? -total : total;
}

/** Whether `text` holds `yyyy-MM-dd HH:mm:ss` (or with `T`) at `at`. */
function isPlainDateTimeAt(text: string, at: number): boolean {
  const separator = text.charCodeAt(at + 10);
  return (
    digitsAt(text, at, 4) >= 0 &&
    text.charCodeAt(at + 4) === CHAR_DASH &&
    digitsAt(text, at + 5, 2) >= 0 &&
    text.charCodeAt(at + 7) === CHAR_DASH &&
    digitsAt(text, at + 8, 2) >= 0 &&
    (separator === CHAR_SPACE || separator === CHAR_T) &&
    digitsAt(text, at + 11, 2) >= 0 &&
    text.charCodeAt(at + 13) === CHAR_COLON &&
    digitsAt(text, at + 14, 2) >= 0 &&
    text.charCodeAt(at + 16) === CHAR_COLON &&
    digitsAt(text, at + 17, 2) >= 0
  );
}

function asEntries(lines: unknown): readonly unknown[] {
  if (Array.isArray(lines)) return lines;
  if (typeof lines === "string") return [lines];
  return [];
}

function findLastLists(entries: readonly unknown[]): {
  consider: MarkedList | null;
  toDelete: MarkedList | null;
} {
  let consider: MarkedList | null = null;
  let toDelete: MarkedList | null = null;
  for (const entry of entries) {
    if (typeof entry !== "string") continue;
    // Cheap substring checks first: reports carry thousands of lines, two of which matter. Both
    // markers contain MARKERS_SHARED, so most lines take one search instead of two.
    if (!entry.includes(MARKERS_SHARED)) continue;
    if (entry.includes(CONSIDER_MARKER)) consider = markedList(entry, CONSIDER_MARKER);
    if (entry.includes(DELETE_MARKER)) toDelete = markedList(entry, DELETE_MARKER);
  }
  return { consider, toDelete };
}

/**
 * The list after the last occurrence of `marker` in `text`, up to the end of its line. An entry
 * may hold several lines (plain-text input, multi-line messages), so the offset prefix is looked
 * for at the start of the marker's own line.
 */
function markedList(text: string, marker: string): MarkedList {
  // Forward searches, not lastIndexOf: V8 searches backwards character by character, forwards
  // with a skip table, and the line before the marker is long (the whole log-line prefix).
  let at = text.indexOf(marker);
  for (let next = text.indexOf(marker, at + 1); next >= 0; next = text.indexOf(marker, next + 1)) at = next;
  let lineStart = 0;
  for (let nl = text.indexOf("\n"); nl >= 0 && nl < at; nl = text.indexOf("\n", nl + 1)) lineStart = nl + 1;
  const lineEnd = text.indexOf("\n", at);
  const end = lineEnd < 0 ? text.length : lineEnd;
  // The prefix is short; slicing avoids running the pattern over a long multi-line string.
  const offsetMinutes = logLineOffsetMinutes(text.slice(lineStart, lineStart + 40));
  return { text, start: at + marker.length, end, offsetMinutes };
}

/**
 * The comma-separated timestamps of a list, each trimmed and shape-checked (null when it is not a
 * timestamp; empty ones are dropped). A fixed-width timestamp between plain spaces is read where it
 * stands, which spares the slice, the trim and the split for nearly every entry; parseStamp would
 * answer the same for it.
 */
function parseStamps(list: MarkedList): (RawStamp | null)[] {
  const { text, start, end } = list;
  const stamps: (RawStamp | null)[] = [];
  for (let from = start; ;) {
    const comma = text.indexOf(",", from);
    const to = comma >= 0 && comma < end ? comma : end;
    let first = from;
    while (first < to && text.charCodeAt(first) === CHAR_SPACE) first++;
    let last = to;
    while (last > first && text.charCodeAt(last - 1) === CHAR_SPACE) last--;
    const fixed = last - first === FIXED_WIDTH ? parseFixedWidthStamp(text, first) : undefined;
    if (fixed !== undefined) {
      stamps.push(fixed);
    } else {
      const token = text.slice(from, to).trim();
      if (token.length > 0) stamps.push(parseStamp(token));
    }
    if (to === end) return stamps;
    from = to + 1;
  }
}

// Date `y-M-d`, `y.M.d`, `y/M/d`, `d/M/y`, `M/d/y`, `d.M.y`, `d-M-y`; time `h:m:s` or `h.m.s`;
// an AM/PM designator before the time (`yyyy.MM.dd AM hh:mm:ss`) or after it. The backreferences
// keep each part's separator consistent. Besides AM/PM (any case, dotted or not) the designators
// of the 12-hour cultures whose default .NET pattern puts them before the time are accepted.
// .NET puts a no-break space (U+00A0) or narrow no-break space (U+202F) before AM/PM in some
// cultures and ICU versions, so every separating space is any run of white space (\s covers both).
// Numbered groups, not named ones: this runs for every listed version of every upload, and named
// groups cost an extra object per match. Groups: 1 a, 2 date separator, 3 b, 4 c, 5 designator
// before the time, 6 hours, 7 time separator, 8 minutes, 9 seconds, 10 designator after the time.
const MERIDIEM = "[AaPp]\\.?[Mm]\\.?|오전|오후|上午|下午|午前|午後";
const STAMP_REGEX = new RegExp(
  "^(\\d{1,4})([-./])(\\d{1,2})\\2(\\d{1,4})" +
    `\\s+(?:(${MERIDIEM})\\s*)?` +
    "(\\d{1,2})([:.])(\\d{1,2})\\7(\\d{1,2})" +
    `(?:\\s*(${MERIDIEM}))?$`,
);
const MORNING_DESIGNATORS = new Set(["am", "오전", "上午", "午前"]);

/**
 * Shape-checks one printed timestamp (trimmed, as parseStamps passes it); range checks wait until
 * the day/month order is known.
 */
function parseStamp(token: string): RawStamp | null {
  const fixed = token.length === FIXED_WIDTH ? parseFixedWidthStamp(token, 0) : undefined;
  if (fixed !== undefined) return fixed;
  const m = STAMP_REGEX.exec(token);
  if (m === null) return null;
  const a = m[1];
  const b = m[3];
  const c = m[4];
  const h = m[6];
  const mi = m[8];
  const s = m[9];
  if (a === undefined || b === undefined || c === undefined || h === undefined) return null;
  if (mi === undefined || s === undefined) return null;
  const pre = m[5];
  const post = m[10];
  if (pre !== undefined && post !== undefined) return null;

  const designator = pre ?? post;
  const hour = toTwentyFourHour(digitsValue(h), designator);
  if (hour === null) return null;
  const hasMeridiem = designator !== undefined;
  const minute = digitsValue(mi);
  const secondOfMinute = digitsValue(s);
  // Plain object literals of one shape (no spread): this runs for every listed version.
  if (a.length === 4 && c.length <= 2) {
    const year = digitsValue(a);
    return {
      year,
      first: digitsValue(b),
      second: digitsValue(c),
      order: "ymd",
      hasMeridiem,
      hour,
      minute,
      secondOfMinute,
    };
  }
  if (c.length === 4 && a.length <= 2) {
    const year = digitsValue(c);
    const order = m[2] === "/" ? "slash" : "dmy";
    return { year, first: digitsValue(a), second: digitsValue(b), order, hasMeridiem, hour, minute, secondOfMinute };
  }
  return null;
}

/**
 * parseStamp's answer for the zero-padded 24-hour forms most cultures print, `dd?MM?yyyy HH?mm?ss`
 * and `yyyy?MM?dd HH?mm?ss` (FIXED_WIDTH characters of `text` from `at`), read by position;
 * undefined for any other shape, which is left to STAMP_REGEX. For these tokens the regular
 * expression matches the same way (each digit run is followed by a separator or a space, so there
 * is nothing to backtrack into), and this path costs a fraction of its match and ten captured
 * strings, once per listed version per upload.
 */
function parseFixedWidthStamp(text: string, at: number): RawStamp | undefined {
  if (text.charCodeAt(at + 10) !== CHAR_SPACE) return undefined;
  const ts = text.charCodeAt(at + 13);
  if ((ts !== CHAR_COLON && ts !== CHAR_DOT) || text.charCodeAt(at + 16) !== ts) return undefined;
  const hour = digitsAt(text, at + 11, 2);
  const minute = digitsAt(text, at + 14, 2);
  const secondOfMinute = digitsAt(text, at + 17, 2);
  if (hour < 0 || minute < 0 || secondOfMinute < 0) return undefined;

  const ymdSeparator = text.charCodeAt(at + 4);
  if (isDateSeparator(ymdSeparator) && text.charCodeAt(at + 7) === ymdSeparator) {
    const year = digitsAt(text, at, 4);
    const first = digitsAt(text, at + 5, 2);
    const second = digitsAt(text, at + 8, 2);
    if (year < 0 || first < 0 || second < 0) return undefined;
    return { year, first, second, order: "ymd", hasMeridiem: false, hour, minute, secondOfMinute };
  }
  const dmySeparator = text.charCodeAt(at + 2);
  if (isDateSeparator(dmySeparator) && text.charCodeAt(at + 5) === dmySeparator) {
    const first = digitsAt(text, at, 2);
    const second = digitsAt(text, at + 3, 2);
    const year = digitsAt(text, at + 6, 4);
    if (year < 0 || first < 0 || second < 0) return undefined;
    const order = dmySeparator === CHAR_SLASH ? "slash" : "dmy";
    return { year, first, second, order, hasMeridiem: false, hour, minute, secondOfMinute };
  }
  return undefined;
}

function isDateSeparator(code: number): boolean {
  return code === CHAR_DASH || code === CHAR_DOT || code === CHAR_SLASH;
}

function toTwentyFourHour(hour: number, designator: string | undefined): number | null {
  if (designator === undefined) return hour;
  if (hour < 1 || hour > 12) return null;
  const morning = MORNING_DESIGNATORS.has(designator.toLowerCase().replaceAll(".", ""));
  return morning ? hour % 12 : (hour % 12) + 12;
}

/**
 * Day/month order of `a/b/yyyy` dates, decided once for the whole report: a number above 12 in one
 * entry settles it for all (e.g. "14/06/2025" makes "01/06/2025" the 1st of June). Without such
 * evidence, or with contradicting evidence, each entry falls back to its own rule (see isDayFirst).
 */
function detectSlashOrder(...lists: readonly (readonly (RawStamp | null)[])[]): SlashOrder {
  let dayFirst = false;
  let monthFirst = false;
  for (const stamps of lists) {
    for (const stamp of stamps) {
      if (stamp === null || stamp.order !== "slash") continue;
      if (stamp.first > 12) dayFirst = true;
      if (stamp.second > 12) monthFirst = true;
    }
  }
  if (dayFirst === monthFirst) return null;
  return dayFirst ? "day-first" : "month-first";
}

function toEpochs(
  stamps: readonly (RawStamp | null)[],
  slashOrder: SlashOrder,
  offsetMinutes: number | null,
  timeZone: string | undefined,
): number[] {
  // Only lines without a printed offset need the zone (resolving it costs a lookup per upload).
  const convert = offsetMinutes === null ? zoneWallClockConverter(timeZone) : fixedOffsetConverter(offsetMinutes);
  const epochs: number[] = [];
  for (const stamp of stamps) {
    const wall = stamp === null ? null : toWallClock(stamp, slashOrder);
    if (wall !== null) epochs.push(convert(wall));
  }
  return epochs;
}

function toWallClock(stamp: RawStamp, slashOrder: SlashOrder): WallClock | null {
  const dayFirst = stamp.order === "dmy" || (stamp.order === "slash" && isDayFirst(stamp, slashOrder));
  const wall: WallClock = {
    year: stamp.year,
    month: dayFirst ? stamp.second : stamp.first,
    day: dayFirst ? stamp.first : stamp.second,
    hour: stamp.hour,
    minute: stamp.minute,
    second: stamp.secondOfMinute,
  };
  return isValidWallClock(wall) ? wall : null;
}

/**
 * Per-entry rule for slash dates (as upstream): first > 12 ⇒ day first; second > 12 ⇒ month first;
 * otherwise month first with AM/PM (en-US `M/d/yyyy h:mm:ss tt`) and day first with a 24-hour clock
 * (`dd/MM/yyyy HH:mm:ss`, the common European pattern).
 */
function isDayFirst(stamp: RawStamp, slashOrder: SlashOrder): boolean {
  if (stamp.first > 12) return true;
  if (stamp.second > 12) return false;
  if (slashOrder !== null) return slashOrder === "day-first";
  return !stamp.hasMeridiem;
}

function isValidWallClock(w: WallClock): boolean {
  if (w.year < MIN_YEAR || w.year > MAX_YEAR) return false;
  if (w.month < 1 || w.month > 12 || w.day < 1 || w.day > daysInMonth(w.year, w.month)) return false;
  return w.hour <= 23 && w.minute <= 59 && w.second <= 59;
}

/** The wall clock read as UTC (years are 1900–2100 here, where this agrees with Date.UTC). */
function wallClockAsUtc(w: WallClock): number {
  return utcEpochMs(w.year, w.month, w.day, w.hour, w.minute, w.second);
}

function fixedOffsetConverter(offsetMinutes: number): WallClockToEpoch {
  return (wall) => wallClockAsUtc(wall) - offsetMinutes * MS_PER_MINUTE;
}

function processZoneEpoch(w: WallClock): number {
  return new Date(w.year, w.month - 1, w.day, w.hour, w.minute, w.second).getTime();
}

/** Converter for lines without an offset: the given IANA zone, else the process zone. */
function zoneWallClockConverter(timeZone: string | undefined): WallClockToEpoch {
  if (timeZone === undefined) return processZoneEpoch;
  const formatter = zoneFormatter(timeZone);
  // An unknown zone name falls back to the process zone rather than failing the upload: Node
  // derives that zone from the same TZ setting, so for a TZ that Node accepted they agree.
  if (formatter === null) return processZoneEpoch;
  return (wall) => zonedEpoch(wall, formatter);
}

const formatterCache = new Map<string, Intl.DateTimeFormat | null>();

function zoneFormatter(timeZone: string): Intl.DateTimeFormat | null {
  const cached = formatterCache.get(timeZone);
  if (cached !== undefined) return cached;
  let formatter: Intl.DateTimeFormat | null;
  try {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    formatter = null;
  }
  formatterCache.set(timeZone, formatter);
  return formatter;
}

/** Offset of the zone at `epochMs` (milliseconds east of UTC), from the zone's wall clock. */
function zoneOffsetMs(formatter: Intl.DateTimeFormat, epochMs: number): number {
  const fields: Record<string, number> = {};
  for (const part of formatter.formatToParts(epochMs)) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  const wall = Date.UTC(
    fields["year"] ?? 0,
    (fields["month"] ?? 1) - 1,
    fields["day"] ?? 1,
    fields["hour"] ?? 0,
    fields["minute"] ?? 0,
    fields["second"] ?? 0,
  );
  return wall - (epochMs - (((epochMs % 1000) + 1000) % 1000));
}

/**
 * UTC instant of a wall-clock time in an IANA zone, resolved like `new Date(y, m, d, …)` does for
 * the process zone: a time repeated when clocks go back takes the earlier instant, a time skipped
 * when clocks go forward is read with the offset before the change (i.e. moved forward).
 */
function zonedEpoch(wall: WallClock, formatter: Intl.DateTimeFormat): number {
  const asUtc = wallClockAsUtc(wall);
  // Offsets a day either side bracket any DST change affecting this wall time.
  const offsetBefore = zoneOffsetMs(formatter, asUtc - MS_PER_DAY);
  const offsetAfter = zoneOffsetMs(formatter, asUtc + MS_PER_DAY);
  const candidates = [asUtc - offsetBefore, asUtc - offsetAfter].filter(
    (epoch) => asUtc - zoneOffsetMs(formatter, epoch) === epoch,
  );
  if (candidates.length === 0) return asUtc - offsetBefore;
  return Math.min(...candidates);
}
