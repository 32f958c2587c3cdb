import { expect } from "chai";
import { statisticsOf, trendOf } from "../../server/src/charts/chart-service";
import {
  ChartError,
  autoGranularity,
  parseChartQuery,
  parseInstant,
  parseMetrics,
} from "../../server/src/charts/params";

describe("chart request parsing", () => {
  const now = new Date("2025-06-11T12:00:00.000Z");
  const error = (fn: () => unknown): { status: number; body: unknown } => {
    try {
      fn();
    } catch (err) {
      expect(err).to.be.instanceOf(ChartError);
      return { status: (err as ChartError).status, body: (err as ChartError).body };
    }
    return expect.fail("no error");
  };

  it("instants: epoch milliseconds, ISO dates and date-times (UTC without an offset), an unencoded plus sign", () => {
    expect(parseInstant("1749643200000")).to.equal(Date.parse("2025-06-11T12:00:00Z"));
    expect(parseInstant("2025-06-11")).to.equal(Date.parse("2025-06-11T00:00:00Z"));
    expect(parseInstant("2025-06-11T12:00")).to.equal(Date.parse("2025-06-11T12:00:00Z"));
    expect(parseInstant("2025-06-11 12:00:00.5")).to.equal(Date.parse("2025-06-11T12:00:00.500Z"));
    expect(parseInstant("2025-06-11T14:00:00+02:00")).to.equal(Date.parse("2025-06-11T12:00:00Z"));
    expect(parseInstant("2025-06-11T14:00:00 02:00")).to.equal(Date.parse("2025-06-11T12:00:00Z"));
    expect(parseInstant("2025-06-11T12:00:00.000Z")).to.equal(Date.parse("2025-06-11T12:00:00Z"));
    for (const bad of [
      "",
      "now",
      "2025-02-30",
      "2025-13-01",
      "11/06/2025",
      "2025-06-11T25:00",
      "-5",
      "99999-01-01",
      "1e12",
    ]) {
      expect(parseInstant(bad), bad).to.equal(null);
    }
  });

  it("metrics: all, one, a list (answered in a fixed order)", () => {
    expect(parseMetrics(undefined)).to.deep.equal(["duration", "size", "files", "storage", "uploaded", "versions"]);
    expect(parseMetrics("all")).to.have.length(6);
    expect(parseMetrics("versions,duration")).to.deep.equal(["duration", "versions"]);
    expect(error(() => parseMetrics("size,")).body).to.deep.equal({
      status: "error",
      error: "ValidationError",
      message: "Invalid metric format",
    });
  });

  it("defaults and ranges", () => {
    const r = parseChartQuery({}, now);
    expect(r).to.deep.include({
      period: "7d",
      granularity: "hour",
      toMs: now.getTime(),
      fromMs: now.getTime() - 7 * 86_400_000,
    });
    expect(new Date(r.startMs).toISOString()).to.equal("2025-06-04T12:00:00.000Z");
    expect(new Date(r.endMs).toISOString()).to.equal("2025-06-11T13:00:00.000Z");
    const w = parseChartQuery({ period: "1y", granularity: "week" }, now);
    expect(new Date(w.startMs).getUTCDay()).to.equal(1);
    expect(parseChartQuery({ from: "2025-06-01", to: "2025-06-01" }, now)).to.deep.include({
      period: "custom",
      granularity: "minute",
    });
    expect(parseChartQuery({ period: "", metric: "", granularity: "" }, now)).to.deep.include({
      period: "7d",
      granularity: "hour",
    });
  });

  it("errors", () => {
    expect(error(() => parseChartQuery({ period: "7days" }, now))).to.deep.equal({
      status: 400,
      body: { status: "error", error: "ValidationError", message: "Invalid period format" },
    });
    expect(error(() => parseChartQuery({ granularity: ["day", "week"] }, now)).body).to.include({
      message: "Invalid granularity format",
    });
    expect(error(() => parseChartQuery({ endDate: "x" }, now)).body).to.include({ message: "Invalid date format" });
    expect(error(() => parseChartQuery({ from: "2025-06-12" }, now)).body).to.include({
      message: "Invalid date range",
    });
    expect(
      (error(() => parseChartQuery({ period: "90d", granularity: "minute" }, now)).body as { message: string }).message,
    ).to.match(/^Too many data points: 1296\d\d minute buckets \(at most 50000\)/);
  });

  it("auto granularity: the finest with at most 1000 buckets", () => {
    const h = 3_600_000;
    expect(autoGranularity(0, 16 * h)).to.equal("minute");
    expect(autoGranularity(0, 17 * h)).to.equal("hour");
    expect(autoGranularity(0, 41 * 24 * h)).to.equal("hour");
    expect(autoGranularity(0, 42 * 24 * h)).to.equal("day");
    expect(autoGranularity(0, 3000 * 24 * h)).to.equal("week");
  });
});

describe("chart statistics", () => {
  const pts = (values: number[]) => values.map((value, i) => ({ time: i * 86_400_000, value }));

  it("min, max, avg (2 decimals), total; nothing without points", () => {
    expect(statisticsOf(pts([1, 2, 2]))).to.deep.equal({ min: 1, max: 2, avg: 1.67, total: 5, trend: "increasing" });
    expect(statisticsOf([])).to.deep.equal({ min: null, max: null, avg: null, total: 0, trend: null });
    expect(statisticsOf(pts([0.1, 0.2])).total).to.equal(0.3);
  });

  it("trend: least-squares change over the range against ±5 % of the mean", () => {
    expect(trendOf(pts([100]))).to.equal(null);
    expect(trendOf(pts([100, 100, 100]))).to.equal("stable");
    expect(trendOf(pts([100, 102, 104]))).to.equal("stable"); // +4 % of the mean
    expect(trendOf(pts([100, 104, 108]))).to.equal("increasing"); // +7.7 %
    expect(trendOf(pts([108, 104, 100]))).to.equal("decreasing");
    expect(trendOf(pts([0, 0]))).to.equal("stable");
    expect(trendOf(pts([0, 5]))).to.equal("increasing");
    expect(
      trendOf([
        { time: 0, value: 100 },
        { time: 10 * 86_400_000, value: 100 },
        { time: 11 * 86_400_000, value: 200 },
      ]),
    ).to.equal("increasing");
  });
});
