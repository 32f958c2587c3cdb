import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { createLogger } from "../../server/src/core/logger";
import { Database } from "../../server/src/db/database";
import { openSqliteFile } from "../../server/src/db/dialect";
import { createTestDatabase, dropTestDatabase, postgresMode } from "../support/postgres";
import { tempDataDir } from "../support/server";
import { largestWalUnderBound } from "../support/sqlite";

/**
 * Units of work asked for together share one SQLite transaction (group commit, see Database.write), each inside a
 * savepoint. What every caller must still see: its own unit all or nothing, whatever the others do; an answer only
 * once the unit is committed; reads after writes seeing them. On PostgreSQL each unit is a transaction of its own on
 * a pooled connection, running beside the others: only the first property applies there.
 */
describe("units of work: group commit", () => {
  const log = createLogger("silent");
  let dir: string;
  let databaseUrl: string | undefined;
  let db: Database;

  beforeEach(async () => {
    dir = tempDataDir();
    databaseUrl = postgresMode ? await createTestDatabase() : undefined;
    db = await Database.open(
      { sqliteFile: path.join(dir, "t.db"), synchronous: "NORMAL", cacheMb: 8, databaseUrl },
      log,
    );
  });
  afterEach(async () => {
    await db.close();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const setValue = (key: string, value: string) =>
    db.write((q) => q.run(`INSERT INTO configurations (key, value) VALUES (?, ?)`, [key, value]));
  const keys = () =>
    db.read((q) => q.all<{ key: string }>(`SELECT key FROM configurations WHERE key LIKE 'gc-%' ORDER BY key`));

  it("a failing unit is undone alone; the units around it commit", async () => {
    const outcomes = await Promise.allSettled([
      setValue("gc-1", "a"),
      db.write(async (q) => {
        await q.run(`INSERT INTO configurations (key, value) VALUES (?, ?)`, ["gc-2", "b"]);
        throw new Error("changed my mind");
      }),
      setValue("gc-3", "c"),
      // A constraint error in the middle of a unit: its earlier statement goes too.
      db.write(async (q) => {
        await q.run(`INSERT INTO configurations (key, value) VALUES (?, ?)`, ["gc-4", "d"]);
        await q.run(`INSERT INTO configurations (key, value) VALUES (?, ?)`, ["gc-1", "duplicate"]);
      }),
      setValue("gc-5", "e"),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal([
      "fulfilled",
      "rejected",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    expect((outcomes[1] as PromiseRejectedResult).reason).to.have.property("message", "changed my mind");
    expect((await keys()).map((r) => r.key)).to.deep.equal(["gc-1", "gc-3", "gc-5"]);
  });

  it("a later unit sees the committed work of an earlier one, and a read asked for after a write sees it", async function () {
    if (postgresMode) this.skip();
    const first = setValue("gc-1", "a");
    const second = db.write((q) =>
      q.get<{ value: string }>(`SELECT value FROM configurations WHERE key = ?`, ["gc-1"]),
    );
    const read = keys(); // not awaited after the writes: still ordered after them
    await first;
    expect(await second).to.deep.equal({ value: "a" });
    expect((await read).map((r) => r.key)).to.deep.equal(["gc-1"]);
  });

  it("answers a unit only once it is committed: another connection already sees it", async function () {
    if (postgresMode) this.skip();
    const writes = Array.from({ length: 100 }, (_, i) => setValue(`gc-${String(i).padStart(3, "0")}`, "x"));
    const other = openSqliteFile(path.join(dir, "t.db"), { readonly: true });
    try {
      for (const [i, w] of writes.entries()) {
        await w;
        const row = other
          .prepare(`SELECT COUNT(*) AS n FROM configurations WHERE key = ?`)
          .get(`gc-${String(i).padStart(3, "0")}`);
        expect(row).to.deep.equal({ n: 1 });
      }
    } finally {
      other.close();
    }
  });

  it("runs many concurrent units, each exactly once, in the order asked", async function () {
    if (postgresMode) this.skip();
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        db.write(async (q) => {
          order.push(i);
          await q.run(`INSERT INTO configurations (key, value) VALUES (?, ?)`, [`gc-${i}`, String(i)]);
        }),
      ),
    );
    expect(order).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
    expect(await keys()).to.have.length(300);
  });

  it("commits what was asked for before close", async function () {
    if (postgresMode) this.skip();
    const pending = [setValue("gc-1", "a"), setValue("gc-2", "b")];
    await db.close();
    await Promise.all(pending);
    db = await Database.open(
      { sqliteFile: path.join(dir, "t.db"), synchronous: "NORMAL", cacheMb: 8, databaseUrl },
      log,
    );
    expect((await keys()).map((r) => r.key)).to.deep.equal(["gc-1", "gc-2"]);
  });

  it("keeps the WAL bounded under writes without pause (checkpoints it itself past walBoundBytes)", async function () {
    if (postgresMode) this.skip();
    await db.close();
    const bound = 1024 * 1024;
    const value = "x".repeat(100_000); // ~25 overflow pages of WAL per write
    // ~8 MB of WAL in 80 group commits, which the background checkpointer (16 MB threshold) would leave alone.
    const run = await largestWalUnderBound(path.join(dir, "t.db"), bound, 80, (live, i) =>
      live.write((q) => q.run(`INSERT INTO configurations (key, value) VALUES (?, ?)`, [`gc-${1000 + i}`, value])),
    );
    db = run.db;
    expect(await keys()).to.have.length(80);
    // The bound, plus what the commits between two looks at the WAL's size add.
    expect(run.largest).to.be.lessThan(3 * bound);
  });
});
