/**
 * Switching from the original duplistatus:
 * `npm run import:duplistatus -- <path to backups.db> [--key <path to .duplistatus.key>] [--data-dir <dir>]`.
 *
 * Imports the original's database (any version it shipped) into the database in DATA_DIR (or --data-dir) directly,
 * without HTTP, like admin:reset. Everything is written in one transaction; a file that is not the original's
 * database is refused and nothing is written; importing the same file again changes nothing. With --key (the
 * original's data/.duplistatus.key) its encrypted server and SMTP passwords come across; without it they are listed
 * for re-entry. Prints a summary; on a terminal, a progress bar while the runs are imported.
 *
 * Exit codes: 0 imported, 1 failure (configuration, our database), 2 usage or a file/key that cannot be imported.
 */
import fs from "node:fs";
import { AuditService } from "../audit/audit-service";
import { ConfigError, loadConfig } from "../config";
import { systemClock } from "../core/clock";
import { EventBus } from "../core/events";
import { createLogger } from "../core/logger";
import { SecretBox } from "../core/secrets";
import { Database, databaseOptions } from "../db/database";
import { DuplistatusImportService, type ImportSummary } from "../importer/import-service";
import { ImportRefusedError } from "../importer/original-db";
import { InvalidKeyError, parseOriginalKey } from "../importer/original-secrets";
import { runCli } from "./run-cli";

const NAME = "import:duplistatus";
const USAGE = `usage: npm run ${NAME} -- <path to backups.db> [--key <path to .duplistatus.key>] [--data-dir <dir>]`;

interface Args {
  file: string;
  key?: string;
  dataDir?: string;
}

function parseArgs(argv: string[]): Args | "help" | string {
  const rest: string[] = [];
  const out: Partial<Args> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "-h" || a === "--help") return "help";
    const m = /^--(key|data-dir)(?:=(.*))?$/.exec(a);
    if (m) {
      const value = m[2] ?? argv[++i];
      if (value === undefined || value === "") return `${a} needs a value`;
      if (m[1] === "key") out.key = value;
      else out.dataDir = value;
    } else if (a.startsWith("--")) return `unknown option ${a}`;
    else rest.push(a);
  }
  if (rest.length !== 1)
    return rest.length === 0 ? "the path to the original's backups.db is missing" : "one file at a time";
  return { ...out, file: rest[0] as string };
}

/** A one-line bar redrawn in place on stderr (only on a terminal, and only when the import takes a while). */
function progressBar(): { update(done: number, total: number): void; finish(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, finish: () => undefined };
  const started = Date.now();
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - started < 500 || (now - last < 100 && done < total)) return;
      last = now;
      drawn = true;
      const width = 30;
      const ratio = total > 0 ? Math.min(1, done / total) : 1;
      const fill = Math.round(ratio * width);
      process.stderr.write(
        `\r[${"#".repeat(fill)}${"-".repeat(width - fill)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${done}/${total} runs`,
      );
    },
    finish() {
      if (drawn) process.stderr.write("\r\x1b[2K");
    },
  };
}

function formatSummary(s: ImportSummary, target: string): string[] {
  const lines = [
    `${NAME}: imported ${s.source.fileName} into ${target}`,
    `  file:     ${s.source.description}`,
    `  servers:  ${s.servers.total} in the file (${s.servers.created} new, ${s.servers.updated} updated here)`,
    `  jobs:     ${s.jobs.total} (${s.jobs.updated} updated)`,
    `  runs:     ${s.runs.imported} imported, ${s.runs.alreadyPresent} already present` +
      (s.runs.duplicatesInFile ? `, ${s.runs.duplicatesInFile} duplicate(s) in the file` : "") +
      (s.runs.unreadable ? `, ${s.runs.unreadable} unreadable` : "") +
      ` (${s.runs.inFile} in the file)`,
    `  settings: ${s.settings.jobs} job(s), ${s.settings.serverDefaults} server default(s)` +
      (s.settings.configuration.length ? `; ${s.settings.configuration.join(", ")}` : "") +
      (s.settings.skipped ? `; ${s.settings.skipped} entr(ies) left out` : "") +
      (s.settings.overdueEpisodes ? `; ${s.settings.overdueEpisodes} overdue notice(s) carried over` : ""),
    `  secrets:  ${s.secrets.imported} imported, ${s.secrets.reenter.length} to re-enter`,
  ];
  for (const r of s.secrets.reenter) {
    const what =
      r.kind === "server_password"
        ? `password of server ${r.serverName ?? r.serverId} (${r.serverId}): PATCH /api/servers/${r.serverId}/password`
        : r.kind === "smtp_username"
          ? "SMTP username: POST /api/configuration/email"
          : "SMTP password: PATCH /api/configuration/email/password";
    lines.push(`    - ${what} — ${r.reason}`);
  }
  if (s.notImported.length > 0) lines.push("  not imported:", ...s.notImported.map((n) => `    - ${n}`));
  if (s.notes.length > 0) lines.push("  notes:", ...s.notes.map((n) => `    - ${n}`));
  return lines;
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
  let key: Buffer | null = null;
  if (args.key) {
    try {
      key = parseOriginalKey(fs.readFileSync(args.key));
    } catch (err) {
      const reason =
        err instanceof InvalidKeyError ? err.message : `cannot read ${args.key}: ${(err as Error).message}`;
      console.error(`${NAME}: ${reason}`);
      return 2;
    }
  }

  let config;
  try {
    config = loadConfig(args.dataDir ? { ...process.env, DATA_DIR: args.dataDir } : process.env);
  } catch (err) {
    console.error(`${NAME}: ${err instanceof ConfigError ? err.message : String(err)}`);
    return 1;
  }
  // Only warnings and errors unless LOG_LEVEL asks for more: the output is the summary.
  const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : "warn");
  let db: Database | undefined;
  const bar = progressBar();
  try {
    db = await Database.open(databaseOptions(config), log);
    const importer = new DuplistatusImportService({
      db,
      clock: systemClock,
      log,
      secrets: SecretBox.openOrCreate(config.dataDir),
      audit: new AuditService({ db, clock: systemClock, log }),
      events: new EventBus(log),
      dataDir: config.dataDir,
      timeZone: config.timeZone,
    });
    const summary = await importer.importFile(args.file, {
      key,
      fileName: args.file,
      via: "cli",
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.finish();
    const target = config.databaseUrl ? "the PostgreSQL database" : config.sqliteFile;
    for (const line of formatSummary(summary, target)) console.log(line);
    return 0;
  } catch (err) {
    bar.finish();
    if (err instanceof ImportRefusedError) {
      console.error(`${NAME}: cannot import ${args.file}: ${err.message}; nothing was written`);
      return 2;
    }
    console.error(`${NAME}: failed: ${err instanceof Error ? err.message : String(err)}; nothing was written`);
    return 1;
  } finally {
    await db?.close();
  }
}

runCli(NAME, main);
