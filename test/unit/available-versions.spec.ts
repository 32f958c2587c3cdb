import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { extractAvailableVersions, logLineOffsetMinutes } from "../../server/src/ingest/available-versions";

const PREFIX_BACKUP_LIST = "[Information-Duplicati.Library.Main.Operation.DeleteHandler:RetentionPolicy-BackupList]: ";
const PREFIX_TO_DELETE =
  "[Information-Duplicati.Library.Main.Operation.DeleteHandler:RetentionPolicy-AllBackupsToDelete]: ";

/** A Duplicati log line with the given UTC offset printed after its time stamp. */
function logLine(offset: string, message: string): string {
  return `2025-06-14 02:38:01 ${offset} - ${message}`;
}

function consider(list: string, offset = "+00"): string {
  return logLine(offset, `${PREFIX_BACKUP_LIST}Backups to consider: ${list}`);
}

function toDelete(list: string, offset = "+00"): string {
  return logLine(offset, `${PREFIX_TO_DELETE}All backups to delete: ${list}`);
}

/** Versions of a single printed timestamp read at UTC (the "+00" prefix). */
function one(timestamp: string): string[] {
  return extractAvailableVersions([consider(timestamp)]);
}

function readFixture(file: string): unknown {
  return JSON.parse(readFileSync(path.join(__dirname, "../fixtures", file), "utf8"));
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error("fixture field is not an array");
  return value;
}

describe("extractAvailableVersions", () => {
  describe("fixtures", () => {
    it("02 (LogLines, +01 prefix): 11 considered minus 1 deleted, read at +01", () => {
      const lines = asArray(field(readFixture("02-success-loglines-retention.json"), "LogLines"));
      const expected = [
        "2025-06-14T01:00:00.000Z",
        "2025-06-13T01:00:03.000Z",
        "2025-06-12T01:00:01.000Z",
        "2025-06-11T01:00:02.000Z",
        "2025-06-10T01:00:00.000Z",
        "2025-06-09T01:00:04.000Z",
        "2025-06-08T01:00:01.000Z",
        "2025-06-01T01:00:02.000Z",
        "2025-05-25T01:00:00.000Z",
        "2025-05-18T01:00:03.000Z",
      ];
      expect(extractAvailableVersions(lines)).to.deep.equal(expected);
      // The printed offset wins over any configured zone.
      expect(extractAvailableVersions(lines, "America/New_York")).to.deep.equal(expected);
      expect(extractAvailableVersions(lines, "UTC")).to.deep.equal(expected);
    });

    it("03 (Data.Messages, +01 prefix, empty deletion list): all 7 versions, read at +01", () => {
      const messages = asArray(field(field(readFixture("03-warning-generator-style.json"), "Data"), "Messages"));
      expect(extractAvailableVersions(messages, "UTC")).to.deep.equal([
        "2025-08-03T23:14:55.000Z",
        "2025-07-31T14:10:00.000Z",
        "2025-07-18T14:10:00.000Z",
        "2025-06-30T22:34:57.000Z",
        "2025-06-29T15:08:11.000Z",
        "2025-05-18T19:39:59.000Z",
        "2025-04-12T15:31:15.000Z",
      ]);
    });

    it("01 and 04 (no retention lines) give no versions", () => {
      for (const file of ["01-upstream-sample-success.json", "04-fatal-exception-newer-shape.json"]) {
        const report = readFixture(file);
        const lines = field(report, "LogLines") ?? field(field(report, "Data"), "Messages");
        expect(extractAvailableVersions(Array.isArray(lines) ? lines : null)).to.deep.equal([]);
      }
    });
  });

  describe("timestamp formats (reference §3.4)", () => {
    it("yyyy-MM-dd HH:mm:ss", () => {
      expect(one("2025-06-14 14:05:09")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
    });

    it("yyyy.MM.dd HH:mm:ss", () => {
      expect(one("2025.06.14 14:05:09")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
    });

    it("yyyy.MM.dd AM|PM hh:mm:ss", () => {
      expect(one("2025.06.14 AM 02:05:09")).to.deep.equal(["2025-06-14T02:05:09.000Z"]);
      expect(one("2025.06.14 PM 02:05:09")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
    });

    it("yyyy/MM/dd hh:mm:ss AM|PM", () => {
      expect(one("2025/06/14 02:05:09 AM")).to.deep.equal(["2025-06-14T02:05:09.000Z"]);
      expect(one("2025/06/14 02:05:09 PM")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
    });

    it("d/M/yyyy HH:mm:ss (day first)", () => {
      expect(one("14/06/2025 14:05:09")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
      expect(one("4/6/2025 9:05:09")).to.deep.equal(["2025-06-04T09:05:09.000Z"]);
    });

    it("d/M/yyyy HH.mm.ss", () => {
      expect(one("14/06/2025 14.05.09")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
    });

    it("d.M.yyyy HH:mm:ss", () => {
      expect(one("14.06.2025 14:05:09")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
      expect(one("4.6.2025 14:05:09")).to.deep.equal(["2025-06-04T14:05:09.000Z"]);
    });

    it("M/d/yyyy h:mm:ss AM|PM", () => {
      expect(one("6/14/2025 2:05:09 PM")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
      expect(one("6/14/2025 2:05:09 AM")).to.deep.equal(["2025-06-14T02:05:09.000Z"]);
    });

    it("12 AM is midnight and 12 PM is noon", () => {
      expect(one("6/14/2025 12:00:00 AM")).to.deep.equal(["2025-06-14T00:00:00.000Z"]);
      expect(one("6/14/2025 12:30:00 PM")).to.deep.equal(["2025-06-14T12:30:00.000Z"]);
    });

    it("accepts a no-break space or narrow no-break space before AM/PM", () => {
      expect(one("6/14/2025 2:05:09\u00A0PM")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
      expect(one("6/14/2025 2:05:09\u202FPM")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
      expect(one("2025.06.14\u00A0PM\u202F02:05:09")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
    });

    it("accepts lower-case and dotted designators (e.g. en-AU, es)", () => {
      expect(one("6/14/2025 2:05:09 pm")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
      expect(one("6/14/2025 2:05:09 p.m.")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
      expect(one("6/14/2025 2:05:09 a.m.")).to.deep.equal(["2025-06-14T02:05:09.000Z"]);
    });

    it("accepts the Korean/Chinese/Japanese designators before the time", () => {
      expect(one("2025-06-14 오후 2:05:09")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
      expect(one("2025/6/14 上午 2:05:09")).to.deep.equal(["2025-06-14T02:05:09.000Z"]);
      expect(one("2025/06/14 午後 2:05:09")).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
    });

    it("gives the same instant for the same moment printed in different cultures", () => {
      const list = "6/14/2025 2:05:09 PM, 14/06/2025 14:05:09, 14.06.2025 14:05:09, 2025-06-14 14:05:09";
      expect(extractAvailableVersions([consider(list)])).to.deep.equal(["2025-06-14T14:05:09.000Z"]);
    });
  });

  describe("day/month disambiguation of slash dates", () => {
    it("first number above 12 ⇒ day first", () => {
      expect(one("13/06/2025 2:00:00 PM")).to.deep.equal(["2025-06-13T14:00:00.000Z"]);
    });

    it("second number above 12 ⇒ month first", () => {
      expect(one("06/13/2025 2:00:00 PM")).to.deep.equal(["2025-06-13T14:00:00.000Z"]);
      expect(one("06/13/2025 14:00:00")).to.deep.equal(["2025-06-13T14:00:00.000Z"]);
    });

    it("ambiguous with AM/PM ⇒ month first", () => {
      expect(one("05/06/2025 2:00:00 PM")).to.deep.equal(["2025-05-06T14:00:00.000Z"]);
    });

    it("ambiguous with a 24-hour clock ⇒ day first", () => {
      expect(one("05/06/2025 14:00:00")).to.deep.equal(["2025-06-05T14:00:00.000Z"]);
    });

    it("an unambiguous entry settles the order for the whole report", () => {
      const list = "14/06/2025 2:00:00 PM, 05/06/2025 2:00:00 PM";
      expect(extractAvailableVersions([consider(list)])).to.deep.equal([
        "2025-06-14T14:00:00.000Z",
        "2025-06-05T14:00:00.000Z",
      ]);
    });

    it("the order settled by the considered list also applies to the deletion list", () => {
      const lines = [
        consider("14/06/2025 2:00:00 PM, 07/06/2025 2:00:00 PM, 05/06/2025 2:00:00 PM"),
        toDelete("05/06/2025 2:00:00 PM"),
      ];
      expect(extractAvailableVersions(lines)).to.deep.equal(["2025-06-14T14:00:00.000Z", "2025-06-07T14:00:00.000Z"]);
    });

    it("contradicting evidence falls back to the per-entry rule", () => {
      const list = "14/06/2025 14:00:00, 06/13/2025 14:00:00, 05/06/2025 14:00:00";
      expect(extractAvailableVersions([consider(list)])).to.deep.equal([
        "2025-06-14T14:00:00.000Z",
        "2025-06-13T14:00:00.000Z",
        "2025-06-05T14:00:00.000Z",
      ]);
    });
  });

  describe("deletions and line selection", () => {
    it("subtracts every listed deletion", () => {
      const lines = [
        consider("2025-06-14 02:00:00, 2025-06-13 02:00:00, 2025-06-12 02:00:00, 2025-06-11 02:00:00"),
        toDelete("2025-06-13 02:00:00, 2025-06-11 02:00:00"),
      ];
      expect(extractAvailableVersions(lines)).to.deep.equal(["2025-06-14T02:00:00.000Z", "2025-06-12T02:00:00.000Z"]);
    });

    it("an empty deletion tail deletes nothing", () => {
      const lines = [consider("2025-06-14 02:00:00, 2025-06-13 02:00:00"), toDelete("")];
      expect(extractAvailableVersions(lines)).to.deep.equal(["2025-06-14T02:00:00.000Z", "2025-06-13T02:00:00.000Z"]);
    });

    it("ignores deletions that were not considered", () => {
      const lines = [consider("2025-06-14 02:00:00"), toDelete("2025-01-01 02:00:00")];
      expect(extractAvailableVersions(lines)).to.deep.equal(["2025-06-14T02:00:00.000Z"]);
    });

    it("works whatever the order of the two lines", () => {
      const lines = [toDelete("2025-06-13 02:00:00"), consider("2025-06-14 02:00:00, 2025-06-13 02:00:00")];
      expect(extractAvailableVersions(lines)).to.deep.equal(["2025-06-14T02:00:00.000Z"]);
    });

    it("the last considered list wins", () => {
      const lines = [consider("2025-01-01 00:00:00, 2025-01-02 00:00:00"), consider("2025-06-14 02:00:00")];
      expect(extractAvailableVersions(lines)).to.deep.equal(["2025-06-14T02:00:00.000Z"]);
    });

    it("the last deletion list wins, even when it is empty", () => {
      const list = "2025-06-14 02:00:00, 2025-06-13 02:00:00";
      expect(
        extractAvailableVersions([consider(list), toDelete("2025-06-14 02:00:00"), toDelete("2025-06-13 02:00:00")]),
      ).to.deep.equal(["2025-06-14T02:00:00.000Z"]);
      expect(extractAvailableVersions([consider(list), toDelete("2025-06-14 02:00:00"), toDelete("")])).to.deep.equal([
        "2025-06-14T02:00:00.000Z",
        "2025-06-13T02:00:00.000Z",
      ]);
    });

    it("gives nothing without a considered list", () => {
      expect(extractAvailableVersions([toDelete("2025-06-14 02:00:00"), "Some other message"])).to.deep.equal([]);
      expect(extractAvailableVersions([])).to.deep.equal([]);
      expect(extractAvailableVersions([consider("")])).to.deep.equal([]);
    });

    it("sorts newest first and drops duplicates", () => {
      const list = "2024-12-31 23:59:59, 2025-06-14 02:00:00, 2025-01-01 00:00:00, 2025-06-14 02:00:00";
      expect(extractAvailableVersions([consider(list)])).to.deep.equal([
        "2025-06-14T02:00:00.000Z",
        "2025-01-01T00:00:00.000Z",
        "2024-12-31T23:59:59.000Z",
      ]);
    });
  });

  describe("UTC offset printed at the start of the log line", () => {
    it("+01 shifts one hour back", () => {
      expect(extractAvailableVersions([consider("14/06/2025 02:00:00", "+01")])).to.deep.equal([
        "2025-06-14T01:00:00.000Z",
      ]);
    });

    it("-05:30 shifts five and a half hours forward", () => {
      expect(extractAvailableVersions([consider("14/06/2025 02:00:00", "-05:30")])).to.deep.equal([
        "2025-06-14T07:30:00.000Z",
      ]);
    });

    it("+0200 shifts two hours back, across midnight", () => {
      expect(extractAvailableVersions([consider("14/06/2025 01:00:00", "+0200")])).to.deep.equal([
        "2025-06-13T23:00:00.000Z",
      ]);
    });

    it("takes precedence over the configured zone", () => {
      expect(extractAvailableVersions([consider("14/06/2025 02:00:00", "+01")], "Asia/Tokyo")).to.deep.equal([
        "2025-06-14T01:00:00.000Z",
      ]);
    });

    it("each line uses its own prefix or, without one, the configured zone", () => {
      const lines = [
        consider("14/06/2025 02:00:00, 13/06/2025 02:00:00", "+01"),
        `${PREFIX_TO_DELETE}All backups to delete: 13/06/2025 02:00:00`,
      ];
      expect(extractAvailableVersions(lines, "Europe/London")).to.deep.equal(["2025-06-14T01:00:00.000Z"]);
    });
  });

  describe("lines without an offset prefix", () => {
    const bare = (list: string): string[] => [`Backups to consider: ${list}`];

    it("are read in the given zone: UTC", () => {
      expect(extractAvailableVersions(bare("14/06/2025 02:00:00, 14/01/2025 02:00:00"), "UTC")).to.deep.equal([
        "2025-06-14T02:00:00.000Z",
        "2025-01-14T02:00:00.000Z",
      ]);
    });

    it("are read in the given zone: Europe/London in summer (BST) and winter (GMT)", () => {
      expect(extractAvailableVersions(bare("14/06/2025 02:00:00, 14/01/2025 02:00:00"), "Europe/London")).to.deep.equal(
        ["2025-06-14T01:00:00.000Z", "2025-01-14T02:00:00.000Z"],
      );
    });

    it("are read in the given zone: America/New_York (EDT and EST)", () => {
      expect(
        extractAvailableVersions(bare("14/06/2025 02:00:00, 14/01/2025 02:00:00"), "America/New_York"),
      ).to.deep.equal(["2025-06-14T06:00:00.000Z", "2025-01-14T07:00:00.000Z"]);
    });

    it("resolve DST changes like Date does: repeated hour → earlier, skipped hour → moved forward", () => {
      // London: clocks go back at 02:00 BST on 26 Oct 2025, forward at 01:00 GMT on 30 Mar 2025.
      expect(extractAvailableVersions(bare("26/10/2025 01:30:00"), "Europe/London")).to.deep.equal([
        "2025-10-26T00:30:00.000Z",
      ]);
      expect(extractAvailableVersions(bare("30/03/2025 01:30:00"), "Europe/London")).to.deep.equal([
        "2025-03-30T01:30:00.000Z",
      ]);
      expect(extractAvailableVersions(bare("30/03/2025 02:00:00"), "Europe/London")).to.deep.equal([
        "2025-03-30T01:00:00.000Z",
      ]);
    });

    it("are read in the process zone by default and for an unknown zone name", () => {
      const expected = [new Date(2025, 5, 14, 2, 0, 0).toISOString(), new Date(2025, 0, 14, 2, 0, 0).toISOString()];
      const lines = bare("14/06/2025 02:00:00, 14/01/2025 02:00:00");
      expect(extractAvailableVersions(lines)).to.deep.equal(expected);
      expect(extractAvailableVersions(lines, "Not/AZone")).to.deep.equal(expected);
    });
  });

  describe("invalid entries", () => {
    it("drops out-of-range and unparsable entries and keeps the rest", () => {
      const list = [
        "14/06/2025 02:00:00",
        "31/12/1899 23:59:59",
        "01/01/2101 00:00:00",
        "13/13/2025 02:00:00",
        "31/04/2025 02:00:00",
        "29/02/2025 02:00:00",
        "14/06/2025 24:00:00",
        "14/06/2025 02:60:00",
        "14/06/2025 02:00:60",
        "6/14/2025 13:00:00 PM",
        "6/14/2025 0:00:00 AM",
        "14/06/25 02:00:00",
        "2025-06-14",
        "not a date",
        "14/06/2025 02:00",
        "14/06-2025 02:00:00",
        "14/06/2025 02:00.00",
      ].join(", ");
      expect(extractAvailableVersions([consider(list)])).to.deep.equal(["2025-06-14T02:00:00.000Z"]);
    });

    it("keeps the range limits and leap days", () => {
      const list = "01/01/1900 00:00:00, 31/12/2100 23:59:59, 29/02/2024 12:00:00";
      expect(extractAvailableVersions([consider(list)])).to.deep.equal([
        "2100-12-31T23:59:59.000Z",
        "2024-02-29T12:00:00.000Z",
        "1900-01-01T00:00:00.000Z",
      ]);
    });
  });

  describe("input shapes", () => {
    it("gives [] for null, undefined and other non-arrays", () => {
      expect(extractAvailableVersions(null)).to.deep.equal([]);
      expect(extractAvailableVersions(undefined)).to.deep.equal([]);
      for (const value of [42, {}, { LogLines: [consider("2025-06-14 02:00:00")] }, true]) {
        expect(extractAvailableVersions(value as unknown as readonly unknown[])).to.deep.equal([]);
      }
    });

    it("reads a plain string as log text, line by line", () => {
      const text = [
        "2025-06-14 02:38:01 +01 - [Information-…]: Start checking if backups can be removed",
        consider("14/06/2025 02:00:00, 13/06/2025 02:00:00", "+01"),
        toDelete("13/06/2025 02:00:00", "+01"),
        "2025-06-14 02:38:02 +01 - [Information-…]: Deleting 1 remote fileset(s) ...",
      ].join("\r\n");
      expect(extractAvailableVersions(text as unknown as readonly unknown[])).to.deep.equal([
        "2025-06-14T01:00:00.000Z",
      ]);
    });

    it("skips non-string entries", () => {
      const lines: unknown[] = [
        null,
        5,
        { message: "Backups to consider: 2020-01-01 00:00:00" },
        consider("2025-06-14 02:00:00"),
      ];
      expect(extractAvailableVersions(lines)).to.deep.equal(["2025-06-14T02:00:00.000Z"]);
    });

    it("finds the retention line among thousands of unrelated lines", () => {
      const noise = Array.from({ length: 20_000 }, (_, i) => logLine("+01", `[Verbose-Duplicati]: Checking file ${i}`));
      const lines = [...noise, consider("14/06/2025 02:00:00", "+01"), ...noise];
      expect(extractAvailableVersions(lines)).to.deep.equal(["2025-06-14T01:00:00.000Z"]);
    });
  });
});

describe("logLineOffsetMinutes", () => {
  it("reads Duplicati's zz, zzz and compact offsets", () => {
    expect(logLineOffsetMinutes("2025-06-14 02:38:01 +01 - [Information-x]: y")).to.equal(60);
    expect(logLineOffsetMinutes("2025-06-14 02:38:01 -05:30 - [Information-x]: y")).to.equal(-330);
    expect(logLineOffsetMinutes("2025-06-14 02:38:01 +0200 - [Information-x]: y")).to.equal(120);
    expect(logLineOffsetMinutes("2025-06-14 02:38:01 +00 - [Information-x]: y")).to.equal(0);
    expect(logLineOffsetMinutes("2025-06-14 02:38:01 +14 - x")).to.equal(840);
  });

  it("returns null without a prefix or with a malformed offset", () => {
    expect(logLineOffsetMinutes("Backups to consider: 14/06/2025 02:00:00")).to.equal(null);
    expect(logLineOffsetMinutes("")).to.equal(null);
    expect(logLineOffsetMinutes("2025-06-14 02:38:01 - [Information-x]: y")).to.equal(null);
    expect(logLineOffsetMinutes("2025-06-14 02:38:01 +15 - x")).to.equal(null);
    expect(logLineOffsetMinutes("2025-06-14 02:38:01 +01:75 - x")).to.equal(null);
    expect(logLineOffsetMinutes("2025-06-14 02:38:01 +012 - x")).to.equal(null);
    expect(logLineOffsetMinutes("x 2025-06-14 02:38:01 +01 - y")).to.equal(null);
  });
});
