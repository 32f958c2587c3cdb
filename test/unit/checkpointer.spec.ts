import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { createLogger } from "../../server/src/core/logger";
import { BackgroundCheckpointer } from "../../server/src/db/checkpointer";
import { openSqliteFile } from "../../server/src/db/dialect";
import { tempDataDir } from "../support/server";

/** WAL checkpoints in a worker thread (checkpointer.ts): they happen, and SQLite's own come back without the worker. */
describe("background WAL checkpointer", () => {
  let dir: string;
  beforeEach(() => (dir = tempDataDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const until = async (cond: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error("condition not met in time");
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it("checkpoints a WAL past its threshold while the automatic checkpoint is off, and turns it back on at stop", async () => {
    const file = path.join(dir, "t.db");
    const conn = openSqliteFile(file, { readonly: false });
    conn.exec("PRAGMA journal_mode = WAL");
    conn.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    const settings: number[] = [];
    const checkpointer = BackgroundCheckpointer.start(
      {
        file,
        thresholdBytes: 64 * 1024,
        intervalMs: 20,
        setAutoCheckpoint: (pages) => {
          settings.push(pages);
          conn.exec(`PRAGMA wal_autocheckpoint = ${pages}`);
        },
        log: createLogger("silent"),
      },
      4000,
    );
    try {
      expect(settings).to.deep.equal([0]);
      const insert = conn.prepare("INSERT INTO t (v) VALUES (?)");
      for (let i = 0; i < 500; i++) insert.run("x".repeat(2000));
      expect(fs.statSync(`${file}-wal`).size).to.be.greaterThan(64 * 1024);
      // The rows live in the WAL only: the database file holds the schema page or two.
      expect(fs.statSync(file).size).to.be.lessThan(64 * 1024);
      await until(() => checkpointer.checkpoints > 0 && fs.statSync(file).size > 500 * 2000);
      expect(conn.prepare("SELECT COUNT(*) AS n FROM t").get()).to.deep.equal({ n: 500 });
    } finally {
      await checkpointer.stop();
      conn.close();
    }
    expect(settings).to.deep.equal([0, 4000]);
  });
});
