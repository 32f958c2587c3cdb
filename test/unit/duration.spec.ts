import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { formatDurationHHMMSS, parseDurationToSeconds } from "../../server/src/ingest/duration";

function fixtureDuration(file: string): unknown {
  const report: unknown = JSON.parse(readFileSync(path.join(__dirname, "../fixtures", file), "utf8"));
  const data = isRecord(report) ? report["Data"] : undefined;
  return isRecord(data) ? data["Duration"] : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

describe("parseDurationToSeconds", () => {
  describe("fixture durations", () => {
    const cases: Array<[string, string, number]> = [
      ["01-upstream-sample-success.json", "00:00:51.3856057", 51.3856057],
      ["02-success-loglines-retention.json", "00:38:31.6018052", 2311.6018052],
      ["03-warning-generator-style.json", "00:07:12", 432],
      ["04-fatal-exception-newer-shape.json", "00:00:41.4460000", 41.446],
    ];
    for (const [file, text, seconds] of cases) {
      it(`${file}: "${text}" → ${seconds}`, () => {
        const value = fixtureDuration(file);
        expect(value).to.equal(text);
        // Exact equality on purpose: the fraction must survive as the nearest double.
        expect(parseDurationToSeconds(value)).to.equal(seconds);
      });
    }
  });

  describe(".NET TimeSpan constant format", () => {
    it("reads a day part (upstream read it as a fraction of an hour)", () => {
      expect(parseDurationToSeconds("1.02:03:04.5000000")).to.equal(93784.5);
      expect(parseDurationToSeconds("10.00:00:00")).to.equal(864000);
      expect(parseDurationToSeconds("2.23:59:59.9999999")).to.equal(259199.9999999);
    });

    it("keeps every fraction digit", () => {
      expect(parseDurationToSeconds("00:00:00.0000001")).to.equal(1e-7);
      expect(parseDurationToSeconds("00:38:31.1234567")).to.equal(2311.1234567);
      expect(parseDurationToSeconds("00:00:51.3856057")).to.equal(51.3856057);
    });

    it("reads plain H:MM:SS and HH:MM:SS", () => {
      expect(parseDurationToSeconds("0:05:07")).to.equal(307);
      expect(parseDurationToSeconds("01:00:00")).to.equal(3600);
      expect(parseDurationToSeconds("00:00:00")).to.equal(0);
    });

    it("is lenient with 24 hours or more when there is no day part", () => {
      expect(parseDurationToSeconds("25:00:00")).to.equal(90000);
      expect(parseDurationToSeconds("100:00:01.5")).to.equal(360001.5);
    });

    it("ignores surrounding white space", () => {
      expect(parseDurationToSeconds("  00:00:01  ")).to.equal(1);
    });
  });

  describe("rejected values", () => {
    it("rejects negative spans", () => {
      expect(parseDurationToSeconds("-00:00:01")).to.equal(null);
      expect(parseDurationToSeconds("-1.00:00:00")).to.equal(null);
    });

    it("rejects out-of-range parts", () => {
      expect(parseDurationToSeconds("00:60:00")).to.equal(null);
      expect(parseDurationToSeconds("00:00:60")).to.equal(null);
      expect(parseDurationToSeconds("1.24:00:00")).to.equal(null);
    });

    it("rejects garbage and incomplete spans", () => {
      for (const text of ["", "abc", "12:34", "1:2:3:4", "00:00:5x", "1..02:03:04", "00:00:01.", "1.5"]) {
        expect(parseDurationToSeconds(text), text).to.equal(null);
      }
    });

    it('rejects bare numeric strings (.NET would read "432" as 432 days)', () => {
      expect(parseDurationToSeconds("432")).to.equal(null);
    });

    it("rejects non-string, non-number values", () => {
      for (const value of [null, undefined, true, {}, [], ["00:00:01"]]) {
        expect(parseDurationToSeconds(value)).to.equal(null);
      }
    });
  });

  describe("numbers (already seconds)", () => {
    it("accepts finite non-negative numbers unchanged", () => {
      expect(parseDurationToSeconds(0)).to.equal(0);
      expect(parseDurationToSeconds(51.3856057)).to.equal(51.3856057);
      expect(parseDurationToSeconds(93784.5)).to.equal(93784.5);
    });

    it("rejects negative and non-finite numbers", () => {
      for (const value of [-1, -0.001, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        expect(parseDurationToSeconds(value)).to.equal(null);
      }
    });
  });
});

describe("formatDurationHHMMSS", () => {
  it("floors to whole seconds", () => {
    expect(formatDurationHHMMSS(51.3856057)).to.equal("00:00:51");
    expect(formatDurationHHMMSS(2311.6018052)).to.equal("00:38:31");
    expect(formatDurationHHMMSS(59.999)).to.equal("00:00:59");
  });

  it("does not wrap hours at 24 and pads them to at least two digits", () => {
    expect(formatDurationHHMMSS(93784.5)).to.equal("26:03:04");
    expect(formatDurationHHMMSS(359999)).to.equal("99:59:59");
    expect(formatDurationHHMMSS(360000)).to.equal("100:00:00");
  });

  it("formats zero, negative and non-finite input as 00:00:00", () => {
    expect(formatDurationHHMMSS(0)).to.equal("00:00:00");
    expect(formatDurationHHMMSS(-5)).to.equal("00:00:00");
    expect(formatDurationHHMMSS(Number.NaN)).to.equal("00:00:00");
  });

  it("round-trips parsed durations without a day part", () => {
    for (const text of ["00:00:00", "00:07:12", "12:34:56", "23:59:59"]) {
      const seconds = parseDurationToSeconds(text);
      expect(seconds).to.be.a("number");
      expect(formatDurationHHMMSS(seconds ?? -1)).to.equal(text);
    }
  });
});
