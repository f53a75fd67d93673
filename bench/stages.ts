/**
 * `npm run bench -- --stages`: the CPU of a reply's stream stages, each alone and with no I/O,
 * in the same workerd as the Worker (bench/stages-worker.ts runs them; this drives it and reads
 * the workerd's CPU from /proc around each run).
 */
import { sampleCpu } from "./cpu";
import type { BenchStackInfo } from "./stack";
import { STAGE_CASES } from "./stage-cases";
import { printTable } from "./stats";

const SHORT = 50;
const LONG = 250;
const TURNS = 200;

export async function measureStages(info: BenchStackInfo): Promise<void> {
  const rows: string[][] = [];
  const perChunk = new Map<string, number>();
  for (const name of Object.keys(STAGE_CASES)) {
    await run(info, name, SHORT, 20); // warm-up: compiled code, not the first calls, is measured
    const short = await run(info, name, SHORT, TURNS);
    const long = await run(info, name, LONG, TURNS);
    perChunk.set(name, (long.cpuMs - short.cpuMs) / (long.chunksPerTurn - short.chunksPerTurn));
    const perToken = (long.cpuMs - short.cpuMs) / (LONG - SHORT);
    rows.push([name, short.chunksPerTurn.toFixed(0), short.cpuMs.toFixed(2), perToken.toFixed(3)]);
  }
  console.log(`\nparley bench --stages: ${TURNS} replies per case and length, in memory, ten at a time; CPU = the Worker's workerd\n`);
  printTable(["case", `chunks read / ${SHORT}-token reply`, `CPU ms / ${SHORT}-token reply`, `ms per token (${SHORT} vs ${LONG})`], rows);
  console.log("");
  for (const [name, meaning] of Object.entries(STAGE_CASES)) console.log(`  ${name}: ${meaning}`);
  const stage = (perChunk.get("stages-10")! - perChunk.get("stages-0")!) / 10;
  console.log(`\none TransformStream stage: ≈ ${(stage * 1000).toFixed(1)} µs per chunk`);
}

async function run(info: BenchStackInfo, name: string, tokens: number, turns: number): Promise<{ chunksPerTurn: number; cpuMs: number }> {
  const from = sampleCpu(info.workerdPid);
  const res = await fetch(`${info.workerUrl}/stages?case=${name}&tokens=${tokens}&turns=${turns}`);
  if (!res.ok) throw new Error(`stages case ${name}: HTTP ${res.status} ${await res.text()}`);
  const { chunksPerTurn } = (await res.json()) as { chunksPerTurn: number };
  const to = sampleCpu(info.workerdPid);
  return { chunksPerTurn, cpuMs: (to.workerdMs - from.workerdMs) / turns };
}
