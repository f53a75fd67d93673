/**
 * `npm run bench`: brings up its own stack (bench/stack.ts) and measures parley's turn path —
 * overhead before the first token, store round trips and requests per phase, Worker CPU per
 * turn, last-token lag — for N concurrent sessions × M turns, then a concurrency mode of many
 * long replies at once. It prints figures and asserts nothing. Flags: `npm run bench -- --help`.
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { ShimRequestRecord } from "../dev/shim-server";
import type { ReplyTiming } from "../test/support/fake-openai";
import { nowMs, openSession, runTurn, type Session, type TurnPace, type TurnResult } from "./client";
import { busyCpuMs, idleCpuPerSecond, sampleCpu } from "./cpu";
import { startCpuProfile, summariseProfile } from "./profile";
import type { BenchStackInfo } from "./stack";
import { measureStages } from "./stages";
import { bufferWrites, pairTimings, percentile, phasesPerTurn, printTable, type PhaseCounts } from "./stats";

const HELP = `npm run bench -- [flags]
  --sessions 1,10,50   concurrent sessions N, one scenario each      (BENCH_SESSIONS)
  --turns 3            turns per session M                            (BENCH_TURNS)
  --tokens 50          tokens per reply                               (BENCH_TOKENS)
  --ttft 50            the fake model's time to first token, ms       (BENCH_TTFT_MS)
  --gap 10             the fake model's pause between tokens, ms      (BENCH_GAP_MS)
  --latency 20         added store latency of the round-trip run, ms  (SHIM_LATENCY_MS; 0 skips it)
  --concurrency 200    concurrent 5-second replies, e.g. 200,500      (BENCH_CONCURRENCY; 0 skips)
  --reply-seconds 5    length of a concurrency-mode reply, s
  --profile            record a CPU profile of the Worker during the largest N scenario
  --floor              run bench/floor-worker.ts instead of parley: the same I/O with no libraries
  --sdk-floor          run bench/sdk-floor-worker.ts: the floor's I/O, the model's stream through the AI SDK as parley uses it
  --libraries-floor    run bench/libraries-floor-worker.ts: the SDK floor with Hono, zod and the store clients too
  --plain              run bench/plain-worker.ts: the same I/O through the same libraries, used as documented
  --stages             instead of turns: the CPU of each stream stage of a reply alone, in memory (bench/stages-worker.ts)
  --port-base 9200     ports base … base+4                            (BENCH_PORT_BASE)`;

const { values: flags } = parseArgs({
  options: {
    sessions: { type: "string", default: process.env.BENCH_SESSIONS ?? "1,10,50" },
    turns: { type: "string", default: process.env.BENCH_TURNS ?? "3" },
    tokens: { type: "string", default: process.env.BENCH_TOKENS ?? "50" },
    ttft: { type: "string", default: process.env.BENCH_TTFT_MS ?? "50" },
    gap: { type: "string", default: process.env.BENCH_GAP_MS ?? "10" },
    latency: { type: "string", default: process.env.SHIM_LATENCY_MS ?? "20" },
    concurrency: { type: "string", default: process.env.BENCH_CONCURRENCY ?? "200" },
    "reply-seconds": { type: "string", default: "5" },
    profile: { type: "boolean", default: false },
    floor: { type: "boolean", default: false },
    plain: { type: "boolean", default: false },
    "sdk-floor": { type: "boolean", default: false },
    "libraries-floor": { type: "boolean", default: false },
    stages: { type: "boolean", default: false },
    "port-base": { type: "string", default: process.env.BENCH_PORT_BASE ?? "9200" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}
/** The Worker run in parley's place, if a flag names one (bench/stack.ts, `BENCH_WORKER`). */
const replacements = (["floor", "sdk-floor", "libraries-floor", "plain", "stages"] as const).filter((name) => flags[name]);
if (replacements.length > 1) {
  console.error(`--${replacements.join(" and --")} each replace parley: give one of them`);
  process.exit(2);
}

const list = (value: string) => value.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
const options = {
  sessions: list(flags.sessions),
  turns: Number(flags.turns),
  pace: { ttftMs: Number(flags.ttft), gapMs: Number(flags.gap), tokens: Number(flags.tokens) } satisfies TurnPace,
  latencyMs: Number(flags.latency),
  concurrency: list(flags.concurrency),
  replySeconds: Number(flags["reply-seconds"]),
};
/** Idle between a session's turns, so a turn's last store requests land before the next is sent. */
const PAUSE_BETWEEN_TURNS_MS = 100;
/** Turns of each round-trip run (N = 1, without and with added store latency). */
const ROUND_TRIP_TURNS = 10;
const loadAtStart = loadavg();
/** Sessions opened at once while preparing a scenario. */
const OPEN_PARALLEL = 20;
const root = resolve(import.meta.dirname, "..");

interface ScenarioFigures {
  name: string;
  turns: number;
  errors: number;
  errorSamples: string[];
  overheadMin: number;
  overheadP50: number;
  overheadP99: number;
  /** The overhead's part before the model request arrived. */
  toModelP50: number;
  toModelP99: number;
  lagP50: number;
  lagP99: number;
  cpuMsPerTurn: number;
  upstashPerTurn: number;
  neonPerTurn: number;
  /** The reply buffer's writes (resume), per turn and per second of streaming. */
  buffer: { perTurn: number; perSecond: number };
  phases?: { upstash: PhaseCounts; neon: PhaseCounts };
}

const stack = await startStack();
try {
  if (flags.stages) await measureStages(stack.info);
  else await measureTurns();
} finally {
  await stack.stop();
}

async function measureTurns(): Promise<void> {
  const workerd = stack.info.workerdPid;
  log(`stack ready: Worker ${stack.info.workerUrl}; warming up`);
  await scenario("warm-up", 2, 3, options.pace, { quiet: true });
  const idle = await idleCpuPerSecond(workerd, 2_000);
  log(`idle workerd CPU: ${idle.toFixed(1)} ms/s (subtracted)`);
  const results: ScenarioFigures[] = [];
  const largest = Math.max(...options.sessions);

  for (const n of options.sessions) {
    results.push(await scenario(`N=${n} M=${options.turns}`, n, options.turns, options.pace, { idle, profile: flags.profile && n === largest }));
  }
  let roundTrips: { fast: ScenarioFigures; slow: ScenarioFigures } | undefined;
  if (options.latencyMs > 0) {
    // More turns than M, and the best of them: on a shared machine noise only ever adds.
    const turns = Math.max(options.turns, ROUND_TRIP_TURNS);
    const fast = await scenario(`N=1 M=${turns} +0 ms/store`, 1, turns, options.pace, { idle });
    await setShimLatency(options.latencyMs);
    const slow = await scenario(`N=1 M=${turns} +${options.latencyMs} ms/store`, 1, turns, options.pace, { idle });
    await setShimLatency(0);
    results.push(fast, slow);
    roundTrips = { fast, slow };
  }
  const perTokenN = Math.min(10, largest);
  const longer = { ...options.pace, tokens: options.pace.tokens * 5 };
  const short = await scenario(`N=${perTokenN} M=${options.turns} ${options.pace.tokens} tokens`, perTokenN, options.turns, options.pace, { idle });
  const long = await scenario(`N=${perTokenN} M=${options.turns} ${longer.tokens} tokens`, perTokenN, options.turns, longer, { idle });
  results.push(short, long);
  for (const c of options.concurrency) {
    // As many tokens as the other scenarios, spread over the reply's length.
    const gapMs = Math.round((options.replySeconds * 1000) / options.pace.tokens);
    const long5s = { ...options.pace, gapMs };
    results.push(await scenario(`${c} concurrent ${options.replySeconds}-s replies`, c, 1, long5s, { idle }));
  }

  printReport(results, { short, long, extraTokens: longer.tokens - options.pace.tokens }, roundTrips);
}

async function scenario(
  name: string,
  sessionCount: number,
  turns: number,
  pace: TurnPace,
  { idle = 0, quiet = false, profile = false }: { idle?: number; quiet?: boolean; profile?: boolean },
): Promise<ScenarioFigures> {
  const { info } = stack;
  const sessions: Session[] = [];
  for (let i = 0; i < sessionCount; i += OPEN_PARALLEL) {
    const batch = Math.min(OPEN_PARALLEL, sessionCount - i);
    sessions.push(...(await Promise.all(Array.from({ length: batch }, () => openSession(info.workerUrl, info.publicKey, info.origin)))));
  }
  const recorder = profile ? await startCpuProfile(info.inspectorPort) : undefined;
  const startedAt = nowMs();
  const cpuFrom = sampleCpu(info.workerdPid);
  const perSession = await Promise.all(
    sessions.map(async (session) => {
      const results: TurnResult[] = [];
      for (let turn = 1; turn <= turns; turn++) {
        if (turn > 1) await sleep(PAUSE_BETWEEN_TURNS_MS);
        results.push(await runTurn(info.workerUrl, info.origin, session, turn, pace));
      }
      return results;
    }),
  );
  // The turn's last writes (lock release, stored reply) precede `finish`; this catches stragglers.
  await sleep(PAUSE_BETWEEN_TURNS_MS);
  const cpuTo = sampleCpu(info.workerdPid);
  if (recorder) {
    const path = resolve(root, ".parley/bench", `profile-${Date.now()}.cpuprofile`);
    const profileData = await recorder.stop();
    mkdirSync(resolve(root, ".parley/bench"), { recursive: true });
    writeFileSync(path, JSON.stringify(profileData));
    console.log(`\nCPU profile of "${name}" (${path}):\n${summariseProfile(profileData)}\n`);
  }

  const turnResults = perSession.flat();
  const [timings, upstashLog, neonLog] = await Promise.all([
    getJson<ReplyTiming[]>(`${info.modelUrl}/__timings?since=${startedAt}`),
    getJson<{ log: ShimRequestRecord[] }>(`${info.upstashUrl}/__stats?log&since=${startedAt}`).then((s) => s.log),
    getJson<{ log: ShimRequestRecord[] }>(`${info.neonUrl}/__stats?log&since=${startedAt}`).then((s) => s.log),
  ]);
  const timed = pairTimings(turnResults, timings);
  const failed = timed.filter((t) => t.turn.error !== undefined || t.overheadMs === undefined);
  const ok = timed.filter((t) => !failed.includes(t));
  const cpu = busyCpuMs(cpuFrom, cpuTo, idle);
  const figures: ScenarioFigures = {
    name,
    turns: turnResults.length,
    errors: failed.length,
    errorSamples: countKinds(failed.map((t) => t.turn.error ?? "no model timing")),
    overheadMin: ok.length > 0 ? Math.min(...ok.map((t) => t.overheadMs!)) : Number.NaN,
    overheadP50: percentile(ok.map((t) => t.overheadMs!), 50),
    overheadP99: percentile(ok.map((t) => t.overheadMs!), 99),
    toModelP50: percentile(ok.map((t) => t.toModelMs!), 50),
    toModelP99: percentile(ok.map((t) => t.toModelMs!), 99),
    lagP50: percentile(ok.map((t) => t.lagMs!), 50),
    lagP99: percentile(ok.map((t) => t.lagMs!), 99),
    cpuMsPerTurn: cpu / turnResults.length,
    upstashPerTurn: upstashLog.length / turnResults.length,
    neonPerTurn: neonLog.length / turnResults.length,
    buffer: bufferWrites(timed, upstashLog),
    ...(sessionCount === 1 ? { phases: { upstash: phasesPerTurn(timed, upstashLog), neon: phasesPerTurn(timed, neonLog) } } : {}),
  };
  if (!quiet) log(`${name}: ${figures.turns} turns, ${figures.errors} errors, overhead p50 ${fmt(figures.overheadP50)} ms`);
  return figures;
}

function printReport(
  results: ScenarioFigures[],
  perToken: { short: ScenarioFigures; long: ScenarioFigures; extraTokens: number },
  roundTrips?: { fast: ScenarioFigures; slow: ScenarioFigures },
): void {
  const { pace } = options;
  console.log(`\nparley bench — fake model: TTFT ${pace.ttftMs} ms, ${pace.gapMs} ms between tokens, ${pace.tokens} tokens per reply`);
  const load = (values: number[]) => values.map((v) => v.toFixed(1)).join(" ");
  console.log(`machine: ${cpus().length} CPUs, load average ${load(loadAtStart)} at the start, ${load(loadavg())} at the end`);
  console.log(
    "(overhead = client TTFT − model TTFT, of which \"to model\" = until the model request arrived;\n" +
      " lag = client's last token − model's last token; CPU = the Worker's workerd, idle subtracted)\n",
  );
  const header = ["scenario", "turns", "errors", "overhead p50/p99 ms", "to model p50/p99", "lag p50/p99 ms", "CPU ms/turn", "Upstash/turn", "Neon/turn"];
  const rows = results.map((r) => [
    r.name,
    String(r.turns),
    String(r.errors),
    `${fmt(r.overheadP50)} / ${fmt(r.overheadP99)}`,
    `${fmt(r.toModelP50)} / ${fmt(r.toModelP99)}`,
    `${fmt(r.lagP50)} / ${fmt(r.lagP99)}`,
    fmt(r.cpuMsPerTurn),
    fmt(r.upstashPerTurn),
    fmt(r.neonPerTurn),
  ]);
  printTable(header, rows);
  for (const r of results.filter((r) => r.errors > 0)) console.log(`  errors in ${r.name}: ${r.errorSamples.join("; ")}`);

  const base = results.find((r) => r.name === `N=1 M=${options.turns}`);
  if (roundTrips) {
    const { fast, slow } = roundTrips;
    const trips = (slow.overheadMin - fast.overheadMin) / options.latencyMs;
    console.log(
      `\nsequential store round trips before the model: ≈ ${fmt(trips)} (best overhead ${fmt(fast.overheadMin)} ms at +0 ms, ` +
        `${fmt(slow.overheadMin)} ms at +${options.latencyMs} ms per store request; p50 ${fmt(fast.overheadP50)} / ${fmt(slow.overheadP50)} ms)`,
    );
  }
  if (base?.phases) {
    console.log(`\nstore requests per turn (N=1): before the model / while streaming / after the last token`);
    for (const [store, phases] of Object.entries(base.phases)) {
      const commands = Object.entries(phases.beforeCommands).map(([name, n]) => `${name}×${n}`).join(" ");
      console.log(`  ${store.padEnd(8)} ${phases.before} / ${phases.streaming} / ${phases.after}   before the model: ${commands || "–"}`);
    }
  }
  console.log(`\nreply buffer writes (resume; Upstash requests with RPUSH) per turn, and per second of streaming:`);
  for (const r of results) console.log(`  ${r.name.padEnd(32)} ${fmt(r.buffer.perTurn)} per turn, ${fmt(r.buffer.perSecond)}/s`);
  const perTokenMs = (perToken.long.cpuMsPerTurn - perToken.short.cpuMsPerTurn) / perToken.extraTokens;
  console.log(
    `\nWorker CPU per token: ≈ ${perTokenMs.toFixed(3)} ms (${perToken.short.name} vs ${perToken.long.name}); ` +
      `per turn without tokens ≈ ${fmt(perToken.short.cpuMsPerTurn - perTokenMs * options.pace.tokens)} ms`,
  );
}

/** "HTTP 503 ×12" lines, most frequent first. */
function countKinds(errors: string[]): string[] {
  const counts = new Map<string, number>();
  for (const error of errors) counts.set(error, (counts.get(error) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([error, n]) => `${error} ×${n}`);
}

async function startStack(): Promise<{ info: BenchStackInfo; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", resolve(import.meta.dirname, "stack.ts")], {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, BENCH_PORT_BASE: flags["port-base"], SHIM_LATENCY_MS: "0", BENCH_WORKER: replacements[0] ?? "parley" },
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const firstLine = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout! }).once("line", done);
    child.once("exit", (code) => fail(new Error(`the bench stack exited (code ${code}) before it was ready`)));
  });
  return {
    info: JSON.parse(firstLine) as BenchStackInfo,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function setShimLatency(ms: number): Promise<void> {
  for (const url of [stack.info.upstashUrl, stack.info.neonUrl]) {
    const res = await fetch(`${url}/__latency?ms=${ms}`, { method: "PUT" });
    if (!res.ok) throw new Error(`setting the shim latency failed: ${res.status} (a shim without /__latency?)`);
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

function fmt(value: number): string {
  return Number.isNaN(value) ? "–" : value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function log(line: string): void {
  console.error(`[bench] ${line}`);
}
