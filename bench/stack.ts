/**
 * The benchmark's own stack, in its own process (so the load generator's event loop does not
 * delay the model or the shims): PostgreSQL and Redis as `npm run dev` finds or starts them, a
 * fresh database, the Upstash and Neon shims, the fake OpenAI-compatible model, and the Worker
 * in one workerd with its inspector open (bench/workerd.ts). Run as a script, it prints one JSON
 * line (a {@link BenchStackInfo}) once ready, and stops everything on SIGTERM or when stdin closes.
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { basename, resolve } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { applyMigrations } from "../dev/migrate";
import { startNeonShim } from "../dev/neon-shim";
import { createDatabase, dropDatabase, ensurePostgres, ensureRedis, withDatabase } from "../dev/services";
import { startUpstashShim } from "../dev/upstash-shim";
import { templates, widgets } from "../src/db/schema";
import { startFakeOpenAI } from "../test/support/fake-openai";
import { startWorkerd } from "./workerd";

/** Ports of the benchmark's servers: `base` … `base + 4`. */
interface BenchPorts {
  worker: number;
  inspector: number;
  upstash: number;
  neon: number;
  model: number;
}

export interface BenchStackInfo {
  workerUrl: string;
  inspectorPort: number;
  upstashUrl: string;
  neonUrl: string;
  /** Base URL of the fake model, without `/v1`. */
  modelUrl: string;
  /** The workerd process running the Worker. */
  workerdPid: number;
  publicKey: string;
  origin: string;
}

export const BENCH_PUBLIC_KEY = "pk_bench";
/** A template secret, so the redactor does its real work on every delta. */
const BENCH_SECRET = "bench-secret-value-1234";
const BENCH_DATABASE = "parley_bench";
/** A Redis database of its own: the dev stack keeps to 0, the tests to 1. */
const BENCH_REDIS_DB = "2";
const UPSTASH_TOKEN = "bench-upstash-token";
/** The Worker each `BENCH_WORKER` runs: parley's own build (undefined), a reference Worker, or the stages of `--stages`. */
const WORKER_SCRIPTS: Record<string, string | undefined> = {
  parley: undefined,
  floor: "bench/floor-worker.ts",
  "sdk-floor": "bench/sdk-floor-worker.ts",
  "libraries-floor": "bench/libraries-floor-worker.ts",
  plain: "bench/plain-worker.ts",
  stages: "bench/stages-worker.ts",
};
const IDS = { template: "00000000-0000-4000-8000-0000000b0001", widget: "00000000-0000-4000-8000-0000000b0101" };

function benchPorts(base: number): BenchPorts {
  return { worker: base, inspector: base + 1, upstash: base + 2, neon: base + 3, model: base + 4 };
}

async function main(): Promise<void> {
  const root = resolve(import.meta.dirname, "..");
  const ports = benchPorts(Number(process.env.BENCH_PORT_BASE ?? 9200));
  const latencyMs = Number(process.env.SHIM_LATENCY_MS ?? 0);
  const log = (line: string) => console.error(`[bench stack] ${line}`);
  const cleanups: Array<() => Promise<void>> = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup failed: ${error}`));
    process.exit(code);
  };
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGINT", () => void stop(0));
  // The benchmark holds our stdin: when it goes (even killed), we go too.
  process.stdin.on("end", () => void stop(0)).resume();

  try {
    const stateDir = resolve(root, ".parley/bench");
    const postgres = await ensurePostgres({ stateDir, log });
    cleanups.push(() => postgres.stop());
    const redis = await ensureRedis({ stateDir, log });
    cleanups.push(() => redis.stop());

    await dropDatabase(postgres.url, BENCH_DATABASE);
    await createDatabase(postgres.url, BENCH_DATABASE);
    const databaseUrl = withDatabase(postgres.url, BENCH_DATABASE);
    await applyMigrations(databaseUrl);
    const origin = `http://127.0.0.1:${ports.worker}`;
    await seedBench(databaseUrl, origin);

    const upstash = await startUpstashShim({ redisUrl: withDatabase(redis.url, BENCH_REDIS_DB), token: UPSTASH_TOKEN, port: ports.upstash, latencyMs });
    cleanups.push(() => upstash.close());
    const neon = await startNeonShim({ port: ports.neon, latencyMs });
    cleanups.push(() => neon.close());
    const model = await startFakeOpenAI({ port: ports.model });
    cleanups.push(() => model.close());

    const builtScript = buildWorker(root, resolve(stateDir, "build"), workerScript(process.env.BENCH_WORKER ?? "parley"));
    const workerd = await startWorkerd({
      root,
      builtScript,
      port: ports.worker,
      inspectorPort: ports.inspector,
      log: process.env.BENCH_VERBOSE ? (line) => console.error(line) : undefined,
      vars: {
        DATABASE_URL: databaseUrl,
        NEON_LOCAL_ENDPOINT: `${neon.url}/sql`,
        UPSTASH_REDIS_REST_URL: upstash.url,
        UPSTASH_REDIS_REST_TOKEN: UPSTASH_TOKEN,
        SESSION_TOKEN_SECRET: "bench-session-token-secret-at-least-32-bytes",
        ADMIN_API_KEY: "bench-admin-key",
        OPENAI_API_KEY: "sk-bench",
        OPENAI_BASE_URL: model.url,
      },
    });
    cleanups.push(() => workerd.stop());
    const info: BenchStackInfo = {
      workerUrl: workerd.url,
      inspectorPort: ports.inspector,
      upstashUrl: upstash.url,
      neonUrl: neon.url,
      modelUrl: model.url.replace(/\/v1$/, ""),
      workerdPid: workerd.pid,
      publicKey: BENCH_PUBLIC_KEY,
      origin,
    };
    console.log(JSON.stringify(info));
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    await stop(1);
  }
}

function workerScript(worker: string): string | undefined {
  if (!(worker in WORKER_SCRIPTS)) throw new Error(`BENCH_WORKER must be one of ${Object.keys(WORKER_SCRIPTS).join(", ")}, not "${worker}"`);
  return WORKER_SCRIPTS[worker];
}

/**
 * Bundles the Worker once, as a deployment would: the benchmark measures this build even if
 * `src/` changes while it runs.
 */
function buildWorker(root: string, outDir: string, script?: string): string {
  rmSync(outDir, { recursive: true, force: true });
  const built = spawnSync("wrangler", ["deploy", ...(script ? [script] : []), "--dry-run", "--outdir", outDir], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  if (built.status !== 0) throw new Error(`building the Worker failed:\n${built.stderr || built.stdout}`);
  return resolve(outDir, script ? `${basename(script, ".ts")}.js` : "index.js");
}

/** One widget on an `openai` template (the fake model over HTTP) with one secret and no tools. */
async function seedBench(databaseUrl: string, origin: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const db = drizzle({ client: pool });
  try {
    await db.insert(templates).values({
      id: IDS.template,
      tenantId: "tenant_bench",
      name: "Benchmark",
      model: { provider: "openai", modelId: "fake-bench", api: "chat" },
      instructions: "You are the benchmark's assistant.",
      initialTurnInstruction: "Greet the visitor.",
      secrets: { BENCH_KEY: BENCH_SECRET },
    });
    await db.insert(widgets).values({
      id: IDS.widget,
      tenantId: "tenant_bench",
      templateId: IDS.template,
      publicKey: BENCH_PUBLIC_KEY,
      allowedOrigins: [origin],
      // High enough never to refuse a benchmark turn, but on: the limiter's work is measured.
      sessionsPerIpHour: 1_000_000,
      messagesPerIpHour: 1_000_000,
    });
  } finally {
    await pool.end();
  }
}

await main();
