import fs from "node:fs";
import path from "node:path";

/** Files of the database maintenance room: scratch space under DATA_DIR/temp and the pre-restore safety copies. */

/** DATA_DIR/temp: downloads being prepared, uploads being checked. Created on demand. */
export function maintenanceTempDir(dataDir: string): string {
  const dir = path.join(dataDir, "temp");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** `2025-06-14T01-00-00` (the original's download names). */
export const downloadTimestamp = (d: Date): string => d.toISOString().slice(0, 19).replace(/:/g, "-");

/** `2025-06-14T01-00-00-123Z` (the original's "ISO with dashes"). */
export const isoWithDashes = (d: Date): string => d.toISOString().replace(/[:.]/g, "-");

/** Removes a SQLite file and the journal files SQLite may have left beside it. Never throws. */
export function removeDatabaseFiles(file: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(`${file}${suffix}`, { force: true });
}

const SAFETY_PREFIX = "backups-safety-backup-";
export const SAFETY_COPIES_KEPT = 5;

/** A fresh path for a safety copy taken at `now` (a suffix keeps two copies of the same millisecond apart). */
export function safetyCopyPath(dataDir: string, now: Date): string {
  const base = `${SAFETY_PREFIX}${isoWithDashes(now)}`;
  let candidate = path.join(dataDir, `${base}.db`);
  for (let n = 2; fs.existsSync(candidate); n++) candidate = path.join(dataDir, `${base}-${n}.db`);
  return candidate;
}

/** Keeps the newest `keep` safety copies (by modification time) and deletes the rest. Returns the deleted names. */
export function pruneSafetyCopies(dataDir: string, keep = SAFETY_COPIES_KEPT): string[] {
  const copies = fs
    .readdirSync(dataDir)
    .filter((name) => name.startsWith(SAFETY_PREFIX) && name.endsWith(".db"))
    .map((name) => ({ name, mtime: fs.statSync(path.join(dataDir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime || b.name.localeCompare(a.name));
  const doomed = copies.slice(keep).map((c) => c.name);
  for (const name of doomed) removeDatabaseFiles(path.join(dataDir, name));
  return doomed;
}
