import { expect } from "chai";
import { clonePayload } from "../../server/src/core/plugin-host";

/** Each plugin handler gets its own copy of an event payload (plugin-host.ts): a deep one, equal to the original. */
describe("clonePayload", () => {
  it("copies plain data deeply: equal values, no shared object or array", () => {
    const payload = {
      server: { id: "s", name: "n", alias: "" },
      run: { id: "r", size: 12, ok: true, none: null, gone: undefined, list: [1, [2, { x: "3" }]] },
    };
    const copy = clonePayload(payload);
    expect(copy).to.deep.equal(structuredClone(payload));
    expect(copy).to.not.equal(payload);
    expect(copy.server).to.not.equal(payload.server);
    expect(copy.run.list).to.not.equal(payload.run.list);
    expect(copy.run.list[1]).to.not.equal(payload.run.list[1]);
    (copy.run.list[1] as unknown[]).push("changed");
    copy.server.name = "changed";
    expect(payload.server.name).to.equal("n");
    expect(payload.run.list[1]).to.have.length(2);
  });

  it("copies what is not plain data with structuredClone (a Date stays a Date, a Map a Map)", () => {
    const at = new Date("2025-01-02T03:04:05Z");
    const copy = clonePayload({ at, seen: new Map([["a", 1]]) });
    expect(copy.at).to.be.instanceOf(Date).and.not.equal(at);
    expect(copy.at.getTime()).to.equal(at.getTime());
    expect(copy.seen).to.be.instanceOf(Map);
    expect(copy.seen.get("a")).to.equal(1);
  });

  it("copies a null-prototype object as one, and nothing inherited from Object.prototype", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, nested: { b: 2 } });
    const copy = clonePayload({ bare });
    expect(Object.getPrototypeOf(copy.bare)).to.equal(null);
    expect(copy.bare).to.not.equal(bare);
    expect(copy.bare.nested).to.deep.equal({ b: 2 });
    expect(copy.bare.nested).to.not.equal(bare.nested);
    const polluted = Object.prototype as Record<string, unknown>;
    polluted.injected = { evil: true };
    try {
      const plain = clonePayload({ x: { y: 1 } });
      expect(Object.hasOwn(plain, "injected")).to.equal(false);
      expect(Object.hasOwn(plain.x, "injected")).to.equal(false);
    } finally {
      delete polluted.injected;
    }
  });
});
