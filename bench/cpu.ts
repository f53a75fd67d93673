/** CPU time of the Worker's processes, read from /proc (Linux). */
import { readdirSync, readFileSync } from "node:fs";

/** Kernel clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  /** user + system CPU of the workerd that runs the Worker, in ms. */
  workerdMs: number;
  /**
   * user + system CPU of the rest of the group, in ms: wrangler's Node processes and the
   * workerd of its proxy worker, which every request and response passes through locally.
   */
  wranglerMs: number;
  /** When it was read, in epoch ms. */
  at: number;
}

/** Sums the CPU of the processes in process group `group` (wrangler dev's, holding workerd). */
export function sampleCpu(group: number): CpuSample {
  const sample: CpuSample = { workerdMs: 0, wranglerMs: 0, at: performance.timeOrigin + performance.now() };
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // Exited while we looked.
    }
    // `pid (comm) state ppid pgrp …`: comm may hold spaces, so fields count from its closing parenthesis.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    if (Number(fields[2]) !== group) continue;
    const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
    if (comm.startsWith("workerd") && isUserWorker(entry)) sample.workerdMs += ms;
    else sample.wranglerMs += ms;
  }
  return sample;
}

/**
 * wrangler dev runs two workerd processes: its proxy (listening on the dev port) and the one
 * running the Worker, started with the inspector on.
 */
function isUserWorker(pid: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").some((arg) => arg.startsWith("--inspector-addr"));
  } catch {
    return false;
  }
}

/** Worker CPU between two samples, less what the same time costs idle (`idleMsPerSecond`). */
export function busyCpuMs(from: CpuSample, to: CpuSample, idleMsPerSecond: number): { workerdMs: number; wranglerMs: number } {
  const idle = (idleMsPerSecond * (to.at - from.at)) / 1000;
  return { workerdMs: Math.max(0, to.workerdMs - from.workerdMs - idle), wranglerMs: to.wranglerMs - from.wranglerMs };
}

/** Measures the idle workerd's CPU per second over `ms`. */
export async function idleCpuPerSecond(group: number, ms: number): Promise<number> {
  const from = sampleCpu(group);
  await new Promise((done) => setTimeout(done, ms));
  const to = sampleCpu(group);
  return ((to.workerdMs - from.workerdMs) * 1000) / (to.at - from.at);
}
