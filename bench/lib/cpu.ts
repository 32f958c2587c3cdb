import fs from "node:fs";
import os from "node:os";

/**
 * CPU accounting from /proc (Linux), so a figure can say how busy the machine was with *other* work while it was
 * measured: the load generator and the server share the cores, and anything else running skews the numbers.
 */

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Busy jiffies of the whole machine (all CPUs). */
function machineBusyTicks(): number {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return user + nice + system + irq + softirq + steal;
}

/** utime + stime of a process (all its threads), in jiffies; 0 when it is gone. */
export function processTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** utime + stime of a process's main thread (for Node: the event loop), in jiffies; 0 when it is gone. */
export function mainThreadTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

export interface CpuWindow {
  /** CPU used by the watched processes, in cores (1.0 = one core busy for the whole window). */
  ownCores: number;
  /** CPU used by everything else on the machine, in cores. */
  otherCores: number;
  /** Cores used per watched pid. */
  perPid: Record<number, number>;
  /** Cores used by each watched pid's main thread (a Node process's event loop; the rest is its worker threads). */
  perPidMainThread: Record<number, number>;
}

/** Starts a measurement window over the given pids; `end()` returns the CPU split. */
export function cpuWindow(pids: number[]): { end(): CpuWindow } {
  const t0 = performance.now();
  const busy0 = machineBusyTicks();
  const own0 = pids.map(processTicks);
  const main0 = pids.map(mainThreadTicks);
  return {
    end() {
      const seconds = (performance.now() - t0) / 1000;
      const busy = machineBusyTicks() - busy0;
      const own = pids.map((pid, i) => processTicks(pid) - (own0[i] ?? 0));
      const ownTotal = own.reduce((a, b) => a + b, 0);
      const toCores = (ticks: number) => ticks / TICKS_PER_SECOND / seconds;
      const perPid: Record<number, number> = {};
      pids.forEach((pid, i) => (perPid[pid] = toCores(own[i] ?? 0)));
      const perPidMainThread: Record<number, number> = {};
      pids.forEach((pid, i) => (perPidMainThread[pid] = toCores(mainThreadTicks(pid) - (main0[i] ?? 0))));
      return {
        ownCores: toCores(ownTotal),
        otherCores: Math.max(0, toCores(busy - ownTotal)),
        perPid,
        perPidMainThread,
      };
    },
  };
}

export const cpuCount = (): number => os.cpus().length;
