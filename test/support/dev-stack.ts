/**
 * The real stack for the suites that test the product as a developer runs it (the browser suite,
 * the dev stack's own test): `dev/stack.ts` (the `npm run dev` entry point) run as a child
 * process on ports of its own, against a database created for this run. Resolves once its ready
 * line names the API and the demo shop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { createDatabase, dropDatabase, ensurePostgres, ensureRedis, isListening, withDatabase } from "../../dev/services";

const READY_TIMEOUT_MS = 150_000;
/** How long to wait for the ports to be free (another run's stack may still be stopping), in ms. */
const PORTS_FREE_TIMEOUT_MS = 30_000;

export interface DevStackOptions {
  /** Names the run's database and log file: `parley_<name>_<hex>`, `test-results/<name>/stack.log`. */
  name: string;
  /** First of six consecutive ports (API, demo shop, Upstash shim, Neon shim, MCP, demo API). */
  portBase: number;
  /** The Redis database the stack keeps to (dev uses 0, the workerd suites 1). */
  redisDb: string;
  /**
   * Entries laid over `.dev.vars.example` in the stack's own `.dev.vars` (the developer's is
   * never read). Without an `OPENAI_API_KEY` here the demo runs the scripted model.
   */
  devVars?: Record<string, string>;
}

export interface DevStack {
  /** `http://127.0.0.1:<port>`: the Worker, its API and widget.js. */
  apiUrl: string;
  /** `http://localhost:<port>`: the demo shop, another origin than the API. */
  shopUrl: string;
  /** The run's own database. */
  databaseUrl: string;
  stop(): Promise<void>;
}

/** Where a stack's whole output goes (wrangler's request log included), for reading after a failure. */
export const stackLog = (name: string) => resolve(import.meta.dirname, `../../test-results/${name}/stack.log`);

export async function startDevStack({ name, portBase, redisDb, devVars = {} }: DevStackOptions): Promise<DevStack> {
  const root = resolve(import.meta.dirname, "../..");
  const devVarsFile = resolve(dirname(stackLog(name)), "dev.vars");
  mkdirSync(dirname(devVarsFile), { recursive: true });
  const example = readFileSync(resolve(root, ".dev.vars.example"), "utf8");
  // A key prefix of this run's own: the seeded demo widgets' rate-limit windows (fixed hours) start
  // empty, whatever other runs on this machine's Redis counted in the same hour.
  const ownVars = { REDIS_KEY_PREFIX: `parley_${name}_${randomBytes(4).toString("hex")}`, ...devVars };
  writeFileSync(devVarsFile, `${example}\n${Object.entries(ownVars).map(([key, value]) => `${key}=${value}`).join("\n")}\n`);
  // Only the stack's own file configures the model: nothing of this shell's leaks in.
  const { OPENAI_API_KEY: _key, OPENAI_BASE_URL: _baseUrl, OPENAI_MODEL: _model, ...inherited } = process.env;
  const stateDir = resolve(root, ".parley/test");
  const postgres = await ensurePostgres({ stateDir });
  const redis = await ensureRedis({ stateDir });
  const databaseName = `parley_${name}_${randomBytes(5).toString("hex")}`;
  await createDatabase(postgres.url, databaseName);
  const databaseUrl = withDatabase(postgres.url, databaseName);

  const ports = Array.from({ length: 6 }, (_, i) => String(portBase + i));
  await waitForFreePorts(ports.map(Number));
  const child = spawn(process.execPath, ["--import", "tsx", "dev/stack.ts"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...inherited,
      PARLEY_DEV_VARS: devVarsFile,
      PORT: ports[0],
      DEMO_SHOP_PORT: ports[1],
      UPSTASH_SHIM_PORT: ports[2],
      NEON_SHIM_PORT: ports[3],
      MCP_DEMO_PORT: ports[4],
      DEMO_API_PORT: ports[5],
      DATABASE_URL: databaseUrl,
      REDIS_URL: withDatabase(redis.url, redisDb),
    },
  });
  const output: string[] = [];
  const logFile = stackLog(name);
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const stop = async () => {
    await stopChild(child);
    await dropDatabase(postgres.url, databaseName).catch(() => {});
    await Promise.all([postgres.stop(), redis.stop()]);
  };
  try {
    const { apiUrl, shopUrl } = await waitForReadyLine(child, output);
    return { apiUrl, shopUrl, databaseUrl, stop };
  } catch (error) {
    await stop();
    throw new Error(`${error instanceof Error ? error.message : error}\n--- stack output ---\n${output.slice(-40).join("\n")}`);
  }
}

function waitForReadyLine(child: ChildProcess, output: string[]): Promise<{ apiUrl: string; shopUrl: string }> {
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the stack was not ready within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => {
        output.push(line);
        if (output.length > 200) output.shift();
        const ready = /^parley ready at (\S+) · demo shop at (\S+)/.exec(line);
        if (ready) {
          clearTimeout(timer);
          done({ apiUrl: ready[1]!, shopUrl: ready[2]! });
        }
      });
    }
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`the stack exited (code ${code}) before it was ready`));
    });
  });
}

/** SIGTERM lets dev/stack.ts stop everything it started; SIGKILL if it takes too long. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

async function waitForFreePorts(ports: number[]): Promise<void> {
  const deadline = Date.now() + PORTS_FREE_TIMEOUT_MS;
  for (;;) {
    const busy = (await Promise.all(ports.map(async (port) => ((await isListening(port)) ? [port] : [])))).flat();
    if (!busy.length) return;
    if (Date.now() > deadline) throw new Error(`ports ${busy.join(", ")} are in use: is another run's stack still up? Or choose another port base.`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

