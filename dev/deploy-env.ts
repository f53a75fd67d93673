/** What the deploy scripts share: the secrets they need, and running wrangler with machine-readable output. */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The Worker's secrets (wrangler.toml `[secrets] required`), without which a deployment cannot serve. */
export const WORKER_SECRETS = ["DATABASE_URL", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "SESSION_TOKEN_SECRET", "ADMIN_API_KEY", "OPENAI_API_KEY"] as const;
export type WorkerSecret = (typeof WORKER_SECRETS)[number];

/** Secrets a deployment may go without (README "Configuration"): passed on only when set. */
export const OPTIONAL_WORKER_SECRETS = ["IDENTITY_ENCRYPTION_KEY", "SERVICE_API_KEY"] as const;

/** The values of those of `names` that the environment sets (non-empty); the others left out. */
export function optionalEnv<N extends string>(names: readonly N[]): Partial<Record<N, string>> {
  return Object.fromEntries(names.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))) as Partial<Record<N, string>>;
}

/**
 * The values of `names` from the environment; exits naming every missing one before anything
 * is deployed, so a missing secret fails the first step and never a half-made deployment.
 */
export function requireEnv<N extends string>(names: readonly N[], purpose: string): Record<N, string> {
  const missing = names.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    console.error(`${purpose}: missing ${missing.join(", ")} (set them in the environment; in CI they come from the repository's secrets)`);
    process.exit(1);
  }
  return Object.fromEntries(names.map((name) => [name, process.env[name]!])) as Record<N, string>;
}

/** One line of wrangler's output file (`WRANGLER_OUTPUT_FILE_PATH`, one JSON object per line). */
export type WranglerOutputEntry = { type: string } & Record<string, unknown>;

/**
 * Runs `npx wrangler …args`, its output shown as it comes, and returns the entries wrangler wrote
 * to its machine-readable output file. Rejects when wrangler exits non-zero.
 */
export async function runWrangler(args: string[], extraEnv: Record<string, string> = {}): Promise<WranglerOutputEntry[]> {
  const dir = await mkdtemp(join(tmpdir(), "parley-wrangler-"));
  const outputFile = join(dir, "output.ndjson");
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn("npx", ["wrangler", ...args], {
        stdio: "inherit",
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...extraEnv, WRANGLER_OUTPUT_FILE_PATH: outputFile },
      });
      child.on("error", reject);
      child.on("exit", resolve);
    });
    if (code !== 0) throw new Error(`wrangler ${args[0]} exited with ${code}`);
    const text = await readFile(outputFile, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as WranglerOutputEntry);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Appends `name=value` to the step outputs when running in GitHub Actions. */
export async function setStepOutput(name: string, value: string): Promise<void> {
  const file = process.env.GITHUB_OUTPUT;
  if (!file) return;
  const { appendFile } = await import("node:fs/promises");
  await appendFile(file, `${name}=${value}\n`);
}
