/**
 * The real stack for the browser suite: `dev/stack.ts` (the `npm run dev` entry point) run as a
 * child process on ports of its own, against a database created for this run, with the scripted
 * model. Resolves once its ready line names the API and the demo shop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { createDatabase, dropDatabase, ensurePostgres, ensureRedis, withDatabase } from "../../dev/services";

/** First of six consecutive ports (API, demo shop, Upstash shim, Neon shim, MCP, demo API). @default 9340 */
const PORT_BASE = Number(process.env.BROWSER_TEST_PORT_BASE ?? 9340);
/** The browser suite keeps to Redis database 2 (dev uses 0, the other suites 1). */
const REDIS_DB = "2";
const READY_TIMEOUT_MS = 150_000;
/** The stack's whole output (wrangler's request log included), for reading after a failure. */
export const STACK_LOG = resolve(import.meta.dirname, "../../test-results/widget/stack.log");

export interface BrowserStack {
  /** `http://127.0.0.1:<port>`: the Worker, its API and widget.js. */
  apiUrl: string;
  /** `http://localhost:<port>`: the demo shop, another origin than the API. */
  shopUrl: string;
  /** The run's own database. */
  databaseUrl: string;
  stop(): Promise<void>;
}

export async function startBrowserStack(): Promise<BrowserStack> {
  const root = resolve(import.meta.dirname, "../..");
  const stateDir = resolve(root, ".parley/test");
  const postgres = await ensurePostgres({ stateDir });
  const redis = await ensureRedis({ stateDir });
  const databaseName = `parley_browser_${randomBytes(5).toString("hex")}`;
  await createDatabase(postgres.url, databaseName);
  const databaseUrl = withDatabase(postgres.url, databaseName);

  const ports = Array.from({ length: 6 }, (_, i) => String(PORT_BASE + i));
  const child = spawn(process.execPath, ["--import", "tsx", "dev/stack.ts"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PORT: ports[0],
      DEMO_SHOP_PORT: ports[1],
      UPSTASH_SHIM_PORT: ports[2],
      NEON_SHIM_PORT: ports[3],
      MCP_DEMO_PORT: ports[4],
      DEMO_API_PORT: ports[5],
      DATABASE_URL: databaseUrl,
      REDIS_URL: withDatabase(redis.url, REDIS_DB),
      // The scripted model, whatever a developer's .dev.vars says.
      OPENAI_API_KEY: "",
    },
  });
  const output: string[] = [];
  mkdirSync(dirname(STACK_LOG), { recursive: true });
  const log = createWriteStream(STACK_LOG);
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
