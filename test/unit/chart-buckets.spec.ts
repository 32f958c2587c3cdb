import { expect } from "chai";
import {
  GRANULARITIES,
  bucketCount,
  bucketEndMs,
  bucketStartIso,
  bucketStartMs,
} from "../../server/src/charts/buckets";
import { bucketStartSql, openSqliteFile } from "../../server/src/db/dialect";

/** The JavaScript bucket arithmetic (ingest path, ranges) must agree with the SQL of the dialect (aggregations). */
describe("chart buckets", () => {
  const iso = (ms: number) => new Date(ms).toISOString();

  it("weeks start on Monday 00:00 UTC", () => {
    expect(bucketStartIso("week", "2025-06-08T23:59:59.999Z")).to.equal("2025-06-02T00:00:00.000Z"); // Sunday
    expect(bucketStartIso("week", "2025-06-09T00:00:00.000Z")).to.equal("2025-06-09T00:00:00.000Z"); // Monday
    expect(bucketStartIso("week", "2025-06-11T12:00:00.000Z")).to.equal("2025-06-09T00:00:00.000Z");
    expect(bucketStartIso("week", "1970-01-01T00:00:00.000Z")).to.equal("1969-12-29T00:00:00.000Z");
    expect(bucketStartIso("week", "1969-12-28T10:00:00.000Z")).to.equal("1969-12-22T00:00:00.000Z");
  });

  it("minute, hour and day buckets; bucket ends and counts", () => {
    const t = Date.parse("2024-02-29T23:59:59.999Z");
    expect(iso(bucketStartMs("minute", t))).to.equal("2024-02-29T23:59:00.000Z");
    expect(iso(bucketStartMs("hour", t))).to.equal("2024-02-29T23:00:00.000Z");
    expect(iso(bucketStartMs("day", t))).to.equal("2024-02-29T00:00:00.000Z");
    expect(iso(bucketEndMs("day", t))).to.equal("2024-03-01T00:00:00.000Z");
    expect(bucketCount("day", Date.parse("2025-06-01T12:00:00Z"), Date.parse("2025-06-03T00:00:00Z"))).to.equal(3);
    expect(bucketCount("hour", t, t)).to.equal(1);
  });

  it("the SQLite expressions give the same bucket starts as the JavaScript, over many instants", () => {
    const conn = openSqliteFile(":memory:", { readonly: false });
    try {
      conn.exec("CREATE TABLE t (date TEXT NOT NULL)");
      const insert = conn.prepare("INSERT INTO t (date) VALUES (?)");
      const instants: number[] = [];
      // Every hour around several week, month, year and leap-day boundaries, plus pseudo-random instants.
      for (const around of ["2024-02-26", "2024-12-29", "2025-03-30", "2025-10-26", "2000-02-28", "1999-12-31"]) {
        const base = Date.parse(`${around}T00:00:00.000Z`);
        for (let h = -48; h <= 24 * 9; h++) instants.push(base + h * 3_600_000 + ((h * 7919) % 3_600_000));
      }
      let x = 12345;
      for (let i = 0; i < 2000; i++) {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        instants.push(Date.parse("1990-01-01T00:00:00Z") + (x / 2 ** 31) * 60 * 365 * 86_400_000);
      }
      for (const ms of instants) insert.run(iso(Math.floor(ms)));
      for (const g of GRANULARITIES) {
        const rows = conn
          .prepare(`SELECT date, ${bucketStartSql("sqlite", g, "date")} AS bucket FROM t`)
          .all() as Array<{
          date: string;
          bucket: string;
        }>;
        expect(rows.length).to.equal(instants.length);
        for (const r of rows) expect(r.bucket, `${g} of ${r.date}`).to.equal(bucketStartIso(g, r.date));
      }
    } finally {
      conn.close();
    }
  });

  it("the PostgreSQL expressions truncate with date_trunc in UTC and format like toISOString", () => {
    for (const g of GRANULARITIES) {
      const sql = bucketStartSql("postgres", g, "b.date");
      expect(sql).to.contain(`date_trunc('${g}', ((b.date)::timestamptz AT TIME ZONE 'UTC'))`);
      expect(sql).to.contain(`'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`);
    }
  });
});
