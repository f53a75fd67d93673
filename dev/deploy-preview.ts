/**
 * `npm run deploy:preview -- [--name <preview>]`: one branch's Preview, end to end. The database
 * (`DATABASE_URL`, the branch's own Neon branch) gets the migrations; the Worker is uploaded as the
 * Preview `<preview>` of `parley-preview` (`wrangler preview --env preview`) with that database, the
 * shared secrets and the Redis key prefix `parley-<preview>`; the demo widgets are seeded for its
 * URL; `/readyz` and one widget turn are smoke-tested. Prints the URLs.
 *
 * The preview name defaults to the git branch, made URL-safe. Needs every secret in
 * WORKER_SECRETS plus `CLOUDFLARE_API_TOKEN` (or a `wrangler login`).
 */
import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { OPTIONAL_WORKER_SECRETS, optionalEnv, requireEnv, runWrangler, setStepOutput, WORKER_SECRETS } from "./deploy-env";
import { applyMigrations } from "./migrate";
import { seedForDeployment } from "./seed-demo";
import { smokeTest } from "./smoke-test";

/** Longest preview name: it becomes part of a workers.dev host name (63 characters per label). */
const MAX_PREVIEW_NAME = 40;

/** A git branch or PR label as a preview name: lowercase letters, digits and single dashes. */
export function previewName(raw: string): string {
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_PREVIEW_NAME)
    .replace(/-+$/, "");
  if (!name) throw new Error(`no usable preview name in ${JSON.stringify(raw)}`);
  return name;
}

/** The Redis key prefix of a preview: previews share one Upstash database, each keeps to its own keys. */
export const previewKeyPrefix = (name: string) => `parley-${name}`;

/**
 * The URLs a reviewer opens, from a preview's base URL. The demo shop is the Worker's own
 * `/demo` (src/routes/demo.ts), same origin as the API; the seed allows that origin.
 */
export function previewLinks(baseUrl: string) {
  const base = baseUrl.replace(/\/+$/, "");
  return { api: `${base}/v1/widget`, demoShop: `${base}/demo`, docs: `${base}/docs`, readyz: `${base}/readyz` };
}

async function deployPreview(name: string): Promise<void> {
  const secrets = { ...requireEnv(WORKER_SECRETS, "deploy:preview"), ...optionalEnv(OPTIONAL_WORKER_SECRETS) };
  const keyPrefix = previewKeyPrefix(name);

  console.log(`deploy:preview: migrations on the preview's database`);
  await applyMigrations(secrets.DATABASE_URL);

  // Secrets reach wrangler in a file only this user can read, removed right after.
  const dir = await mkdtemp(join(tmpdir(), "parley-preview-"));
  const secretsFile = join(dir, "secrets.json");
  let output;
  try {
    await writeFile(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
    await chmod(secretsFile, 0o600);
    console.log(`deploy:preview: uploading Preview "${name}" (Redis key prefix ${keyPrefix})`);
    output = await runWrangler([
      "preview",
      "--env",
      "preview",
      "--name",
      name,
      "--var",
      `REDIS_KEY_PREFIX:${keyPrefix}`,
      "--secrets-file",
      secretsFile,
      "--message",
      `parley preview ${name}`,
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const entry = output.find((line) => line.type === "preview");
  const urls = (entry?.preview_urls ?? entry?.deployment_urls) as string[] | undefined;
  const baseUrl = urls?.[0];
  if (!baseUrl) throw new Error(`deploy:preview: wrangler reported no Preview URL (${JSON.stringify(entry ?? output)})`);

  await seedForDeployment({ databaseUrl: secrets.DATABASE_URL, baseUrl, environment: "preview", openaiApiKey: secrets.OPENAI_API_KEY });
  await smokeTest(baseUrl, { publicKey: "pk_local_static" });

  const links = previewLinks(baseUrl);
  console.log(`deploy:preview: ready\n  API        ${links.api}\n  demo shop  ${links.demoShop}\n  docs       ${links.docs}`);
  await setStepOutput("url", baseUrl);
  await setStepOutput("key_prefix", keyPrefix);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { name: { type: "string" } } });
  const branch = () => execFileSync("git", ["rev-parse", "--abbrev-ref", "HEAD"], { encoding: "utf8" }).trim();
  await deployPreview(previewName(values.name ?? branch()));
}
