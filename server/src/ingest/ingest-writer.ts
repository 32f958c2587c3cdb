import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Logger } from "../core/logger";
import type { Database } from "../db/database";
import type { FromWriter, ThreadError, ToWriter, WriterData } from "./ingest-writer-protocol";
import type { MappedReport } from "./map-report";
import { DuplicateRun, type StoredReport } from "./store-report";

/**
 * Uploads stored on a thread of their own (SQLite). An upload's transaction (nine statements with the audit row, its share
 * of a COMMIT) costs more CPU than the HTTP request around it; on the event loop it is time no other request is
 * served. Here the event loop validates and maps the report, hands the plain record to the writer thread and serves
 * other requests while the thread stores it. The thread groups the uploads that arrive together into one transaction
 * (each in a savepoint, as Database.write does) and answers once they are committed, so nothing is acknowledged before
 * COMMIT. Its connection and the event loop's take turns through a shared write lock (db/write-lock.ts), which lets a
 * waiting event-loop writer go first.
 *
 * Should the thread fail to start or die, uploads go back to the event loop's group commit (`fallback`): slower, never
 * refused. Units the thread had not answered fail with a 500, like a crash would; Duplicati sends them again.
 */
export class IngestWriter {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { mapped: MappedReport; resolve: (v: StoredReport) => void; reject: (e: unknown) => void }
  >();
  /** The thread has opened its connection: from then on, what it was given may be committed. */
  private ready = false;
  private closed: Promise<void> | undefined;
  private unsubscribe: () => void = () => undefined;

  private constructor(
    private readonly fallback: (mapped: MappedReport) => Promise<StoredReport>,
    private readonly log: Logger,
  ) {}

  /** Starts the thread for the live SQLite database; without one (or on PostgreSQL) every upload uses `fallback`. */
  static start(db: Database, fallback: (mapped: MappedReport) => Promise<StoredReport>, log: Logger): IngestWriter {
    const writer = new IngestWriter(fallback, log);
    if (db.dialect.kind === "sqlite") writer.spawn(db);
    return writer;
  }

  /** Whether uploads go to the thread (false: the event loop stores them). */
  get threaded(): boolean {
    return this.worker !== undefined;
  }

  store(mapped: MappedReport): Promise<StoredReport> {
    if (!this.worker || this.closed) return this.fallback(mapped);
    const id = this.nextId++;
    const answer = new Promise<StoredReport>((resolve, reject) => this.waiting.set(id, { mapped, resolve, reject }));
    // Sent at once: the thread starts on the first upload of a burst while the event loop still reads the others,
    // and the two overlap (batching the messages per event-loop turn made them take turns instead: measured 25 %
    // fewer uploads/s). The thread still groups what reaches it together into one transaction.
    this.worker.postMessage({ kind: "store", units: [{ id, mapped }] } satisfies ToWriter);
    return answer;
  }

  /** Stores what was asked for, then ends the thread (SIGTERM: in-flight uploads finish). */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const worker = this.worker;
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      this.send({ kind: "close" });
      await exited;
    })();
    return this.closed;
  }

  private send(m: ToWriter): void {
    this.worker?.postMessage(m);
  }

  private spawn(db: Database): void {
    const setup = db.sqliteWriterSetup();
    if (!fs.existsSync(setup.file)) return;
    const data: WriterData = {
      file: setup.file,
      connectionSetup: setup.connectionSetup,
      lock: setup.lock,
      autoCheckpointPages: setup.autoCheckpointPages,
      walBoundBytes: setup.walBoundBytes,
      statementCacheSize: 64,
    };
    // Compiled (npm start): the .js beside this file. From the sources (tests, the tsx tools): the .ts, loaded through
    // tsx's require hook (a worker does not inherit the --import loader of the thread that started it).
    const file = path.join(__dirname, `ingest-writer-thread${path.extname(__filename)}`);
    const compiled = file.endsWith(".js");
    try {
      const worker = new Worker(compiled ? file : `require("tsx/cjs"); require(${JSON.stringify(file)});`, {
        eval: !compiled,
        workerData: data,
        // The thread holds a batch of uploads at a time: a small heap of its own (the process stays under 200 MB).
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      });
      worker.unref();
      worker.on("message", (m: FromWriter) => this.onMessage(m));
      worker.on("error", (err) => this.log.error({ err }, "ingest writer thread failed"));
      worker.on("exit", (code) => this.onExit(worker, code));
      this.worker = worker;
      this.unsubscribe = setup.onAutoCheckpoint((pages) => this.send({ kind: "autocheckpoint", pages }));
    } catch (err) {
      this.log.warn({ err }, "ingest writer thread not started; uploads are stored on the event loop");
    }
  }

  private onMessage(m: FromWriter): void {
    if (m.kind === "ready") {
      this.ready = true;
      return;
    }
    if (m.kind === "warn") {
      this.log.warn({ err: m.error }, `ingest writer thread: ${m.message}`);
      return;
    }
    if (m.kind === "fatal") {
      this.log.error({ err: m.error }, "ingest writer thread stopped");
      return;
    }
    for (const r of m.results) {
      const w = this.waiting.get(r.id);
      if (!w) continue;
      this.waiting.delete(r.id);
      if (r.ok) w.resolve(r.value);
      else w.reject(fromThread(r.error));
    }
  }

  private onExit(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.unsubscribe();
    if (!this.closed) this.log.error({ code }, "ingest writer thread exited; uploads are stored on the event loop");
    // Uploads given to the thread before it could open the database go the event loop's way; those it had
    // afterwards are lost with it (committed or not: the client gets a 500 and sends the report again).
    const lost = new Error("the ingest writer thread stopped before answering");
    for (const w of this.waiting.values()) {
      if (!this.ready) this.fallback(w.mapped).then(w.resolve, w.reject);
      else w.reject(lost);
    }
    this.waiting.clear();
  }
}

function fromThread(e: ThreadError): Error {
  if (e.name === "DuplicateRun") return new DuplicateRun();
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  return err;
}
