/**
 * `npm run dev`: the whole product on local defaults. Finds or starts PostgreSQL and Redis,
 * starts the Upstash and Neon shims in front of them, migrates and seeds the demo, then runs
 * `wrangler dev`. `--services-only` (`npm run services`) stops before wrangler.
 * Ctrl-C or SIGTERM stops everything it started and nothing else.
 */
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { buildWidget } from "./build-widget";
import { FAKE_SITEVERIFY_PATH, startDemoShop } from "./demo-shop";
import { applyMigrations } from "./migrate";
import { startNeonShim } from "./neon-shim";
import { startDemoApi } from "./demo-api";
import { startDemoMcpServer } from "./mcp-server";
import { DEMO_API_KEY, seedDemo } from "./seed";
import { createDatabase, ensurePostgres, ensureRedis, withDatabase, type Service } from "./services";
import type { RunningShim } from "./shim-server";
import { startUpstashShim } from "./upstash-shim";
import { startWranglerDev, type WranglerDev } from "./wrangler";

const root = resolve(import.meta.dirname, "..");
const servicesOnly = process.argv.includes("--services-only");
const port = Number(process.env.PORT ?? 8787);
const shopPort = Number(process.env.DEMO_SHOP_PORT ?? 8075);
const latencyMs = Number(process.env.SHIM_LATENCY_MS ?? 0);
const log = (line: string) => console.log(`[parley] ${line}`);

const cleanups: Array<() => Promise<void>> = [];
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup failed: ${error}`));
  }
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
// npm does not pass SIGTERM on to its script: when our parent goes, we go too.
const parentPid = process.ppid;
setInterval(() => process.ppid !== parentPid && void stop(0), 1_000).unref();

try {
  const devVars = readDevVars();
  const stateDir = resolve(root, ".parley/dev");
  const postgres = track(await ensurePostgres({ stateDir, log }));
  const redis = track(await ensureRedis({ stateDir, log }));
  log(`PostgreSQL: ${describe(postgres)}; Redis: ${describe(redis)}`);

  // DATABASE_URL names its own database; otherwise parley keeps to a database of its own.
  const databaseUrl = postgres.source === "env" ? postgres.url : withDatabase(postgres.url, "parley");
  if (postgres.source !== "env") await createDatabase(postgres.url, "parley");
  await applyMigrations(databaseUrl);
  const demoApi = trackShim(await startDemoApi({ port: Number(process.env.DEMO_API_PORT ?? 8076), apiKey: DEMO_API_KEY }));
  const mcp = trackShim(await startDemoMcpServer({ port: Number(process.env.MCP_DEMO_PORT ?? 8077) }));
  log(`demo merchant API at ${demoApi.url}, demo MCP server at ${mcp.url}`);
  const openaiKey = process.env.OPENAI_API_KEY ?? devVars.OPENAI_API_KEY;
  const demo = await seedDemo({
    databaseUrl,
    port,
    mintTenantKey: true,
    // The demo shop's pages are served as http://localhost:<shopPort>, another origin than the API.
    shopOrigins: [`http://localhost:${shopPort}`],
    demoApiUrl: demoApi.url,
    mcpUrl: mcp.url,
    // Sealed as the Worker will read them: its IDENTITY_ENCRYPTION_KEY, else SESSION_TOKEN_SECRET.
    ...(devVars.IDENTITY_ENCRYPTION_KEY || devVars.SESSION_TOKEN_SECRET
      ? { identityKeyMaterial: devVars.IDENTITY_ENCRYPTION_KEY || devVars.SESSION_TOKEN_SECRET }
      : {}),
    model: openaiKey
      ? { provider: "openai", modelId: process.env.OPENAI_MODEL ?? "gpt-4o-mini", api: "chat" }
      : { provider: "scripted", modelId: "parley-dev", api: "chat" },
  });
  log(`database migrated and demo seeded (model: ${openaiKey ? "openai" : "scripted local dev model"})`);

  const upstashToken = devVars.UPSTASH_REDIS_REST_TOKEN ?? "dev-upstash-token";
  const upstash = trackShim(
    await startUpstashShim({ redisUrl: redis.url, token: upstashToken, port: Number(process.env.UPSTASH_SHIM_PORT ?? 8079), latencyMs }),
  );
  const neon = trackShim(await startNeonShim({ port: Number(process.env.NEON_SHIM_PORT ?? 8078), latencyMs }));
  log(`Upstash shim at ${upstash.url}, Neon shim at ${neon.url}/sql${latencyMs ? ` (+${latencyMs} ms each)` : ""}`);

  if (servicesOnly) {
    console.log(`DATABASE_URL=${databaseUrl}\nNEON_LOCAL_ENDPOINT=${neon.url}/sql\nUPSTASH_REDIS_REST_URL=${upstash.url}`);
    log(`demo tenant admin key: ${demo.tenantKey} (new each run)`);
    log("services ready; Ctrl-C stops them");
  } else {
    const widget = await buildWidget();
    log(`widget.js ${widget.version} built (${widget.gzipBytes} bytes gzip)`);
    // wrangler dev takes from .dev.vars only the names in `[secrets] required` or `[vars]`: so
    // that whatever a developer puts there reaches the Worker (the optional OpenAI settings
    // included), every name is passed on, under the stack's own services.
    const openaiBaseUrl = process.env.OPENAI_BASE_URL ?? devVars.OPENAI_BASE_URL;
    const wrangler = startWrangler({
      ...devVars,
      DATABASE_URL: databaseUrl,
      NEON_LOCAL_ENDPOINT: `${neon.url}/sql`,
      UPSTASH_REDIS_REST_URL: upstash.url,
      // Turnstile tokens are checked by the demo shop's fake siteverify (no network needed),
      // unless .dev.vars names another.
      TURNSTILE_VERIFY_URL: devVars.TURNSTILE_VERIFY_URL ?? `http://127.0.0.1:${shopPort}${FAKE_SITEVERIFY_PATH}`,
      ...(openaiKey ? { OPENAI_API_KEY: openaiKey } : {}),
      ...(openaiBaseUrl ? { OPENAI_BASE_URL: openaiBaseUrl } : {}),
    });
    await wrangler.ready();
    const shop = trackShim(await startDemoShop({ port: shopPort, apiOrigin: `http://127.0.0.1:${port}` }));
    console.log(`parley ready at http://127.0.0.1:${port} · demo shop at ${shop.url}`);
    // The demo tenant's admin key, minted anew on every run: the README's Merchant API walkthrough uses it.
    console.log(`admin API: export PARLEY_KEY=${demo.tenantKey}   (docs at http://127.0.0.1:${port}/docs)`);
  }
} catch (error) {
  console.error(`[parley] ${error instanceof Error ? error.message : String(error)}`);
  await stop(1);
}

function track(service: Service): Service {
  cleanups.push(() => service.stop());
  return service;
}

function trackShim<T extends Pick<RunningShim, "close">>(server: T): T {
  cleanups.push(() => server.close());
  return server;
}

function describe(service: Service): string {
  const where = new URL(service.url).host;
  return { env: `from the environment (${where})`, running: `already running (${where})`, private: `private instance (${where})` }[
    service.source
  ];
}

/**
 * `.dev.vars` (or the file `PARLEY_DEV_VARS` names), made from the committed example on first
 * run. Blank values count as unset.
 */
function readDevVars(): Record<string, string> {
  const path = process.env.PARLEY_DEV_VARS ?? resolve(root, ".dev.vars");
  if (!existsSync(path)) {
    copyFileSync(resolve(root, ".dev.vars.example"), path);
    log("created .dev.vars from .dev.vars.example");
  }
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/.exec(line);
    if (match && match[2]) vars[match[1]!] = match[2];
  }
  return vars;
}

function startWrangler(vars: Record<string, string>): WranglerDev {
  const wrangler = startWranglerDev({ root, port, vars });
  cleanups.push(() => wrangler.stop());
  wrangler.child.once("exit", (code) => {
    if (!stopping) {
      log(`wrangler dev exited (code ${code})`);
      void stop(code ?? 1);
    }
  });
  return wrangler;
}
