/**
 * `npm run db:seed -- --base-url <URL>`: the demo widgets (`pk_local_demo`, `pk_local_static`,
 * `pk_local_tools`) in the database `DATABASE_URL` names, allowing the page origin of `<URL>` (a
 * preview's, whose demo shop is its own `/demo`: same origin as the API). Never for production:
 * it refuses `--environment production`, and the production deploy never calls it.
 */
import { parseArgs } from "node:util";
import type { ModelSettings } from "../src/templates/config";
import { seedDemo } from "./seed";

/**
 * A deployed preview has no demo merchant API and no demo MCP server: the tools widget points at
 * hosts that never resolve (RFC 6761 `.invalid`), so its HTTP and MCP tools are left out of a turn
 * (logged) and its chat still works.
 */
const UNREACHABLE_DEMO_API = "https://demo-api.invalid";
const UNREACHABLE_DEMO_MCP = "https://demo-mcp.invalid/mcp";

export interface SeedForDeploymentOptions {
  databaseUrl: string;
  /** The deployment's base URL; its origin becomes an allowed origin of every demo widget. */
  baseUrl: string;
  environment: "development" | "preview";
  /** With a key the demo templates use OpenAI; without one the scripted dev model. */
  openaiApiKey?: string;
  /** @default "gpt-4o-mini" */
  openaiModel?: string;
}

export async function seedForDeployment({ databaseUrl, baseUrl, openaiApiKey, openaiModel = "gpt-4o-mini" }: SeedForDeploymentOptions): Promise<void> {
  const model: ModelSettings = openaiApiKey
    ? { provider: "openai", modelId: openaiModel, api: "chat" }
    : { provider: "scripted", modelId: "parley-dev", api: "chat" };
  await seedDemo({ databaseUrl, shopOrigins: [new URL(baseUrl).origin], model, demoApiUrl: UNREACHABLE_DEMO_API, mcpUrl: UNREACHABLE_DEMO_MCP });
  console.log(`demo widgets seeded for ${new URL(baseUrl).origin} (model: ${model.provider})`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { "base-url": { type: "string" }, environment: { type: "string", default: "preview" } } });
  const databaseUrl = process.env.DATABASE_URL;
  const baseUrl = values["base-url"];
  const environment = values.environment;
  if (environment !== "preview" && environment !== "development") {
    console.error(`db:seed: refusing --environment ${environment}: the demo seed is for previews and local development only.`);
    process.exit(2);
  }
  if (!databaseUrl || !baseUrl) {
    console.error("usage: DATABASE_URL=… npm run db:seed -- --base-url <the deployment's URL> [--environment preview|development]");
    process.exit(2);
  }
  await seedForDeployment({
    databaseUrl,
    baseUrl,
    environment,
    ...(process.env.OPENAI_API_KEY ? { openaiApiKey: process.env.OPENAI_API_KEY } : {}),
    ...(process.env.OPENAI_MODEL ? { openaiModel: process.env.OPENAI_MODEL } : {}),
  });
}
