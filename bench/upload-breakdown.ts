/**
 * Where the server's CPU goes per upload, in process (no HTTP, no load generator):
 *   node --import tsx bench/upload-breakdown.ts [uploads=6000]
 *
 * Each stage runs over the same distinct realistic reports in chunks; the figure is the CPU time (user + system) per
 * report of the least disturbed chunk, so other work on the machine inflates it as little as possible.
 *   parse      JSON.parse of the 6.6 KB body (what koa-body does)
 *   validate   validateReport (zod + date/duration checks)
 *   map        mapReport (incl. available versions from the log lines)
 *   ingest     IngestService.ingest(), 16 at a time: validate + map + the upload transaction (no subscribers); the
 *              CPU of both threads (the event loop and the ingest writer thread; process.cpuUsage covers the process)
 *   +events    the same with the application started, so the backupReceived subscribers run too (audit, overdue
 *              monitoring, notifications), waited for with events.idle()
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createDuplistatus } from "../server/src/app";
import { loadConfig } from "../server/src/config";
import { mapReport } from "../server/src/ingest/map-report";
import { validateReport } from "../server/src/ingest/validate-report";
import { UploadBodyTemplate, recentBase } from "./lib/reports";

const CHUNKS = 6;
/** The ingest stages send 16 uploads at a time, the concurrency of `npm run bench`. */
const CONCURRENCY = 16;

/** `concurrency` > 1: that many uploads at once (as HTTP clients would send them), so they can share a commit. */
async function stage(label: string, n: number, work: (i: number) => unknown, concurrency = 1): Promise<number> {
  const per = Math.floor(n / CHUNKS);
  let best = Infinity;
  for (let c = 0; c < CHUNKS; c++) {
    const before = process.cpuUsage();
    for (let i = c * per; i < (c + 1) * per; i += concurrency) {
      const batch: unknown[] = [];
      for (let k = i; k < Math.min(i + concurrency, (c + 1) * per); k++) batch.push(work(k));
      await Promise.all(batch);
    }
    const d = process.cpuUsage(before);
    best = Math.min(best, (d.user + d.system) / per);
  }
  process.stdout.write(`${label.padEnd(44)} ${best.toFixed(0).padStart(6)} µs CPU per upload\n`);
  return best;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 6000);
  const template = new UploadBodyTemplate();
  const bodies = Array.from({ length: n }, (_, i) => template.body(i, 500, 4, recentBase(Math.ceil(n / 2000))));
  const opts = { now: new Date(), timeZone: "UTC" };
  const objects = bodies.map((b) => JSON.parse(b) as unknown);
  const validated = objects.map((o) => validateReport(o));

  process.stdout.write(
    `upload breakdown over ${n} distinct realistic reports (${bodies[0]!.length} B), ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(2)}\n`,
  );
  await stage("parse (JSON.parse of the body)", n, (i) => JSON.parse(bodies[i]!));
  await stage("validate (validateReport)", n, (i) => validateReport(objects[i]));
  await stage("map (mapReport)", n, (i) => mapReport(validated[i]!, opts));

  for (const started of [false, true]) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "duplistatus-breakdown-"));
    try {
      const env = { NODE_ENV: "production", LOG_LEVEL: "warn", DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" };
      const app = await createDuplistatus(loadConfig(env));
      if (started) await app.listen();
      const fresh = bodies.map((b) => JSON.parse(b) as unknown); // ingest() may keep references; fresh objects
      await stage(
        started ? "ingest() + backupReceived subscribers" : "ingest() (validate + map + transaction)",
        n,
        async (i) => {
          await app.services.ingest.ingest(fresh[i]);
          if (started) await app.events.idle();
        },
        CONCURRENCY,
      );
      await app.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
