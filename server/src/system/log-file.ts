import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";

/** Rotated copies kept next to the log file: <name>.1 (newest) … <name>.10, as the original's entrypoint keeps. */
export const MAX_ROTATED_FILES = 10;

/**
 * Rotation at start, as the original's Docker entrypoint does: <name>.9 → <name>.10, …, <name> → <name>.1. The file
 * of this run then starts empty. An empty current file is not rotated.
 */
export function rotateLogFiles(file: string): void {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    return;
  }
  if (size === 0) return;
  for (let i = MAX_ROTATED_FILES - 1; i >= 1; i--) {
    if (fs.existsSync(`${file}.${i}`)) fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  }
  fs.renameSync(file, `${file}.1`);
}

/** The log file and its rotated copies, as the API names them ("application.log", "application.log.1", …). */
export class LogFiles {
  readonly baseName: string;
  private readonly dir: string;

  /** `file` null: no log file configured (LOG_FILE unset); names are still checked against "application.log". */
  constructor(readonly file: string | null) {
    this.baseName = file ? path.basename(file) : "application.log";
    this.dir = file ? path.dirname(file) : "";
  }

  /** Existing files, current first, then .1 … .10. */
  available(): string[] {
    if (!this.file) return [];
    const names = [this.baseName, ...Array.from({ length: MAX_ROTATED_FILES }, (_, i) => `${this.baseName}.${i + 1}`)];
    return names.filter((name) => fs.existsSync(path.join(this.dir, name)));
  }

  /**
   * Checks a requested name: the base name or base.N with N in 1–10. Returns an error text, or null when valid.
   * Only these names ever reach the file system, so no other file can be read.
   */
  checkName(name: string): string | null {
    if (name === this.baseName) return null;
    if (!name.startsWith(`${this.baseName}.`) || !/^\d+$/.test(name.slice(this.baseName.length + 1))) {
      return "Invalid file parameter format";
    }
    const n = Number(name.slice(this.baseName.length + 1));
    return n >= 1 && n <= MAX_ROTATED_FILES ? null : "Invalid rotated file number";
  }

  /** Full path of a name that passed checkName, or null when no log file is configured. */
  pathOf(name: string): string | null {
    return this.file ? path.join(this.dir, name) : null;
  }
}

const BLOCK = 64 * 1024;

/**
 * The last `tail` lines of a file, read backwards from its end (a large file is not read whole), as the original's
 * `content.split("\n").slice(-tail).join("\n")`: a final newline counts as an empty last line.
 */
export async function readTail(file: string, tail: number): Promise<string> {
  const handle = await fs.promises.open(file, "r");
  try {
    const { size } = await handle.stat();
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    while (position > 0 && newlines < tail) {
      const length = Math.min(BLOCK, position);
      position -= length;
      const chunk = Buffer.alloc(length);
      await handle.read(chunk, 0, length, position);
      chunks.unshift(chunk);
      for (const byte of chunk) if (byte === 0x0a) newlines++;
    }
    const segments = Buffer.concat(chunks).toString("utf8").split("\n");
    // Unless the start of the file was reached, the first segment is a partial line (possibly cut mid-character).
    if (position > 0) segments.shift();
    return segments.slice(-tail).join("\n");
  } finally {
    await handle.close();
  }
}

/** Number of lines as the original counts them: newlines + 1. Streams the file, so memory stays flat. */
export async function countLines(file: string): Promise<number> {
  let newlines = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: BLOCK }) as AsyncIterable<Buffer>) {
    for (const byte of chunk) if (byte === 0x0a) newlines++;
  }
  return newlines + 1;
}

export const EXPORT_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
export type ExportLevel = (typeof EXPORT_LEVELS)[number];

/**
 * The level of a log line. Our lines are pino JSON (level 10/20 → DEBUG, 30 → INFO, 40 → WARN, 50/60 → ERROR); any
 * other line is read as the original did ("[ERROR]", "ERROR:", "[WARN]", "WARNING:", "[INFO]", "INFO:"). Null: unknown.
 */
export function lineLevel(line: string): ExportLevel | null {
  if (line.startsWith("{")) {
    try {
      const level = (JSON.parse(line) as { level?: unknown }).level;
      if (typeof level === "number") {
        if (level >= 50) return "ERROR";
        if (level >= 40) return "WARN";
        if (level >= 30) return "INFO";
        return "DEBUG";
      }
    } catch {
      // Not JSON after all: fall through to the text rules.
    }
  }
  const upper = line.toUpperCase();
  if (upper.includes("[ERROR]") || upper.includes("ERROR:")) return "ERROR";
  if (upper.includes("[WARN]") || upper.includes("WARNING:")) return "WARN";
  if (upper.includes("[INFO]") || upper.includes("INFO:")) return "INFO";
  return null;
}

/**
 * The non-empty lines of a file whose level is one of `levels` (lines of unknown level are kept) and that contain
 * `search` (case-insensitive), joined with "\n". Streams the file line by line.
 */
export async function filterLines(file: string, levels: readonly ExportLevel[], search: string): Promise<string> {
  const needle = search.toLowerCase();
  const out: string[] = [];
  const lines = readline.createInterface({
    input: fs.createReadStream(file, { encoding: "utf8" }),
    crlfDelay: Infinity,
  });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const level = lineLevel(line);
    if (levels.length > 0 && level && !levels.includes(level)) continue;
    if (needle && !line.toLowerCase().includes(needle)) continue;
    out.push(line);
  }
  return out.join("\n");
}
