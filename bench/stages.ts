/**
 * `npm run bench -- --stages`: the CPU of a reply's stream stages, each alone and with no I/O,
 * in the same workerd as the Worker (bench/stages-worker.ts runs them; this drives it and reads
 * the workerd's CPU from /proc around each run).
 */
import { sampleCpu } from "./cpu";
import type { BenchStackInfo } from "./stack";
import { STAGE_CASES } from "./stage-cases";

const SHORT = 50;
const LONG = 250;
const TURNS = 200;

export async function measureStages(info: BenchStackInfo): Promise<void> {
  const rows: string[][] = [];
  const perChunk = new Map<string, number>();
  for (const [name, meaning] of Object.entries(STAGE_CASES)) {
    await run(info, name, SHORT, 20); // warm-up: compiled code, not the first calls, is measured
    const short = await run(info, name, SHORT, TURNS);
    const long = await run(info, name, LONG, TURNS);
    const extraChunks = long.chunksPerTurn - short.chunksPerTurn;
    perChunk.set(name, (long.cpuMs - short.cpuMs) / extraChunks);
    const perToken = (long.cpuMs - short.cpuMs) / (LONG - SHORT);
    rows.push([name, short.chunksPerTurn.toFixed(0), short.cpuMs.toFixed(2), perToken.toFixed(3), meaning]);
  }
  console.log(`\nparley bench --stages: ${TURNS} replies per case and length, in memory, ten at a time; CPU = the Worker's workerd`);
  const header = ["case", `chunks read / ${SHORT}-token reply`, `CPU ms / ${SHORT}-token reply`, `ms per token (${SHORT} vs ${LONG})`, ""];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : i === row.length - 1 ? cell : cell.padStart(widths[i]!))).join("  ").trimEnd());
  const stage = (perChunk.get("stages-10")! - perChunk.get("stages-0")!) / 10;
  console.log(`\none TransformStream stage: ≈ ${(stage * 1000).toFixed(1)} µs per chunk`);
}

async function run(info: BenchStackInfo, name: string, tokens: number, turns: number): Promise<{ chunksPerTurn: number; cpuMs: number }> {
  const from = sampleCpu(info.wranglerPid);
  const res = await fetch(`${info.workerUrl}/stages?case=${name}&tokens=${tokens}&turns=${turns}`);
  if (!res.ok) throw new Error(`stages case ${name}: HTTP ${res.status} ${await res.text()}`);
  const { chunksPerTurn } = (await res.json()) as { chunksPerTurn: number };
  const to = sampleCpu(info.wranglerPid);
  return { chunksPerTurn, cpuMs: (to.workerdMs - from.workerdMs) / turns };
}
