/**
 * Moving to PostgreSQL: `npm run migrate:sqlite-to-postgres -- [--from <backups.db>] [--to <postgres://…>] [--force]`.
 *
 * Copies every row of a duplistatus SQLite database (default: DATA_DIR/backups.db) into a PostgreSQL database
 * (default: DATABASE_URL), then checks the copy: the row count and an order-independent checksum of every table, and
 * the checksum of every run (each `backups` row compared with its copy by id). The source file is not changed: it is
 * copied (SQLite online backup) to a scratch file, which is brought to the current schema with the same migrations
 * the server runs; the target gets the PostgreSQL twins of those migrations. The rows go in in one transaction, so
 * a failure leaves the target as it was.
 *
 * The target must be empty (freshly created, or only migrated): --force replaces whatever rows it holds. Stop the
 * server(s) writing to the SQLite file first; start them on DATABASE_URL afterwards, with the same
 * DATA_DIR/.duplistatus.key (the stored secrets are encrypted with it).
 *
 * Exit codes: 0 copied and verified, 1 failure (connection, copy, or a verification mismatch), 2 usage.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, loadConfig } from "../config";
import { createLogger } from "../core/logger";
import { copyDatabase, digestTables, userTables } from "../db/copy";
import { Database, isPostgresUrl } from "../db/database";
import { openSqliteFile, sqliteOnlineBackup } from "../db/dialect";

const NAME = "migrate:sqlite-to-postgres";
const USAGE = `usage: npm run ${NAME} -- [--from <path to backups.db>] [--to <postgres://…>] [--force]`;

interface Args {
  from?: string;
  to?: string;
  force: boolean;
}

function parseArgs(argv: string[]): Args | "help" | string {
  const out: Args = { force: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "-h" || a === "--help") return "help";
    if (a === "--force") {
      out.force = true;
      continue;
    }
    const m = /^--(from|to)(?:=(.*))?$/.exec(a);
    if (!m) return a.startsWith("--") ? `unknown option ${a}` : `unexpected argument ${a}`;
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === "") return `${a} needs a value`;
    if (m[1] === "from") out.from = value;
    else out.to = value;
  }
  return out;
}

/** postgres://user:secret@host/db → postgres://user:***@host/db (for the output). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

export interface VerifyReport {
  tables: Array<{
    table: string;
    sourceRows: number;
    targetRows: number;
    sourceChecksum: string;
    targetChecksum: string;
  }>;
  runs: { checked: number; mismatched: string[]; missing: string[]; extra: string[] };
  ok: boolean;
}

/** Row counts and checksums of every table of both, and every run's checksum compared by id. */
export async function verifyCopy(source: Database, target: Database): Promise<VerifyReport> {
  const tables = (await userTables(source)).sort();
  const runDigests = new Map<string, string>();
  const sourceDigests = await digestTables(source, {
    tables,
    rowDigests: (table, key, digest) => {
      if (table === "backups") runDigests.set(key, digest);
    },
  });
  const mismatched: string[] = [];
  const extra: string[] = [];
  let checked = 0;
  const targetDigests = await digestTables(target, {
    tables,
    rowDigests: (table, key, digest) => {
      if (table !== "backups") return;
      const want = runDigests.get(key);
      if (want === undefined) extra.push(key);
      else {
        checked++;
        if (want !== digest) mismatched.push(key);
        runDigests.delete(key);
      }
    },
  });
  const report: VerifyReport = {
    tables: sourceDigests.map((s, i) => {
      const t = targetDigests[i] as { rows: number; checksum: string };
      return {
        table: s.table,
        sourceRows: s.rows,
        targetRows: t.rows,
        sourceChecksum: s.checksum,
        targetChecksum: t.checksum,
      };
    }),
    runs: { checked, mismatched, missing: [...runDigests.keys()], extra },
    ok: false,
  };
  report.ok =
    report.tables.every((t) => t.sourceRows === t.targetRows && t.sourceChecksum === t.targetChecksum) &&
    mismatched.length === 0 &&
    report.runs.missing.length === 0 &&
    extra.length === 0;
  return report;
}

/** Rows in the user tables of a database (0: freshly created or only migrated). */
async function rowsIn(db: Database): Promise<number> {
  let total = 0;
  for (const table of await userTables(db)) {
    const row = await db.read((q) => q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM "${table}"`));
    total += Number(row?.n ?? 0);
  }
  return total;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === "help") {
    console.log(USAGE);
    return 0;
  }
  if (typeof args === "string") {
    console.error(`${NAME}: ${args}\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`${NAME}: ${err instanceof ConfigError ? err.message : String(err)}`);
    return 1;
  }
  const from = path.resolve(args.from ?? config.sqliteFile);
  const to = args.to ?? config.databaseUrl;
  if (!to || !isPostgresUrl(to)) {
    console.error(`${NAME}: name the PostgreSQL database with --to postgres://… or DATABASE_URL\n${USAGE}`);
    return 2;
  }
  if (!fs.existsSync(from)) {
    console.error(`${NAME}: ${from} does not exist`);
    return 2;
  }
  const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : "warn");
  const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), "duplistatus-migrate-"));
  let source: Database | undefined;
  let target: Database | undefined;
  try {
    // A consistent copy of the source (even if a server still writes to it), brought to the current schema.
    const scratch = path.join(scratchDir, "source.db");
    const conn = openSqliteFile(from, { readonly: true });
    try {
      await sqliteOnlineBackup(conn, scratch);
    } finally {
      conn.close();
    }
    source = await Database.open({ sqliteFile: scratch, synchronous: "NORMAL", cacheMb: 64 }, log);
    target = await Database.open({ sqliteFile: "", synchronous: "NORMAL", cacheMb: 8, databaseUrl: to }, log);
    const existing = await rowsIn(target);
    if (existing > 0 && !args.force) {
      console.error(
        `${NAME}: the target database already holds ${existing} row(s); use an empty database, or --force to replace them`,
      );
      return 1;
    }
    console.log(`${NAME}: copying ${from} → ${redact(to)}`);
    const started = Date.now();
    const outcome = await copyDatabase(source, target, {
      onTable: (table, rows) => console.log(`  ${table}: ${rows} row(s)`),
    });
    const copiedRows = outcome.copied.reduce((n, c) => n + c.rows, 0);
    console.log(
      `${NAME}: ${copiedRows} row(s) in ${outcome.copied.length} table(s), ${Date.now() - started} ms; verifying`,
    );
    const report = await verifyCopy(source, target);
    for (const t of report.tables) {
      const same = t.sourceRows === t.targetRows && t.sourceChecksum === t.targetChecksum;
      console.log(
        `  ${same ? "ok  " : "DIFF"} ${t.table}: ${t.sourceRows} → ${t.targetRows} row(s), checksum ${t.targetChecksum.slice(0, 16)}${same ? "" : ` (source ${t.sourceChecksum.slice(0, 16)})`}`,
      );
    }
    const { runs } = report;
    console.log(
      `  runs: ${runs.checked} checksum(s) compared, ${runs.mismatched.length} different, ${runs.missing.length} missing, ${runs.extra.length} unexpected`,
    );
    for (const id of [...runs.mismatched, ...runs.missing, ...runs.extra].slice(0, 10)) console.log(`    run ${id}`);
    if (!report.ok) {
      console.error(`${NAME}: verification FAILED`);
      return 1;
    }
    console.log(`${NAME}: verified; start the server(s) with DATABASE_URL=${redact(to)}`);
    return 0;
  } catch (err) {
    console.error(`${NAME}: failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await source?.close();
    await target?.close();
    fs.rmSync(scratchDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`${NAME}: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
