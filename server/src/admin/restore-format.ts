import fs from "node:fs";
import path from "node:path";
import { SQLITE_FILE_HEADER } from "../db/dialect";

export type RestoreFormat = "db" | "sql";

const DB_EXTENSIONS = new Set([".db", ".sqlite", ".sqlite3"]);

/** The first bytes of a file (enough to sniff its format). */
export function readHead(file: string, bytes = 1024): Buffer {
  const fd = fs.openSync(file, "r");
  try {
    const buffer = Buffer.alloc(bytes);
    const read = fs.readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, read);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The format of an uploaded restore file: by its extension (.db .sqlite .sqlite3 | .sql), else by its content
 * (the SQLite file header, or CREATE TABLE / BEGIN TRANSACTION near the start of a text dump). Null when neither
 * tells.
 */
export function detectRestoreFormat(originalName: string | null, head: Buffer): RestoreFormat | null {
  const ext = originalName ? path.extname(originalName).toLowerCase() : "";
  if (DB_EXTENSIONS.has(ext)) return "db";
  if (ext === ".sql") return "sql";
  if (head.subarray(0, SQLITE_FILE_HEADER.length).equals(SQLITE_FILE_HEADER)) return "db";
  if (/CREATE\s+TABLE|BEGIN\s+TRANSACTION/i.test(head.toString("utf8"))) return "sql";
  return null;
}
