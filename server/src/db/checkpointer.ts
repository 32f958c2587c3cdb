/**
 * SQLite WAL checkpoints off the event loop. With SQLite's automatic checkpoint, the COMMIT that crosses the
 * threshold copies the WAL back into the database file and waits for its fsyncs, on the thread that serves every
 * request: measured over 7,000 uploads, about 1 s of the event loop's time went into those few COMMITs (stalls of
 * tens of milliseconds each), most of it waiting for the disk. Here a worker thread with a connection of its own runs
 * PASSIVE checkpoints (they never block the writer or readers) whenever the WAL has grown past a threshold, and the
 * live connection's automatic checkpoint is turned off meanwhile. Should the worker fail, the automatic checkpoint is
 * turned back on, so the WAL never grows unchecked.
 *
 * The worker is plain JavaScript (no TypeScript loader needed in the thread) and loads only better-sqlite3.
 */
import fs from "node:fs";
import { Worker } from "node:worker_threads";
import type { Logger } from "../core/logger";

/** The worker: checkpoint when the WAL file is larger than `thresholdBytes`, checking every `intervalMs`. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma("busy_timeout = 5000");
db.pragma("wal_autocheckpoint = 0");
const wal = workerData.file + "-wal";
let stopped = false;
function walSize() {
  try { return fs.statSync(wal).size; } catch { return 0; }
}
function tick() {
  if (stopped) return;
  try {
    if (walSize() > workerData.thresholdBytes) {
      const [r] = db.pragma("wal_checkpoint(PASSIVE)");
      parentPort.postMessage({ kind: "checkpoint", busy: r.busy, log: r.log, checkpointed: r.checkpointed });
    }
  } catch (err) {
    parentPort.postMessage({ kind: "error", message: String(err && err.message || err) });
  }
  setTimeout(tick, workerData.intervalMs);
}
parentPort.on("message", (m) => {
  if (m === "stop") { stopped = true; try { db.close(); } catch {} parentPort.close(); }
});
tick();
`;

export interface CheckpointerOptions {
  /** The live database file (its WAL is `<file>-wal`). */
  file: string;
  /** Checkpoint once the WAL is larger than this (default 16 MB, the size SQLite's own threshold used here gave). */
  thresholdBytes?: number;
  intervalMs?: number;
  /** Turns the live connection's automatic checkpoint off (0) or back on (pages). */
  setAutoCheckpoint(pages: number): void;
  log: Logger;
}

export class BackgroundCheckpointer {
  private worker: Worker | undefined;
  private stopping = false;
  /** Checkpoints the worker has run (for tests and diagnostics). */
  checkpoints = 0;

  private constructor(private readonly options: CheckpointerOptions & { fallbackPages: number }) {}

  /** Starts the worker; on any failure to start, the automatic checkpoint simply stays on. */
  static start(options: CheckpointerOptions, fallbackPages: number): BackgroundCheckpointer {
    const c = new BackgroundCheckpointer({ ...options, fallbackPages });
    c.spawn();
    return c;
  }

  private spawn(): void {
    const { file, log } = this.options;
    if (!fs.existsSync(file)) return;
    try {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          file,
          driver: require.resolve("better-sqlite3"),
          thresholdBytes: this.options.thresholdBytes ?? 16 * 1024 * 1024,
          intervalMs: this.options.intervalMs ?? 200,
        },
        // The thread holds no JavaScript data worth a large heap: keep its share of the process small.
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      });
      worker.unref();
      worker.on("message", (m: { kind: string; message?: string; busy?: number }) => {
        if (m.kind === "checkpoint") this.checkpoints++;
        else if (m.kind === "error") log.warn({ err: m.message }, "background WAL checkpoint failed");
      });
      worker.on("error", (err) => log.warn({ err }, "background WAL checkpointer stopped"));
      worker.on("exit", () => {
        if (this.worker === worker) this.worker = undefined;
        if (!this.stopping) {
          // Without the worker, SQLite checkpoints on commit again.
          this.options.setAutoCheckpoint(this.options.fallbackPages);
        }
      });
      this.worker = worker;
      this.options.setAutoCheckpoint(0);
    } catch (err) {
      log.warn({ err }, "background WAL checkpointer not started; SQLite checkpoints on commit");
    }
  }

  /** Stops the worker and waits for it; the live connection's automatic checkpoint is turned back on. */
  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    this.options.setAutoCheckpoint(this.options.fallbackPages);
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage("stop");
    const timer = setTimeout(() => void worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
