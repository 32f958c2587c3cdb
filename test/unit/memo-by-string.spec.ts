import { expect } from "chai";
import { memoByString } from "../../server/src/core/memo-by-string";

/** The per-string parse caches of the upload path (job weekdays, intervals): server/src/core/memo-by-string.ts. */
describe("memoByString", () => {
  it("parses each string once and shares the frozen result", () => {
    let calls = 0;
    const parse = memoByString((text) => {
      calls++;
      return text.split(",").map(Number);
    }, 8);
    const a = parse("1,2");
    expect(parse("1,2")).to.equal(a);
    expect(a).to.deep.equal([1, 2]);
    expect(Object.isFrozen(a)).to.equal(true);
    expect(calls).to.equal(1);
  });

  it("caches nothing for a parse that throws: it throws again", () => {
    let calls = 0;
    const parse = memoByString((text) => {
      calls++;
      if (text === "bad") throw new Error("invalid");
      return text;
    }, 8);
    expect(() => parse("bad")).to.throw("invalid");
    expect(() => parse("bad")).to.throw("invalid");
    expect(calls).to.equal(2);
  });

  it("holds at most max strings (emptied when full)", () => {
    let calls = 0;
    const parse = memoByString((text) => {
      calls++;
      return text.length;
    }, 2);
    parse("a");
    parse("bb");
    parse("ccc"); // full: emptied, then "ccc" kept
    parse("a");
    expect(calls).to.equal(4);
    parse("ccc");
    expect(calls).to.equal(4);
  });
});
