import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { z } from "zod";
import { DuplicatiReportSchema, SimpleReportSchema } from "../../server/src/ingest/report-schema";
import { compileCheck } from "../../server/src/ingest/schema-check";

/**
 * The upload's fast "certainly valid" check (schema-check.ts) must exist for the report schemas (otherwise every
 * upload silently falls back to zod's slower safeParse) and must never accept what zod rejects.
 */
describe("compiled schema check of the upload schemas", () => {
  const fixtures = fs
    .readdirSync(path.join(__dirname, "..", "fixtures"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", f), "utf8")) as unknown);

  it("compiles for both report shapes", () => {
    expect(compileCheck(DuplicatiReportSchema)).to.be.a("function");
    expect(compileCheck(SimpleReportSchema)).to.be.a("function");
  });

  it("accepts the fixtures zod accepts", () => {
    const check = compileCheck(DuplicatiReportSchema)!;
    for (const report of fixtures) {
      expect(check(report)).to.equal(DuplicatiReportSchema.safeParse(report).success);
    }
    expect(fixtures.some((r) => check(r))).to.equal(true);
  });

  it("never accepts a mutation zod rejects (every member of Data, Extra and BackendStatistics, each wrong value)", () => {
    const check = compileCheck(DuplicatiReportSchema)!;
    const wrongValues: unknown[] = [null, "", "x", -1, 1.5, 2 ** 60, true, [], {}, [1], { a: 1 }, Number.NaN];
    let compared = 0;
    for (const fixture of fixtures) {
      const sections: Array<(r: Record<string, Record<string, unknown>>) => Record<string, unknown> | undefined> = [
        (r) => r.Data,
        (r) => r.Extra,
        (r) => r.Data?.BackendStatistics as Record<string, unknown> | undefined,
        (r) => r as Record<string, unknown>,
      ];
      for (const section of sections) {
        const keys = Object.keys(section(structuredClone(fixture) as never) ?? {});
        for (const key of keys) {
          for (const value of [...wrongValues, undefined]) {
            const report = structuredClone(fixture) as Record<string, Record<string, unknown>>;
            const target = section(report);
            if (!target) continue;
            if (value === undefined) delete target[key];
            else target[key] = value;
            const zodSays = DuplicatiReportSchema.safeParse(report).success;
            if (check(report)) expect(zodSays, `${key} = ${JSON.stringify(value)}`).to.equal(true);
            compared++;
          }
        }
      }
    }
    expect(compared).to.be.greaterThan(1000);
  });

  it("leaves schemas with constructs it does not know to zod", () => {
    expect(compileCheck(z.object({ a: z.string().email() }))).to.equal(null);
    expect(compileCheck(z.object({ a: z.coerce.number() }))).to.equal(null);
    expect(compileCheck(z.object({ a: z.string().refine((v) => v.length > 2) }))).to.equal(null);
    expect(compileCheck(z.object({ a: z.number().default(1) }))).to.equal(null);
  });
});
