import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Secrets of the test run only; the real ones live in `wrangler secret` and `.dev.vars`. */
const TEST_SECRETS = {
  SESSION_TOKEN_SECRET: "test-session-token-secret-of-at-least-32-bytes",
  ADMIN_API_KEY: "test-admin-key-0123456789",
  SERVICE_API_KEY: "test-service-key-0123456789",
};

export default defineConfig({
  test: {
    // The Worker logs a JSON line per request and per turn: keep the run's output to what went
    // wrong (its warn and error lines still show).
    onConsoleLog: (line) => !line.startsWith('{"level":"info"'),
    globalSetup: ["./test/global-setup.ts"],
    projects: [
      {
        test: {
          name: "dev",
          include: ["test/dev/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "widget",
          include: ["widget/test/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          // Its own stack (wrangler dev ~10 s on 2 cores), once for all its files; one Chromium
          // per file, one file at a time.
          globalSetup: ["./test/browser/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ...TEST_SECRETS,
                ENVIRONMENT: "development",
                DATABASE_URL: inject("databaseUrl"),
                NEON_LOCAL_ENDPOINT: inject("neonEndpoint"),
                UPSTASH_REDIS_REST_URL: inject("upstashUrl"),
                UPSTASH_REDIS_REST_TOKEN: inject("upstashToken"),
                DEV_MODEL_DELAY_MS: "5",
                TURNSTILE_VERIFY_URL: inject("turnstileVerifyUrl"),
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          // The first request of a test file loads the Worker into workerd (~5 s on 2 cores).
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
