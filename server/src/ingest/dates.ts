/**
 * Dates as Duplicati writes them: ISO 8601 with up to 7 fractional digits (.NET ticks), with `Z`, an offset, or no
 * zone at all (`0001-01-01T00:00:00` for "never"). A missing zone is read as UTC, which is what Duplicati means by
 * it and what keeps the result independent of this server's TZ.
 */
const ISO_LIKE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

export function parseReportDate(value: unknown): Date | null {
  if (typeof value !== "string") return null;
  const m = ISO_LIKE.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone = "Z"] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999, and Duplicati's "never" is year 1.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  if (date.getUTCDate() !== day) return null; // 31 February and friends
  if (zone !== "Z" && zone !== "z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0");
    date.setTime(date.getTime() - sign * offsetMinutes * 60_000);
  }
  return Number.isNaN(date.getTime()) ? null : date;
}

export function toIsoOrNull(value: unknown): string | null {
  const d = parseReportDate(value);
  return d ? d.toISOString() : null;
}
