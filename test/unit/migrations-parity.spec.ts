import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { POSTGRES_MIGRATIONS } from "../../server/src/db/migrations/postgres";
import { SQLITE_MIGRATIONS } from "../../server/src/db/migrations/sqlite";

/**
 * Every SQLite migration has a PostgreSQL twin with the same class name (and so the same timestamp), in the same
 * order: a database's migration record then reads the same on both, and the SQLite → PostgreSQL migration tool can
 * check that the two schemas are at the same point. A new SQLite migration without its twin fails here.
 */
describe("migrations: SQLite and PostgreSQL sets", () => {
  const names = (list: ReadonlyArray<new () => { name?: string }>) => list.map((M) => new M().name ?? M.name);

  it("list the same migrations, one-to-one, in the same order", () => {
    expect(names(POSTGRES_MIGRATIONS)).to.deep.equal(names(SQLITE_MIGRATIONS));
  });

  it("have one file per migration in each folder, with matching file names", () => {
    const dir = path.join(__dirname, "..", "..", "server", "src", "db", "migrations");
    const files = (sub: string) =>
      fs
        .readdirSync(path.join(dir, sub))
        .filter((f) => /^\d{13}-.+\.ts$/.test(f))
        .sort();
    expect(files("postgres")).to.deep.equal(files("sqlite"));
  });

  it("keep the class name's timestamp in the file name", () => {
    for (const M of POSTGRES_MIGRATIONS) {
      const name = new M().name ?? M.name;
      expect(name, M.name).to.match(/\d{13}$/);
    }
  });
});
