import { expect } from "chai";
import {
  addInterval,
  approxIntervalMs,
  areValidTokens,
  DEFAULT_TOLERANCE,
  formatInterval,
  isToleranceKey,
  isValidInterval,
  migrateLegacyInterval,
  parseInterval,
  resolveTolerance,
  TOLERANCE_KEYS,
  TOLERANCE_LABELS,
  TOLERANCE_MINUTES,
  type IntervalToken,
} from "../../server/src/monitoring/interval";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function tokens(text: string): IntervalToken[] {
  const parsed = parseInterval(text);
  if (!parsed) throw new Error(`test setup: "${text}" should parse`);
  return parsed;
}

function iso(text: string, interval: string): string {
  return addInterval(new Date(text), tokens(interval)).toISOString();
}

/** Runs fn with the process time zone set to tz (Node re-reads TZ on assignment). */
function inTimeZone<T>(tz: string, fn: () => T): T {
  const previous = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    if (previous === undefined) delete process.env.TZ;
    else process.env.TZ = previous;
  }
}

describe("monitoring/interval", () => {
  describe("parseInterval", () => {
    it("parses single tokens of every unit", () => {
      expect(parseInterval("1D")).to.deep.equal([{ amount: 1, unit: "D" }]);
      expect(parseInterval("12h")).to.deep.equal([{ amount: 12, unit: "h" }]);
      expect(parseInterval("1W")).to.deep.equal([{ amount: 1, unit: "W" }]);
      expect(parseInterval("30s")).to.deep.equal([{ amount: 30, unit: "s" }]);
      expect(parseInterval("1Y")).to.deep.equal([{ amount: 1, unit: "Y" }]);
    });

    it("parses concatenated tokens in written order", () => {
      expect(parseInterval("1D2h30m")).to.deep.equal([
        { amount: 1, unit: "D" },
        { amount: 2, unit: "h" },
        { amount: 30, unit: "m" },
      ]);
      expect(parseInterval("30m1D")).to.deep.equal([
        { amount: 30, unit: "m" },
        { amount: 1, unit: "D" },
      ]);
    });

    it("is case-sensitive: m is minutes, M is months, lowercase d/w/y are invalid", () => {
      expect(parseInterval("1m")).to.deep.equal([{ amount: 1, unit: "m" }]);
      expect(parseInterval("1M")).to.deep.equal([{ amount: 1, unit: "M" }]);
      expect(parseInterval("1d")).to.equal(null);
      expect(parseInterval("1w")).to.equal(null);
      expect(parseInterval("1y")).to.equal(null);
      expect(parseInterval("1H")).to.equal(null);
    });

    it("treats a bare integer as seconds", () => {
      expect(parseInterval("3600")).to.deep.equal([{ amount: 3600, unit: "s" }]);
      expect(parseInterval(" 86400 ")).to.deep.equal([{ amount: 86400, unit: "s" }]);
    });

    it("tolerates whitespace", () => {
      expect(parseInterval(" 12h ")).to.deep.equal([{ amount: 12, unit: "h" }]);
      expect(parseInterval("1D 2h\t30m")).to.deep.equal(tokens("1D2h30m"));
    });

    it("accepts leading zeros", () => {
      expect(parseInterval("01D")).to.deep.equal([{ amount: 1, unit: "D" }]);
    });

    it("rejects empty, malformed and zero intervals", () => {
      for (const bad of [
        "",
        "   ",
        "0",
        "0s",
        "0D",
        "1D0h",
        "D",
        "D1",
        "1D2",
        "1x",
        "1Dx2h",
        "1.5h",
        "-1h",
        "+1h",
        "1 day",
        "99999999999999999999h",
      ]) {
        expect(parseInterval(bad), bad).to.equal(null);
      }
    });

    it("returns null for non-strings coming from JSON", () => {
      expect(parseInterval(24 as unknown as string)).to.equal(null);
      expect(parseInterval(null as unknown as string)).to.equal(null);
      expect(parseInterval(undefined as unknown as string)).to.equal(null);
    });
  });

  describe("isValidInterval / areValidTokens / formatInterval", () => {
    it("validates interval text", () => {
      expect(isValidInterval("1D2h30m")).to.equal(true);
      expect(isValidInterval("3600")).to.equal(true);
      expect(isValidInterval("1d")).to.equal(false);
      expect(isValidInterval("")).to.equal(false);
      expect(isValidInterval(3600)).to.equal(false);
    });

    it("validates token arrays", () => {
      expect(areValidTokens([{ amount: 1, unit: "D" }])).to.equal(true);
      expect(areValidTokens([])).to.equal(false);
      expect(areValidTokens([{ amount: 0, unit: "D" }])).to.equal(false);
      expect(areValidTokens([{ amount: 1.5, unit: "h" }])).to.equal(false);
      expect(areValidTokens([{ amount: 1, unit: "d" }])).to.equal(false);
      expect(areValidTokens("1D")).to.equal(false);
    });

    it("formats tokens canonically", () => {
      expect(formatInterval(tokens(" 1D 2h 30m "))).to.equal("1D2h30m");
      expect(formatInterval(tokens("3600"))).to.equal("3600s");
    });
  });

  describe("addInterval", () => {
    it("adds s, m and h as exact milliseconds", () => {
      expect(iso("2025-01-01T14:00:00.000Z", "30s")).to.equal("2025-01-01T14:00:30.000Z");
      expect(iso("2025-01-01T14:00:00.000Z", "90m")).to.equal("2025-01-01T15:30:00.000Z");
      expect(iso("2025-01-01T14:00:00.000Z", "12h")).to.equal("2025-01-02T02:00:00.000Z");
    });

    it("adds D and W as UTC calendar days (7 per week)", () => {
      expect(iso("2025-01-01T14:00:00.000Z", "1D")).to.equal("2025-01-02T14:00:00.000Z");
      expect(iso("2025-01-01T14:00:00.000Z", "1W")).to.equal("2025-01-08T14:00:00.000Z");
      expect(iso("2025-12-31T23:30:00.000Z", "1D")).to.equal("2026-01-01T23:30:00.000Z");
    });

    it("applies tokens in written order", () => {
      expect(iso("2025-01-01T14:00:00.000Z", "1D2h30m")).to.equal("2025-01-02T16:30:00.000Z");
      // From Jan 31 the order matters because of month-end overflow.
      expect(iso("2025-01-31T14:00:00.000Z", "1M1D")).to.equal("2025-03-04T14:00:00.000Z");
      expect(iso("2025-01-31T14:00:00.000Z", "1D1M")).to.equal("2025-03-01T14:00:00.000Z");
    });

    it("keeps JavaScript's month-end overflow for M, as upstream (Jan 31 + 1M)", () => {
      // "Feb 31" rolls over: Mar 3 in 2025, Mar 2 in the leap year 2024.
      expect(iso("2025-01-31T14:00:00.000Z", "1M")).to.equal("2025-03-03T14:00:00.000Z");
      expect(iso("2024-01-31T14:00:00.000Z", "1M")).to.equal("2024-03-02T14:00:00.000Z");
      expect(iso("2025-01-15T14:00:00.000Z", "1M")).to.equal("2025-02-15T14:00:00.000Z");
      expect(iso("2025-03-31T14:00:00.000Z", "1M")).to.equal("2025-05-01T14:00:00.000Z");
      expect(iso("2025-11-30T14:00:00.000Z", "2M")).to.equal("2026-01-30T14:00:00.000Z");
    });

    it("keeps JavaScript's overflow for Y on Feb 29", () => {
      expect(iso("2024-02-29T14:00:00.000Z", "1Y")).to.equal("2025-03-01T14:00:00.000Z");
      expect(iso("2024-02-29T14:00:00.000Z", "4Y")).to.equal("2028-02-29T14:00:00.000Z");
    });

    it("does not move with local DST changes: a day is 24 h in UTC", () => {
      inTimeZone("Europe/London", () => {
        // BST starts 2025-03-30; 1D still adds exactly 24 hours.
        const before = new Date("2025-03-29T14:00:00.000Z");
        const after = addInterval(before, tokens("1D"));
        expect(after.toISOString()).to.equal("2025-03-30T14:00:00.000Z");
        expect(after.getTime() - before.getTime()).to.equal(DAY_MS);
        // The zone really is in effect: the local wall clock shifted by an hour.
        expect(before.getHours()).to.equal(14);
        expect(after.getHours()).to.equal(15);
        // GMT returns 2025-10-26.
        expect(iso("2025-10-25T14:00:00.000Z", "1D")).to.equal("2025-10-26T14:00:00.000Z");
        expect(iso("2025-03-27T14:00:00.000Z", "1W")).to.equal("2025-04-03T14:00:00.000Z");
        expect(iso("2025-03-15T14:00:00.000Z", "1M")).to.equal("2025-04-15T14:00:00.000Z");
      });
      inTimeZone("America/New_York", () => {
        expect(iso("2025-03-08T07:00:00.000Z", "1D")).to.equal("2025-03-09T07:00:00.000Z");
        expect(iso("2025-11-01T07:00:00.000Z", "1D")).to.equal("2025-11-02T07:00:00.000Z");
      });
    });

    it("returns a new Date and leaves the input alone", () => {
      const input = new Date("2025-01-01T14:00:00.000Z");
      const output = addInterval(input, tokens("1D"));
      expect(output).to.not.equal(input);
      expect(input.toISOString()).to.equal("2025-01-01T14:00:00.000Z");
    });

    it("yields an Invalid Date past the representable range", () => {
      const result = addInterval(new Date("2025-01-01T00:00:00.000Z"), tokens("999999999Y"));
      expect(Number.isNaN(result.getTime())).to.equal(true);
    });
  });

  describe("approxIntervalMs", () => {
    it("uses 30-day months and 365-day years", () => {
      expect(approxIntervalMs(tokens("1M"))).to.equal(30 * DAY_MS);
      expect(approxIntervalMs(tokens("1Y"))).to.equal(365 * DAY_MS);
      expect(approxIntervalMs(tokens("1W"))).to.equal(7 * DAY_MS);
      expect(approxIntervalMs(tokens("1D2h30m"))).to.equal(DAY_MS + 2.5 * HOUR_MS);
      expect(approxIntervalMs(tokens("3600"))).to.equal(HOUR_MS);
    });

    it("sums in whole milliseconds, so 23h60m is exactly one day", () => {
      expect(approxIntervalMs(tokens("23h60m"))).to.equal(DAY_MS);
      expect(approxIntervalMs(tokens("86400"))).to.equal(DAY_MS);
    });
  });

  describe("migrateLegacyInterval", () => {
    it("converts the legacy object format", () => {
      expect(migrateLegacyInterval({ expectedInterval: 24, intervalUnit: "hour" })).to.equal("24h");
      expect(migrateLegacyInterval({ expectedInterval: 1, intervalUnit: "day" })).to.equal("1D");
      expect(migrateLegacyInterval({ expectedInterval: 7, intervalUnit: "day" })).to.equal("7D");
    });

    it("converts separate value and unit, including numeric strings and unit case", () => {
      expect(migrateLegacyInterval(12, "hour")).to.equal("12h");
      expect(migrateLegacyInterval("24", "hour")).to.equal("24h");
      expect(migrateLegacyInterval(2, "Day")).to.equal("2D");
    });

    it("keeps fractional legacy values whole in a smaller unit", () => {
      expect(migrateLegacyInterval(1.5, "hour")).to.equal("90m");
      expect(migrateLegacyInterval(0.5, "day")).to.equal("12h");
      expect(migrateLegacyInterval(0.1, "hour")).to.equal("6m");
      expect(migrateLegacyInterval(1.25, "day")).to.equal("30h");
    });

    it("rejects unusable legacy values", () => {
      expect(migrateLegacyInterval(0, "hour")).to.equal(null);
      expect(migrateLegacyInterval(-1, "day")).to.equal(null);
      expect(migrateLegacyInterval(Number.NaN, "hour")).to.equal(null);
      expect(migrateLegacyInterval(Number.POSITIVE_INFINITY, "hour")).to.equal(null);
      expect(migrateLegacyInterval(24, "week")).to.equal(null);
      expect(migrateLegacyInterval("abc", "hour")).to.equal(null);
      expect(migrateLegacyInterval(true, "hour")).to.equal(null);
      expect(migrateLegacyInterval(1e-9, "hour")).to.equal(null);
    });

    it("passes current-format strings through in canonical form", () => {
      expect(migrateLegacyInterval("1D")).to.equal("1D");
      expect(migrateLegacyInterval("1D 2h")).to.equal("1D2h");
      expect(migrateLegacyInterval({ expectedInterval: "1W", allowedWeekDays: [1] })).to.equal("1W");
    });

    it("returns null for anything else", () => {
      expect(migrateLegacyInterval("bogus")).to.equal(null);
      expect(migrateLegacyInterval(24)).to.equal(null);
      expect(migrateLegacyInterval(null)).to.equal(null);
      expect(migrateLegacyInterval(undefined)).to.equal(null);
      expect(migrateLegacyInterval({})).to.equal(null);
      expect(migrateLegacyInterval(["1D"])).to.equal(null);
    });
  });

  describe("tolerance", () => {
    it("maps every key to minutes", () => {
      expect(TOLERANCE_MINUTES).to.deep.equal({
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
      });
    });

    it("has a label for every key, in order", () => {
      expect(TOLERANCE_KEYS.map((k) => TOLERANCE_LABELS[k])).to.deep.equal([
        "No tolerance",
        "5 min",
        "15 min",
        "30 min",
        "1 hour",
        "2 hours",
        "4 hours",
        "6 hours",
        "12 hours",
        "1 day",
      ]);
    });

    it("defaults to 2h (the code default, not the docs' 1 hour)", () => {
      expect(DEFAULT_TOLERANCE).to.equal("2h");
      expect(resolveTolerance(undefined)).to.equal("2h");
      expect(resolveTolerance("bogus")).to.equal("2h");
      expect(resolveTolerance("1H")).to.equal("2h");
      expect(resolveTolerance("30min")).to.equal("30min");
    });

    it("recognises keys", () => {
      expect(isToleranceKey("no_tolerance")).to.equal(true);
      expect(isToleranceKey("1d")).to.equal(true);
      expect(isToleranceKey("1D")).to.equal(false);
      expect(isToleranceKey(60)).to.equal(false);
    });
  });
});
