import { expect } from "chai";
import { ManualClock } from "../../server/src/core/clock";
import type { DomainEvents } from "../../server/src/core/events";
import { login } from "../support/auth";
import { loadFixture, startTestServer, type TestServer } from "../support/server";

/**
 * A 30-day simulation with a fake clock: 200 jobs with random intervals and weekdays, some late now and then,
 * some that stop for good, some that fail on time. The overdue check runs every 5 minutes of simulated time. A
 * model of the expected state is kept beside the server, and at every check it must agree exactly: one
 * backupOverdue when an episode opens (the first check after deadline + tolerance), one per day while it lasts,
 * one overdueCleared when the late run arrives, and nothing at all for jobs that are on time.
 */

const CHECK_MS = 5 * 60_000;
const TOLERANCE_MS = 2 * 3600_000; // the default tolerance, "2h"
const DAY_MS = 24 * 3600_000;
const START = Date.parse("2026-03-02T00:00:00.000Z");
const DAYS = 30;
const JOBS = 200;

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Behaviour = "punctual" | "sometimes-late" | "stops" | "failing";

interface SimJob {
  serverId: string;
  backupName: string;
  interval: string;
  weekdays: number[];
  behaviour: Behaviour;
  stopAt: number;
  deadline: number;
  plannedRun: number;
  // model of the episode
  open: boolean;
  lastNotified: number;
  notices: number;
}

describe("overdue detection over a 30-day simulation", function () {
  this.timeout(600_000);
  let server: TestServer;
  const clock = new ManualClock(START);
  const rand = mulberry32(20261127);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

  before(async () => {
    server = await startTestServer({ UPLOAD_RATE_LIMIT: "0" }, { clock });
  });
  after(() => server.close());

  function report(job: SimJob, begin: number, status: string): Record<string, unknown> {
    const r = loadFixture<{ Data: Record<string, unknown>; Extra: Record<string, unknown> }>(
      "01-upstream-sample-success.json",
    );
    r.Data.BeginTime = new Date(begin).toISOString();
    r.Data.EndTime = new Date(begin + 60_000).toISOString();
    r.Data.Duration = "00:01:00";
    r.Data.ParsedResult = status;
    r.Extra["machine-id"] = job.serverId;
    r.Extra["machine-name"] = `Server ${job.serverId}`;
    r.Extra["backup-name"] = job.backupName;
    return r;
  }

  it("reports every episode exactly once, re-notifies daily, clears every recovery, and never flags an on-time job", async () => {
    const app = server.app;
    const jobs: SimJob[] = [];
    for (let i = 0; i < JOBS; i++) {
      const interval = pick(["6h", "12h", "1D", "1D", "1D", "2D", "1W"]);
      const weekdays =
        interval === "1W"
          ? [0, 1, 2, 3, 4, 5, 6]
          : pick([
              [0, 1, 2, 3, 4, 5, 6],
              [0, 1, 2, 3, 4, 5, 6],
              [1, 2, 3, 4, 5],
              [1, 3, 5],
            ]);
      const behaviour = pick<Behaviour>([
        "punctual",
        "punctual",
        "sometimes-late",
        "sometimes-late",
        "stops",
        "failing",
      ]);
      jobs.push({
        serverId: `sim-${i % 40}`,
        backupName: `job-${i}`,
        interval,
        weekdays,
        behaviour,
        stopAt: START + (3 + Math.floor(rand() * (DAYS - 6))) * DAY_MS,
        deadline: 0,
        plannedRun: 0,
        open: false,
        lastNotified: 0,
        notices: 0,
      });
    }

    // Each job's first run, then its schedule.
    const nextExpected = new Map<string, string | null>();
    app.events.on("backupReceived", (e) => {
      nextExpected.set(`${e.job.serverId}:${e.job.backupName}`, e.nextExpectedAt);
    });
    for (const job of jobs) await app.services.ingest.ingest(report(job, START - 3600_000, "Success"));
    const admin = await login(server);
    const settings: Record<string, unknown> = {};
    for (const job of jobs) {
      settings[`${job.serverId}:${job.backupName}`] = { expectedInterval: job.interval, allowedWeekDays: job.weekdays };
    }
    const saved = await admin.json("POST", "/api/configuration/backup-settings", { backupSettings: settings });
    expect(saved.status).to.equal(200);
    await app.events.idle();
    const map = (await (await admin.request("/api/configuration/backup-settings")).json()) as {
      backupSettings: Record<string, { time: string }>;
    };
    const planNext = (job: SimJob) => {
      const lateBy =
        job.behaviour === "sometimes-late" && rand() < 0.15
          ? TOLERANCE_MS + 3600_000 + Math.floor(rand() * 30 * 3600_000)
          : Math.floor(rand() * 45 * 60_000);
      job.plannedRun = job.deadline + lateBy;
    };
    for (const job of jobs) {
      job.deadline = Date.parse(map.backupSettings[`${job.serverId}:${job.backupName}`]?.time ?? "");
      expect(Number.isNaN(job.deadline), job.backupName).to.equal(false);
      planNext(job);
    }

    // Collect the events of each step.
    let stepEvents: Array<
      { kind: "overdue"; e: DomainEvents["backupOverdue"] } | { kind: "cleared"; e: DomainEvents["overdueCleared"] }
    > = [];
    app.events.on("backupOverdue", (e) => void stepEvents.push({ kind: "overdue", e }));
    app.events.on("overdueCleared", (e) => void stepEvents.push({ kind: "cleared", e }));

    let opened = 0;
    let renotified = 0;
    let cleared = 0;
    const end = START + DAYS * DAY_MS;
    for (let now = START + CHECK_MS; now <= end; now += CHECK_MS) {
      clock.set(now);
      stepEvents = [];
      const expected = new Map<string, { overdue: number; notice?: number; cleared: number }>();
      const key = (j: SimJob) => `${j.serverId}:${j.backupName}`;

      // Runs that are due by now arrive (with their real begin time).
      for (const job of jobs) {
        const stopped = job.behaviour === "stops" && job.plannedRun >= job.stopAt;
        if (stopped || job.plannedRun > now) continue;
        await app.services.ingest.ingest(
          report(job, job.plannedRun, job.behaviour === "failing" ? "Error" : "Success"),
        );
        const next = nextExpected.get(key(job));
        expect(next, `${key(job)} next expected after a run`).to.be.a("string");
        if (job.open) expected.set(key(job), { overdue: 0, cleared: 1 });
        job.open = false;
        job.deadline = Date.parse(next as string);
        planNext(job);
      }
      await app.events.idle();

      await app.services.overdue.check();
      await app.events.idle();

      for (const job of jobs) {
        const isOverdue = now > job.deadline + TOLERANCE_MS;
        const exp = expected.get(key(job)) ?? { overdue: 0, cleared: 0 };
        if (isOverdue && !job.open) {
          job.open = true;
          job.notices = 1;
          job.lastNotified = now;
          exp.overdue = 1;
          exp.notice = 1;
          opened++;
          // Reported within one check interval of deadline + tolerance.
          expect(now - (job.deadline + TOLERANCE_MS)).to.be.at.most(CHECK_MS);
        } else if (isOverdue && now - job.lastNotified >= DAY_MS) {
          job.notices++;
          job.lastNotified = now;
          exp.overdue = 1;
          exp.notice = job.notices;
          renotified++;
        }
        expected.set(key(job), exp);
      }

      for (const job of jobs) {
        const k = key(job);
        const exp = expected.get(k) ?? { overdue: 0, cleared: 0 };
        const got = stepEvents.filter((s) => `${s.e.job.serverId}:${s.e.job.backupName}` === k);
        const overdue = got.filter((s) => s.kind === "overdue");
        const clears = got.filter((s) => s.kind === "cleared");
        const at = new Date(now).toISOString();
        expect(overdue.length, `${k} (${job.behaviour}) backupOverdue at ${at}`).to.equal(exp.overdue);
        expect(clears.length, `${k} (${job.behaviour}) overdueCleared at ${at}`).to.equal(exp.cleared);
        if (exp.notice !== undefined && overdue[0]?.kind === "overdue")
          expect(overdue[0].e.notice).to.equal(exp.notice);
        if (job.behaviour === "punctual" || job.behaviour === "failing")
          expect(overdue.length, `${k} is on time`).to.equal(0);
        cleared += clears.length;
      }
    }

    console.log(`      episodes ${opened}, re-notifications ${renotified}, recoveries ${cleared}`);
    // The scenario really exercised every path.
    expect(opened, "episodes opened").to.be.greaterThan(20);
    expect(renotified, "daily re-notifications").to.be.greaterThan(20);
    expect(cleared, "recoveries").to.be.greaterThan(10);
  });
});
