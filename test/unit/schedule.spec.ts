import { expect } from "chai";
import { TOLERANCE_MINUTES } from "../../server/src/monitoring/interval";
import {
  computeNextExpected,
  getNextBackupRunDate,
  isOverdue,
  parseAllowedWeekDays,
  parseNextScheduledRun,
} from "../../server/src/monitoring/schedule";

// 2025-01-01 is a Wednesday. Weekdays: 0 Sun, 1 Mon, … 6 Sat.
const ALL_DAYS = [0, 1, 2, 3, 4, 5, 6];
const WEEKDAYS = [1, 2, 3, 4, 5];

const d = (text: string): Date => new Date(text);

function next(last: string, base: string, interval: string, days: readonly number[] = ALL_DAYS) {
  return getNextBackupRunDate(d(last), d(base), interval, days).toISOString();
}

function maintain(
  latestRun: string,
  previousNext: string | null,
  interval = "1D",
  allowedWeekDays: readonly number[] = ALL_DAYS,
): string {
  return computeNextExpected({
    latestRun: d(latestRun),
    previousNext: previousNext === null ? null : d(previousNext),
    interval,
    allowedWeekDays,
  }).toISOString();
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

describe("monitoring/schedule", () => {
  describe("getNextBackupRunDate", () => {
    it("returns baseTime unchanged when it is already after the last backup on an allowed day", () => {
      expect(next("2025-01-01T14:05:00Z", "2025-01-02T14:00:00Z", "1D")).to.equal("2025-01-02T14:00:00.000Z");
    });

    it("new job: last + interval, same time of day (doc example 4)", () => {
      expect(next("2025-01-01T14:05:00Z", "2025-01-01T14:05:00Z", "1D")).to.equal("2025-01-02T14:05:00.000Z");
    });

    it("advances a past baseTime by whole intervals (doc examples 1 and 7)", () => {
      expect(next("2025-01-02T14:03:00Z", "2025-01-02T14:00:00Z", "1D")).to.equal("2025-01-03T14:00:00.000Z");
      expect(next("2025-01-08T20:00:00Z", "2025-01-05T14:00:00Z", "1D")).to.equal("2025-01-09T14:00:00.000Z");
      expect(next("2025-01-01T14:00:00Z", "2025-01-01T14:00:00Z", "12h")).to.equal("2025-01-02T02:00:00.000Z");
    });

    it("needs baseTime at least one second after the last backup", () => {
      // Exactly last + 1 s is accepted by the early return (>=) …
      expect(next("2025-01-01T14:00:00Z", "2025-01-01T14:00:01Z", "1D")).to.equal("2025-01-01T14:00:01.000Z");
      // … but anything closer is not.
      expect(next("2025-01-01T14:00:00Z", "2025-01-01T14:00:00.500Z", "1D")).to.equal("2025-01-02T14:00:00.500Z");
    });

    it("treats an empty weekday list as every day", () => {
      expect(next("2025-01-03T14:00:00Z", "2025-01-03T14:00:00Z", "1D", [])).to.equal("2025-01-04T14:00:00.000Z");
    });

    it("weekdays only: a daily job after Friday is expected on Monday", () => {
      expect(next("2025-01-03T14:00:00Z", "2025-01-03T14:00:00Z", "1D", WEEKDAYS)).to.equal("2025-01-06T14:00:00.000Z");
      // Mid-week it is just the next day.
      expect(next("2025-01-07T14:00:00Z", "2025-01-07T14:00:00Z", "1D", WEEKDAYS)).to.equal("2025-01-08T14:00:00.000Z");
    });

    it("a single weekday: steps day by day to it, keeping the time of day", () => {
      // Tuesday → next Monday.
      expect(next("2025-01-07T14:00:00Z", "2025-01-07T14:00:00Z", "1D", [1])).to.equal("2025-01-13T14:00:00.000Z");
      // Weekly from Monday with only Wednesday allowed → Mon + 1W, then to Wednesday.
      expect(next("2025-01-06T14:00:00Z", "2025-01-06T14:00:00Z", "1W", [3])).to.equal("2025-01-15T14:00:00.000Z");
    });

    it("weekly with Mon/Wed/Fri allowed stays on Monday (doc example)", () => {
      expect(next("2025-01-06T14:00:00Z", "2025-01-06T14:00:00Z", "1W", [1, 3, 5])).to.equal(
        "2025-01-13T14:00:00.000Z",
      );
    });

    it("intervals under a day keep adding the interval until an allowed day", () => {
      // Friday 23:45 every 30 min, weekdays only → Monday 00:15, not Monday 23:45.
      expect(next("2025-01-03T23:45:00Z", "2025-01-03T23:45:00Z", "30m", WEEKDAYS)).to.equal(
        "2025-01-06T00:15:00.000Z",
      );
      // Every 15 min from Saturday 10:07, Sunday only → Sunday 00:07.
      expect(next("2025-01-04T10:07:00Z", "2025-01-04T10:07:00Z", "15m", [0])).to.equal("2025-01-05T00:07:00.000Z");
      // Every 6 h from Friday 20:00, weekend only → Saturday 02:00.
      expect(next("2025-01-03T20:00:00Z", "2025-01-03T20:00:00Z", "6h", [0, 6])).to.equal("2025-01-04T02:00:00.000Z");
    });

    it("uses UTC weekdays, whatever the host time zone", () => {
      inTimeZone("Asia/Tokyo", () => {
        // Sunday 23:30 UTC is Monday 08:30 in Tokyo, but Monday-only means UTC Monday.
        expect(next("2025-01-04T23:30:00Z", "2025-01-04T23:30:00Z", "1D", [1])).to.equal("2025-01-06T23:30:00.000Z");
      });
    });

    it("month intervals use setUTCMonth overflow at month ends", () => {
      expect(next("2025-01-31T14:00:00Z", "2025-01-31T14:00:00Z", "1M")).to.equal("2025-03-03T14:00:00.000Z");
      // Month intervals count as "at least a day" for weekday stepping: Mar 3 2025 is a
      // Monday, so with weekends only it moves to Saturday Mar 8.
      expect(next("2025-01-31T14:00:00Z", "2025-01-31T14:00:00Z", "1M", [0, 6])).to.equal("2025-03-08T14:00:00.000Z");
    });

    it("ignores the host's DST changes (intervals are UTC)", () => {
      inTimeZone("Europe/London", () => {
        // BST starts Sunday 2025-03-30: still 14:00 UTC, i.e. 15:00 local.
        const result = getNextBackupRunDate(d("2025-03-29T14:00:00Z"), d("2025-03-29T14:00:00Z"), "1D", ALL_DAYS);
        expect(result.toISOString()).to.equal("2025-03-30T14:00:00.000Z");
        expect(result.getHours()).to.equal(15);
        // GMT returns Sunday 2025-10-26.
        expect(next("2025-10-25T14:00:00Z", "2025-10-25T14:00:00Z", "1D")).to.equal("2025-10-26T14:00:00.000Z");
        // Weekday stepping across the change keeps the UTC time too.
        expect(next("2025-03-28T14:00:00Z", "2025-03-28T14:00:00Z", "1D", WEEKDAYS)).to.equal(
          "2025-03-31T14:00:00.000Z",
        );
      });
      inTimeZone("America/New_York", () => {
        expect(next("2025-03-08T07:00:00Z", "2025-03-08T07:00:00Z", "1D")).to.equal("2025-03-09T07:00:00.000Z");
      });
    });

    it("accepts pre-parsed tokens", () => {
      const result = getNextBackupRunDate(
        d("2025-01-01T14:00:00Z"),
        d("2025-01-01T14:00:00Z"),
        [
          { amount: 1, unit: "D" },
          { amount: 2, unit: "h" },
        ],
        ALL_DAYS,
      );
      expect(result.toISOString()).to.equal("2025-01-02T16:00:00.000Z");
    });

    it("does not mutate its arguments and returns a fresh Date", () => {
      const last = d("2025-01-03T14:00:00Z");
      const base = d("2025-01-04T14:00:00Z");
      const days = [1];
      const result = getNextBackupRunDate(last, base, "1W", days);
      expect(result.toISOString()).to.equal("2025-01-06T14:00:00.000Z");
      expect(base.toISOString()).to.equal("2025-01-04T14:00:00.000Z");
      expect(last.toISOString()).to.equal("2025-01-03T14:00:00.000Z");
      expect(days).to.deep.equal([1]);

      const early = getNextBackupRunDate(last, base, "1D", ALL_DAYS);
      expect(early.getTime()).to.equal(base.getTime());
      expect(early).to.not.equal(base);
    });

    it("throws a clear error on invalid dates", () => {
      const ok = d("2025-01-01T14:00:00Z");
      expect(() => getNextBackupRunDate(d("nope"), ok, "1D", ALL_DAYS)).to.throw(/Invalid lastBackup date/);
      expect(() => getNextBackupRunDate(ok, d("nope"), "1D", ALL_DAYS)).to.throw(/Invalid baseTime date/);
      expect(() => getNextBackupRunDate("2025-01-01" as unknown as Date, ok, "1D", ALL_DAYS)).to.throw(
        /Invalid lastBackup date/,
      );
    });

    it("throws on an invalid interval, even when baseTime would be returned as is", () => {
      const last = d("2025-01-01T14:00:00Z");
      const base = d("2025-01-02T14:00:00Z");
      for (const bad of ["", "1d", "0", "abc"]) {
        expect(() => getNextBackupRunDate(last, base, bad, ALL_DAYS), bad).to.throw(/Invalid interval/);
      }
      expect(() => getNextBackupRunDate(last, base, [], ALL_DAYS)).to.throw(/Invalid interval/);
      expect(() => getNextBackupRunDate(last, base, [{ amount: 0, unit: "D" }], ALL_DAYS)).to.throw(/Invalid interval/);
    });

    it("throws when no listed weekday is 0–6, and ignores stray values otherwise", () => {
      const at = d("2025-01-01T14:00:00Z");
      expect(() => getNextBackupRunDate(at, at, "1D", [7, 9])).to.throw(/no weekday/);
      expect(() => getNextBackupRunDate(at, at, "30m", [-1])).to.throw(/no weekday/);
      expect(getNextBackupRunDate(at, at, "1D", [9, 1]).toISOString()).to.equal("2025-01-06T14:00:00.000Z");
    });

    it("throws when the 50 000-step cap is hit", () => {
      // 1 s steps cannot cover a 25-year gap.
      expect(() => next("2025-01-01T00:00:00Z", "2000-01-01T00:00:00Z", "1s")).to.throw(/50000/);
      // 50 000 × 10 s is under 7 days, so a Sunday-only filter from Monday is out of reach.
      expect(() => next("2025-01-06T00:00:00Z", "2025-01-06T00:00:00Z", "10s", [0])).to.throw(/No allowed weekday/);
    });

    it("throws when the interval overflows the Date range", () => {
      expect(() => next("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "999999999Y")).to.throw(/out of range/);
    });
  });

  describe("computeNextExpected", () => {
    it("without a previous value equals getNextBackupRunDate(latest, latest, …)", () => {
      const latest = "2025-01-03T14:05:00Z";
      expect(maintain(latest, null)).to.equal("2025-01-04T14:05:00.000Z");
      expect(maintain(latest, null, "1D", WEEKDAYS)).to.equal(next(latest, latest, "1D", WEEKDAYS));
      expect(maintain(latest, null, "6h")).to.equal(next(latest, latest, "6h"));
    });

    it("scheduled run slightly late keeps 14:00 (doc example 1)", () => {
      expect(maintain("2025-01-02T14:03:00Z", "2025-01-02T14:00:00Z")).to.equal("2025-01-03T14:00:00.000Z");
    });

    it("expected 14:00, manual run 22:00 → next 14:00 next day (doc example 2)", () => {
      expect(maintain("2025-01-03T22:00:00Z", "2025-01-03T14:00:00Z")).to.equal("2025-01-04T14:00:00.000Z");
    });

    it("run at 13:59 before a 14:00 schedule → 13:59 next day (code, not doc example 3)", () => {
      // Rebased 14:00 on the run's date is still after 13:59, so the run itself is the base.
      expect(maintain("2025-01-04T13:59:00Z", "2025-01-04T14:00:00Z")).to.equal("2025-01-05T13:59:00.000Z");
    });

    it("as upstream, a run earlier in the day than the schedule moves the schedule for good", () => {
      // Schedule 14:00; a manual run at 10:00 on the scheduled day → next expected 10:00.
      const afterManual = maintain("2025-01-05T10:00:00Z", "2025-01-05T14:00:00Z");
      expect(afterManual).to.equal("2025-01-06T10:00:00.000Z");
      // The real 14:00 run that day does not bring 14:00 back …
      const afterScheduled = maintain("2025-01-05T14:00:00Z", afterManual);
      expect(afterScheduled).to.equal("2025-01-06T10:00:00.000Z");
      // … so each later 14:00 run is 4 h "late" (overdue with a tolerance under 4 h).
      expect(maintain("2025-01-06T14:00:00Z", afterScheduled)).to.equal("2025-01-07T10:00:00.000Z");
    });

    it("a future expected time is rebased onto the run's date when that is not after the run", () => {
      // E.g. after a schedule sync set time to tomorrow 14:00 and a run arrives at 16:00.
      expect(maintain("2025-01-04T16:00:00Z", "2025-01-05T14:00:00Z")).to.equal("2025-01-05T14:00:00.000Z");
      // Seconds and milliseconds of the schedule survive the rebase.
      expect(maintain("2025-01-04T16:00:00Z", "2025-01-09T14:00:30.250Z")).to.equal("2025-01-05T14:00:30.250Z");
    });

    it("after a Duplicati schedule sync (doc example 5)", () => {
      expect(maintain("2025-01-05T14:03:00Z", "2025-01-05T14:00:00Z")).to.equal("2025-01-06T14:00:00.000Z");
    });

    it("catches up after missed runs, preserving the time of day (doc example 7)", () => {
      expect(maintain("2025-01-08T20:00:00Z", "2025-01-05T14:00:00Z")).to.equal("2025-01-09T14:00:00.000Z");
    });

    it("respects the weekday filter", () => {
      // Friday run, weekdays only → Monday 14:00.
      expect(maintain("2025-01-03T14:05:00Z", "2025-01-03T14:00:00Z", "1D", WEEKDAYS)).to.equal(
        "2025-01-06T14:00:00.000Z",
      );
      // A manual run on Saturday evening keeps Monday 14:00 …
      expect(maintain("2025-01-04T20:00:00Z", "2025-01-06T14:00:00Z", "1D", WEEKDAYS)).to.equal(
        "2025-01-06T14:00:00.000Z",
      );
      // … but one at 10:00 (earlier in the day than the schedule) takes over its time of
      // day, like the 13:59 case: Saturday 14:00 is after the run, so the run is the base.
      expect(maintain("2025-01-04T10:00:00Z", "2025-01-06T14:00:00Z", "1D", WEEKDAYS)).to.equal(
        "2025-01-06T10:00:00.000Z",
      );
      // Every 30 min on the hour and half hour, weekdays only: run Friday 23:45 → Monday 00:00.
      expect(maintain("2025-01-03T23:45:00Z", "2025-01-03T23:30:00Z", "30m", WEEKDAYS)).to.equal(
        "2025-01-06T00:00:00.000Z",
      );
    });

    it("follows a job whose interval changes", () => {
      const latest = "2025-01-07T14:02:00Z";
      // Was weekly (next Jan 13 14:00), now daily → tomorrow 14:00.
      expect(maintain(latest, "2025-01-13T14:00:00Z", "1D")).to.equal("2025-01-08T14:00:00.000Z");
      // Was daily (next Jan 8 14:00), now weekly → a week after today's 14:00.
      expect(maintain(latest, "2025-01-08T14:00:00Z", "1W")).to.equal("2025-01-14T14:00:00.000Z");
      // Was daily, now every 12 h → tonight 02:00.
      expect(maintain(latest, "2025-01-08T14:00:00Z", "12h")).to.equal("2025-01-08T02:00:00.000Z");
      // Forced recomputation with an unchanged latest run gives the same answers.
      expect(maintain(latest, "2025-01-08T14:00:00Z", "1D")).to.equal("2025-01-08T14:00:00.000Z");
    });

    it("keeps the UTC time of day across the host's DST change", () => {
      inTimeZone("Europe/London", () => {
        expect(maintain("2025-03-29T14:10:00Z", "2025-03-29T14:00:00Z")).to.equal("2025-03-30T14:00:00.000Z");
        expect(maintain("2025-03-30T22:00:00Z", "2025-03-30T14:00:00Z")).to.equal("2025-03-31T14:00:00.000Z");
      });
    });

    it("treats an invalid previous value like a missing one", () => {
      expect(maintain("2025-01-03T14:05:00Z", "garbage")).to.equal("2025-01-04T14:05:00.000Z");
    });

    it("throws on an invalid latest run or interval", () => {
      expect(() => maintain("nope", null)).to.throw(/Invalid latestRun date/);
      expect(() => maintain("2025-01-03T14:05:00Z", null, "1d")).to.throw(/Invalid interval/);
      expect(() => maintain("2025-01-03T14:05:00Z", "2025-01-04T14:00:00Z", "")).to.throw(/Invalid interval/);
    });
  });

  describe("isOverdue", () => {
    const expected = d("2025-01-06T14:00:00Z");

    it("is overdue only strictly after expected + tolerance", () => {
      const tol = TOLERANCE_MINUTES["2h"];
      expect(isOverdue(expected, tol, d("2025-01-06T15:59:59.999Z"))).to.equal(false);
      expect(isOverdue(expected, tol, d("2025-01-06T16:00:00.000Z"))).to.equal(false);
      expect(isOverdue(expected, tol, d("2025-01-06T16:00:00.001Z"))).to.equal(true);
    });

    it("with no tolerance, right after the expected time", () => {
      expect(isOverdue(expected, 0, d("2025-01-06T14:00:00.000Z"))).to.equal(false);
      expect(isOverdue(expected, 0, d("2025-01-06T14:00:00.001Z"))).to.equal(true);
    });

    it("doc example 6: two days late with 1 h tolerance", () => {
      expect(isOverdue(expected, TOLERANCE_MINUTES["1h"], d("2025-01-08T16:00:00Z"))).to.equal(true);
    });

    it("treats negative or non-finite tolerance as none", () => {
      const justAfter = d("2025-01-06T14:00:01Z");
      expect(isOverdue(expected, -60, justAfter)).to.equal(true);
      expect(isOverdue(expected, Number.NaN, justAfter)).to.equal(true);
    });

    it("never flags invalid dates", () => {
      expect(isOverdue(d("nope"), 0, d("2025-01-08T16:00:00Z"))).to.equal(false);
      expect(isOverdue(expected, 0, d("nope"))).to.equal(false);
    });

    it("tolerance spans a DST change as real minutes", () => {
      inTimeZone("Europe/London", () => {
        // Expected 00:30 UTC on the BST start night; 2 h later is 02:30 UTC.
        const at = d("2025-03-30T00:30:00Z");
        expect(isOverdue(at, 120, d("2025-03-30T02:30:00Z"))).to.equal(false);
        expect(isOverdue(at, 120, d("2025-03-30T02:30:01Z"))).to.equal(true);
      });
    });
  });

  describe("parseNextScheduledRun", () => {
    it("parses Duplicati's compact UTC format", () => {
      expect(parseNextScheduledRun("20251121T223000Z")?.toISOString()).to.equal("2025-11-21T22:30:00.000Z");
      expect(parseNextScheduledRun(" 20240229t000000z ")?.toISOString()).to.equal("2024-02-29T00:00:00.000Z");
    });

    it("parses ISO 8601", () => {
      expect(parseNextScheduledRun("2025-11-21T22:30:00Z")?.toISOString()).to.equal("2025-11-21T22:30:00.000Z");
      expect(parseNextScheduledRun("2025-11-21T22:30:00.123Z")?.toISOString()).to.equal("2025-11-21T22:30:00.123Z");
      expect(parseNextScheduledRun("2025-11-21T22:30:00+01:00")?.toISOString()).to.equal("2025-11-21T21:30:00.000Z");
      expect(parseNextScheduledRun("2025-11-21T22:30:00-0500")?.toISOString()).to.equal("2025-11-22T03:30:00.000Z");
      expect(parseNextScheduledRun("2025-11-21 22:30")?.toISOString()).to.equal("2025-11-21T22:30:00.000Z");
      expect(parseNextScheduledRun("2025-11-21")?.toISOString()).to.equal("2025-11-21T00:00:00.000Z");
    });

    it("reads a time without offset as UTC, whatever the host zone", () => {
      inTimeZone("America/New_York", () => {
        expect(parseNextScheduledRun("2025-11-21T22:30:00")?.toISOString()).to.equal("2025-11-21T22:30:00.000Z");
      });
    });

    it("clones a valid Date", () => {
      const input = d("2025-11-21T22:30:00Z");
      const output = parseNextScheduledRun(input);
      expect(output?.getTime()).to.equal(input.getTime());
      expect(output).to.not.equal(input);
    });

    it("returns null for anything invalid", () => {
      for (const bad of [
        "",
        "garbage",
        "20250230T000000Z",
        "20251121T243000Z",
        "20251121T226000Z",
        "20251121T223000",
        "2025112T223000Z",
        "2025-13-01",
        "2025-02-29",
        "2025-11-21T22:30:00+25:00",
        "21/11/2025 22:30",
        "1700000000",
      ]) {
        expect(parseNextScheduledRun(bad), bad).to.equal(null);
      }
      for (const bad of [null, undefined, 1_700_000_000_000, {}, [], d("nope")]) {
        expect(parseNextScheduledRun(bad)).to.equal(null);
      }
    });
  });

  describe("parseAllowedWeekDays", () => {
    it("parses Duplicati's Schedule.Rule", () => {
      expect(parseAllowedWeekDays("AllowedWeekDays=Monday,Tuesday")).to.deep.equal([1, 2]);
      expect(
        parseAllowedWeekDays("AllowedWeekDays=Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday"),
      ).to.deep.equal(ALL_DAYS);
    });

    it("accepts abbreviations and any case, and sorts and de-duplicates", () => {
      expect(parseAllowedWeekDays("AllowedWeekDays=mon,WED,Fri")).to.deep.equal([1, 3, 5]);
      expect(parseAllowedWeekDays("allowedweekdays=Sunday, Saturday")).to.deep.equal([0, 6]);
      expect(parseAllowedWeekDays("AllowedWeekDays=Monday,mon,MONDAY")).to.deep.equal([1]);
    });

    it("finds the clause among others and skips unknown names", () => {
      expect(parseAllowedWeekDays("Foo=bar;AllowedWeekDays=Saturday,Sunday;Baz=1")).to.deep.equal([0, 6]);
      expect(parseAllowedWeekDays("AllowedWeekDays=Funday,Tuesday")).to.deep.equal([2]);
    });

    it("accepts a bare day list and Schedule.AllowedDays arrays", () => {
      expect(parseAllowedWeekDays("mon,tue")).to.deep.equal([1, 2]);
      expect(parseAllowedWeekDays(["sat", "sun", 3])).to.deep.equal([0, 6]);
    });

    it("falls back to every day when nothing is recognised", () => {
      for (const rule of [undefined, null, "", "AllowedWeekDays=", "AllowedWeekDays=Funday", "Foo=bar", 5, []]) {
        expect(parseAllowedWeekDays(rule), String(rule)).to.deep.equal(ALL_DAYS);
      }
    });

    it("returns a fresh array each time", () => {
      const first = parseAllowedWeekDays(undefined);
      first.push(99);
      expect(parseAllowedWeekDays(undefined)).to.deep.equal(ALL_DAYS);
    });
  });
});
