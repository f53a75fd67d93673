/** CPU time of the Worker's workerd process, read from /proc (Linux). */
import { readFileSync } from "node:fs";

/** Kernel clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  /** user + system CPU of the workerd that runs the Worker (all its threads), in ms. */
  workerdMs: number;
  /** When it was read, in epoch ms. */
  at: number;
}

/** The fields of `/proc/<pid>/stat` the benchmark reads. */
export interface ProcStat {
  comm: string;
  ppid: number;
  /** user + system CPU of all its threads, in ms. */
  cpuMs: number;
}

export function readProcStat(pid: number | string): ProcStat {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // `pid (comm) state ppid …`: comm may hold spaces, so fields count from its closing parenthesis.
  const close = stat.lastIndexOf(")");
  const fields = stat.slice(close + 2).split(" ");
  return {
    comm: stat.slice(stat.indexOf("(") + 1, close),
    ppid: Number(fields[1]),
    cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND,
  };
}

export function sampleCpu(pid: number): CpuSample {
  return { workerdMs: readProcStat(pid).cpuMs, at: performance.timeOrigin + performance.now() };
}

/** Worker CPU between two samples, less what the same time costs idle (`idleMsPerSecond`). */
export function busyCpuMs(from: CpuSample, to: CpuSample, idleMsPerSecond: number): number {
  const idle = (idleMsPerSecond * (to.at - from.at)) / 1000;
  return Math.max(0, to.workerdMs - from.workerdMs - idle);
}

/** Measures the idle workerd's CPU per second over `ms`. */
export async function idleCpuPerSecond(pid: number, ms: number): Promise<number> {
  const from = sampleCpu(pid);
  await new Promise((done) => setTimeout(done, ms));
  const to = sampleCpu(pid);
  return ((to.workerdMs - from.workerdMs) * 1000) / (to.at - from.at);
}
