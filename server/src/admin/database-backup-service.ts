import { randomUUID } from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import type { Clock } from "../core/clock";
import type { Database } from "../db/database";
import { downloadTimestamp, maintenanceTempDir, removeDatabaseFiles } from "./files";

export type BackupFormat = "db" | "sql";
export const BACKUP_FORMATS: readonly BackupFormat[] = ["db", "sql"];

export interface BackupDownload {
  format: BackupFormat;
  fileName: string;
  contentType: string;
  size: number;
  /** The file's contents; the temporary file is deleted once the stream closes (sent or aborted). */
  stream: Readable;
}

/**
 * Database downloads. Both formats are written to a temporary file under DATA_DIR/temp first (so the response
 * carries a Content-Length and a failure is a clean 500, not a truncated download), then streamed and deleted.
 * - db:  SQLite's online backup of the live connection; uploads carry on while it runs.
 * - sql: a text dump read inside one read transaction on its own connection, so it is a consistent snapshot.
 */
export class DatabaseBackupService {
  constructor(private readonly deps: { db: Database; clock: Clock; dataDir: string }) {}

  async create(format: BackupFormat): Promise<BackupDownload> {
    const fileName = `duplistatus-backup-${downloadTimestamp(this.deps.clock.now())}.${format}`;
    const file = path.join(maintenanceTempDir(this.deps.dataDir), `backup-${randomUUID()}.${format}`);
    try {
      if (format === "db") await this.deps.db.backupTo(file);
      else await this.writeDump(file);
      const size = fs.statSync(file).size;
      const stream = fs.createReadStream(file);
      stream.once("close", () => removeDatabaseFiles(file));
      return {
        format,
        fileName,
        contentType: format === "db" ? "application/octet-stream" : "text/plain; charset=utf-8",
        size,
        stream,
      };
    } catch (err) {
      removeDatabaseFiles(file);
      throw err;
    }
  }

  private async writeDump(file: string): Promise<void> {
    const out = fs.createWriteStream(file, { encoding: "utf8" });
    const failed = new Promise<never>((_, reject) => out.once("error", reject));
    failed.catch(() => undefined);
    try {
      await this.deps.db.dumpSql(async (text) => {
        if (!out.write(text)) await Promise.race([once(out, "drain"), failed]);
      });
      out.end();
      await Promise.race([once(out, "finish"), failed]);
    } finally {
      out.destroy();
    }
  }
}
