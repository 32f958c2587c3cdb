// "Available versions" of a backup job, read from Duplicati's retention-policy log lines:
//
//   2025-06-14 02:38:01 +01 - [Information-…:RetentionPolicy-BackupList]: Backups to consider: 14/06/2025 02:00:00, …
//   2025-06-14 02:38:01 +01 - [Information-…:RetentionPolicy-AllBackupsToDelete]: All backups to delete: 14/05/2025 02:00:04
//
// Result = considered − deleted, newest first, as ISO 8601 UTC strings with milliseconds.
// The listed timestamps are printed in the Duplicati machine's culture and local time. The original
// duplistatus read them in its own time zone; we use the UTC offset that Duplicati prints at the start
// of the same log line, and fall back to a configured IANA zone (or the process zone) without one.

const CONSIDER_MARKER = "Backups to consider:";
const DELETE_MARKER = "All backups to delete:";

const MIN_YEAR = 1900;
const MAX_YEAR = 2100;
const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = 86_400_000;
const MAX_OFFSET_MINUTES = 14 * 60;

/** A list found after one of the markers, with the UTC offset of the log line it came from. */
interface MarkedList {
  readonly tail: string;
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

  const considerTokens = splitTimestamps(consider.tail);
  const deleteTokens = toDelete === null ? [] : splitTimestamps(toDelete.tail);
  const considerStamps = considerTokens.map(parseStamp);
  const deleteStamps = deleteTokens.map(parseStamp);
  // Both lists come from the same machine and culture, and the deletions are a subset of the
  // considered versions, so one order decision must cover both or the subtraction would miss.
  const slashOrder = detectSlashOrder([...considerStamps, ...deleteStamps]);
  const zoneConverter = zoneWallClockConverter(timeZone);

  const considered = toEpochs(considerStamps, slashOrder, consider.offsetMinutes, zoneConverter);
  const deleted = new Set(
    toDelete === null ? [] : toEpochs(deleteStamps, slashOrder, toDelete.offsetMinutes, zoneConverter),
  );
  const kept = [...new Set(considered)].filter((epoch) => !deleted.has(epoch));
  return kept.sort((a, b) => b - a).map((epoch) => new Date(epoch).toISOString());
}

/**
 * Minutes east of UTC from Duplicati's log-line prefix `yyyy-MM-dd HH:mm:ss ±HH[[:]MM]`
 * (e.g. "+01", "-05:30", "+0200"), or null when the line does not start with one.
 */
export function logLineOffsetMinutes(line: string): number | null {
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
    // Cheap substring checks first: reports carry thousands of lines, two of which matter.
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
  const at = text.lastIndexOf(marker);
  const lineStart = text.lastIndexOf("\n", at) + 1;
  const lineEnd = text.indexOf("\n", at);
  const tail = text.slice(at + marker.length, lineEnd < 0 ? undefined : lineEnd);
  // The prefix is short; slicing avoids running the pattern over a long multi-line string.
  const offsetMinutes = logLineOffsetMinutes(text.slice(lineStart, lineStart + 40));
  return { tail, offsetMinutes };
}

function splitTimestamps(tail: string): string[] {
  return tail
    .split(",")
    .map((token) => token.trim())
    .filter((token) => token.length > 0);
}

// Date `y-M-d`, `y.M.d`, `y/M/d`, `d/M/y`, `M/d/y`, `d.M.y`, `d-M-y`; time `h:m:s` or `h.m.s`;
// an AM/PM designator before the time (`yyyy.MM.dd AM hh:mm:ss`) or after it. The backreferences
// keep each part's separator consistent. Besides AM/PM (any case, dotted or not) the designators
// of the 12-hour cultures whose default .NET pattern puts them before the time are accepted.
const MERIDIEM = "[AaPp]\\.?[Mm]\\.?|오전|오후|上午|下午|午前|午後";
const STAMP_REGEX = new RegExp(
  "^(?<a>\\d{1,4})(?<ds>[-./])(?<b>\\d{1,2})\\k<ds>(?<c>\\d{1,4})" +
    ` (?:(?<pre>${MERIDIEM}) ?)?` +
    "(?<h>\\d{1,2})(?<ts>[:.])(?<mi>\\d{1,2})\\k<ts>(?<s>\\d{1,2})" +
    `(?: ?(?<post>${MERIDIEM}))?$`,
);
const MORNING_DESIGNATORS = new Set(["am", "오전", "上午", "午前"]);

/** Shape-checks one printed timestamp; range checks wait until the day/month order is known. */
function parseStamp(token: string): RawStamp | null {
  // .NET puts a no-break space (U+00A0) or narrow no-break space (U+202F) before AM/PM in some
  // cultures and ICU versions; treat every run of white space as one plain space.
  const normalised = token.replace(/[\s\u00A0\u202F]+/g, " ").trim();
  const groups = STAMP_REGEX.exec(normalised)?.groups;
  if (groups === undefined) return null;
  const { a, b, c, ds, pre, post, h, mi, s } = groups;
  if (a === undefined || b === undefined || c === undefined || h === undefined) return null;
  if (mi === undefined || s === undefined) return null;
  if (pre !== undefined && post !== undefined) return null;

  const hour = toTwentyFourHour(Number(h), pre ?? post);
  if (hour === null) return null;
  const time = {
    hasMeridiem: (pre ?? post) !== undefined,
    hour,
    minute: Number(mi),
    secondOfMinute: Number(s),
  };
  if (a.length === 4 && c.length <= 2) {
    return { year: Number(a), first: Number(b), second: Number(c), order: "ymd", ...time };
  }
  if (c.length === 4 && a.length <= 2) {
    const order = ds === "/" ? "slash" : "dmy";
    return { year: Number(c), first: Number(a), second: Number(b), order, ...time };
  }
  return null;
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
 * evidence, or with contradicting evidence, each entry falls back to its own rule (see slashFields).
 */
function detectSlashOrder(stamps: readonly (RawStamp | null)[]): SlashOrder {
  let dayFirst = false;
  let monthFirst = false;
  for (const stamp of stamps) {
    if (stamp === null || stamp.order !== "slash") continue;
    if (stamp.first > 12) dayFirst = true;
    if (stamp.second > 12) monthFirst = true;
  }
  if (dayFirst === monthFirst) return null;
  return dayFirst ? "day-first" : "month-first";
}

function toEpochs(
  stamps: readonly (RawStamp | null)[],
  slashOrder: SlashOrder,
  offsetMinutes: number | null,
  zoneConverter: WallClockToEpoch,
): number[] {
  const convert = offsetMinutes === null ? zoneConverter : fixedOffsetConverter(offsetMinutes);
  const epochs: number[] = [];
  for (const stamp of stamps) {
    const wall = stamp === null ? null : toWallClock(stamp, slashOrder);
    if (wall !== null) epochs.push(convert(wall));
  }
  return epochs;
}

function toWallClock(stamp: RawStamp, slashOrder: SlashOrder): WallClock | null {
  const [month, day] = monthAndDay(stamp, slashOrder);
  const wall: WallClock = {
    year: stamp.year,
    month,
    day,
    hour: stamp.hour,
    minute: stamp.minute,
    second: stamp.secondOfMinute,
  };
  return isValidWallClock(wall) ? wall : null;
}

function monthAndDay(stamp: RawStamp, slashOrder: SlashOrder): [number, number] {
  if (stamp.order === "ymd") return [stamp.first, stamp.second];
  if (stamp.order === "dmy") return [stamp.second, stamp.first];
  return slashFields(stamp, slashOrder);
}

/**
 * Per-entry rule for slash dates (as upstream): first > 12 ⇒ day first; second > 12 ⇒ month first;
 * otherwise month first with AM/PM (en-US `M/d/yyyy h:mm:ss tt`) and day first with a 24-hour clock
 * (`dd/MM/yyyy HH:mm:ss`, the common European pattern).
 */
function slashFields(stamp: RawStamp, slashOrder: SlashOrder): [number, number] {
  const dayFirst: [number, number] = [stamp.second, stamp.first];
  const monthFirst: [number, number] = [stamp.first, stamp.second];
  if (stamp.first > 12) return dayFirst;
  if (stamp.second > 12) return monthFirst;
  if (slashOrder !== null) return slashOrder === "day-first" ? dayFirst : monthFirst;
  return stamp.hasMeridiem ? monthFirst : dayFirst;
}

function isValidWallClock(w: WallClock): boolean {
  if (w.year < MIN_YEAR || w.year > MAX_YEAR) return false;
  if (w.month < 1 || w.month > 12 || w.day < 1 || w.day > daysInMonth(w.year, w.month)) return false;
  return w.hour <= 23 && w.minute <= 59 && w.second <= 59;
}

function daysInMonth(year: number, month: number): number {
  // Day 0 of the next month is the last day of this one.
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function wallClockAsUtc(w: WallClock): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
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
