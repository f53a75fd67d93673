/**
 * `npm run deploy -- --url <production URL>`: migrations on the production database
 * (`DATABASE_URL`, Neon's production branch), then `wrangler deploy --env production`, then the
 * smoke test (`/readyz`, and a widget turn when `SMOKE_PUBLIC_KEY` names a widget that allows
 * `SMOKE_ORIGIN`). The Worker's own secrets are set once with `wrangler secret put … --env
 * production`; the demo seed never runs here.
 */
import { parseArgs } from "node:util";
import { requireEnv, runWrangler } from "./deploy-env";
import { applyMigrations } from "./migrate";
import { smokeTest } from "./smoke-test";

async function deployProduction(url: string): Promise<void> {
  const { DATABASE_URL } = requireEnv(["DATABASE_URL"], "deploy");
  console.log("deploy: migrations on the production database");
  await applyMigrations(DATABASE_URL);
  console.log("deploy: wrangler deploy --env production");
  await runWrangler(["deploy", "--env", "production"]);
  const publicKey = process.env.SMOKE_PUBLIC_KEY;
  const origin = process.env.SMOKE_ORIGIN;
  await smokeTest(url, { ...(publicKey ? { publicKey } : {}), ...(origin ? { origin } : {}) });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { url: { type: "string" } } });
  const url = values.url ?? process.env.PRODUCTION_URL;
  if (!url) {
    console.error("usage: DATABASE_URL=… npm run deploy -- --url <the production Worker's URL> (or PRODUCTION_URL)");
    process.exit(2);
  }
  await deployProduction(url);
}
