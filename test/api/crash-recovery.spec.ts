import fs from "node:fs";
import { expect } from "chai";
import { makeReport } from "../support/api";
import { type ChildServer, freePort, post, spawnServer } from "../support/child-server";
import { tempDataDir } from "../support/server";
import { assertConsistentDatabase, count, withDatabase } from "../support/sqlite";

/**
 * "Every upload is one transaction: all or nothing. A crash at any point loses no acknowledged upload" (contract §2).
 * The real server runs as a child process; uploads stream at it from several concurrent senders while it is killed.
 */

const SENDERS = 4;
/** A safety stop for the senders should the process never go away. */
const MAX_UPLOADS_PER_ROUND = 5000;

interface Upload {
  text: string;
  machineId: string;
  backupName: string;
  date: string;
}

interface RoundResult {
  acked: Upload[];
  /** Sent, but the connection failed before an answer: may or may not be stored. */
  unanswered: Upload[];
  /** Any answer other than 200 (none expected: every report is distinct and valid). */
  unexpected: string[];
}

let sequence = 0;

/** A distinct, valid report; a few hundred log lines make each transaction take a little while. */
function nextUpload(): Upload {
  const i = sequence++;
  const machineId = `crash-machine-${i % 7}`;
  const backupName = `Job ${i % 3}`;
  const date = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString();
  const report = makeReport({
    machineId,
    machineName: `Crash Machine ${i % 7}`,
    backupName,
    begin: date,
    uploaded: 1000 + i,
    size: 5000 + i,
    known: 9000 + i,
  });
  report.LogLines = Array.from(
    { length: 300 },
    (_, n) => `2025-01-01 00:00:00 +00 - [Information-Duplicati.Test-Line]: upload ${i} line ${n} ${"x".repeat(60)}`,
  );
  return { text: JSON.stringify(report), machineId, backupName, date };
}

/**
 * Streams uploads from several senders; after `signalAfter` acknowledgements the process gets `signal`. Senders stop
 * at their first connection failure after that.
 */
async function streamUntilSignal(
  server: ChildServer,
  signalAfter: number,
  signal: NodeJS.Signals,
): Promise<RoundResult> {
  const result: RoundResult = { acked: [], unanswered: [], unexpected: [] };
  let signalled = false;
  let sent = 0;
  const sender = async () => {
    while (sent < MAX_UPLOADS_PER_ROUND) {
      sent++;
      const upload = nextUpload();
      try {
        const res = await post(server.url, "/api/upload", upload.text);
        if (res.status === 200) {
          result.acked.push(upload);
          if (!signalled && result.acked.length >= signalAfter) {
            signalled = true;
            server.proc.kill(signal);
          }
        } else {
          result.unexpected.push(`${res.status} ${res.text.slice(0, 200)}`);
        }
      } catch (err) {
        result.unanswered.push(upload);
        if (!signalled) result.unexpected.push(`connection failed before the signal: ${String(err)}`);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, sender));
  return result;
}

async function totalRuns(server: ChildServer): Promise<number> {
  const res = await post(server.url, "/api/summary", undefined, "GET");
  expect(res.status).to.equal(200);
  return (JSON.parse(res.text) as { totalBackupsRuns: number }).totalBackupsRuns;
}

describe("crash recovery (the real server as a child process)", function () {
  this.timeout(180_000);

  let dataDir: string;
  let server: ChildServer | undefined;
  beforeEach(() => {
    dataDir = tempDataDir("duplistatus-crash-");
  });
  afterEach(async () => {
    // Only the process this test started, by its handle.
    if (server) await server.stop("SIGKILL");
    server = undefined;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("SIGKILL mid-stream, twice: every acknowledged upload survives and the file is consistent", async () => {
    const port = await freePort();
    const acked: Upload[] = [];
    const unanswered: Upload[] = [];

    for (const signalAfter of [40, 25]) {
      server = await spawnServer(dataDir, port);
      const round = await streamUntilSignal(server, signalAfter, "SIGKILL");
      const exit = await server.exited;
      server = undefined;
      expect(exit.signal).to.equal("SIGKILL");
      expect(round.unexpected).to.deep.equal([]);
      expect(round.acked.length).to.be.at.least(signalAfter);
      acked.push(...round.acked);
      unanswered.push(...round.unanswered);
    }
    expect(unanswered.length, "senders in flight when the process died").to.be.at.least(1);

    // Restart on the same data directory.
    server = await spawnServer(dataDir, port);
    const runs = await totalRuns(server);
    expect(runs, "runs stored ≥ acknowledged").to.be.at.least(acked.length);
    expect(runs, "runs stored ≤ acknowledged + unanswered").to.be.at.most(acked.length + unanswered.length);

    // Every acknowledged upload is there: sending it again is a duplicate.
    for (const u of acked) {
      const res = await post(server.url, "/api/upload", u.text);
      expect(res.status, `acknowledged upload ${u.machineId}/${u.backupName}/${u.date}`).to.equal(409);
    }
    // An unanswered one is either stored (409) or absent (stored now, 200); runs counted exactly those stored.
    let unansweredStored = 0;
    for (const u of unanswered) {
      const res = await post(server.url, "/api/upload", u.text);
      expect(res.status).to.be.oneOf([200, 409]);
      if (res.status === 409) unansweredStored++;
    }
    expect(runs).to.equal(acked.length + unansweredStored);
    expect(await totalRuns(server)).to.equal(acked.length + unanswered.length);

    const exit = await server.stop("SIGTERM");
    server = undefined;
    expect(exit).to.deep.equal({ code: 0, signal: null });

    // The file: SQLite integrity, no orphan or partial rows, job state consistent with the runs.
    expect(assertConsistentDatabase(dataDir)).to.equal(acked.length + unanswered.length);
  });

  it("SIGTERM mid-stream: exits 0, acknowledged uploads are stored", async () => {
    const port = await freePort();
    server = await spawnServer(dataDir, port);
    const round = await streamUntilSignal(server, 30, "SIGTERM");
    const exit = await server.exited;
    server = undefined;
    expect(exit).to.deep.equal({ code: 0, signal: null });
    expect(round.unexpected).to.deep.equal([]);
    expect(round.acked.length).to.be.at.least(30);

    const stored = assertConsistentDatabase(dataDir);
    expect(stored).to.be.at.least(round.acked.length);
    expect(stored).to.be.at.most(round.acked.length + round.unanswered.length);
    // A graceful stop finishes the requests it has started and refuses the rest, so nothing is stored unanswered.
    expect(stored, "stored without an answer during a graceful stop").to.equal(round.acked.length);
    withDatabase(dataDir, (db) => {
      for (const u of round.acked) {
        const n = count(
          db,
          `SELECT COUNT(*) AS n FROM backups WHERE server_id = ? AND backup_name = ? AND date = ?`,
          u.machineId,
          u.backupName,
          u.date,
        );
        expect(n, `acknowledged ${u.machineId}/${u.backupName}/${u.date}`).to.equal(1);
      }
    });

    // And the restarted server serves them.
    server = await spawnServer(dataDir, port);
    expect(await totalRuns(server)).to.equal(stored);
    const sample = round.acked[round.acked.length - 1] as Upload;
    expect((await post(server.url, "/api/upload", sample.text)).status).to.equal(409);
    const exit2 = await server.stop("SIGTERM");
    server = undefined;
    expect(exit2).to.deep.equal({ code: 0, signal: null });
  });
});
