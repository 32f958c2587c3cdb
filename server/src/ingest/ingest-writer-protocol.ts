import type { MappedReport } from "./map-report";
import type { StoredReport } from "./store-report";

/** Messages between the event loop and the ingest writer thread (ingest-writer.ts, ingest-writer-thread.ts). */

export interface WriterData {
  file: string;
  connectionSetup: readonly string[];
  lock: SharedArrayBuffer;
  autoCheckpointPages: number;
  /** Past this WAL size the thread checkpoints the WAL itself (see db/wal-bound.ts). */
  walBoundBytes: number;
  statementCacheSize: number;
}

export interface StoreUnit {
  id: number;
  mapped: MappedReport;
}

/** An error as it crosses the thread boundary (DuplicateRun is recognised by its name). */
export interface ThreadError {
  name: string;
  message: string;
  code?: string;
}

export type ToWriter =
  { kind: "store"; units: StoreUnit[] } | { kind: "autocheckpoint"; pages: number } | { kind: "close" };

export type UnitResult = { id: number; ok: true; value: StoredReport } | { id: number; ok: false; error: ThreadError };

export type FromWriter =
  | { kind: "ready" }
  | { kind: "done"; results: UnitResult[] }
  | { kind: "warn"; message: string; error: ThreadError }
  | { kind: "fatal"; error: ThreadError };
