import { z } from "zod";
import { ApiError, describeIssues } from "./errors";
import { DEFAULT_REDIS_KEY_PREFIX, REDIS_KEY_PREFIX_PATTERN } from "./key-prefix";

/**
 * Secret values published in this repository (`.dev.vars.example`, the test run's secrets): a
 * preview or production Worker refuses every one of them, so a deployment that was never given
 * its own secrets fails on its first request (and its smoke test) instead of running with a
 * key anyone can read.
 */
export const PUBLISHED_SECRET_VALUES: Readonly<Record<string, readonly string[]>> = {
  UPSTASH_REDIS_REST_TOKEN: ["dev-upstash-token"],
  SESSION_TOKEN_SECRET: ["local-dev-session-token-secret-change-me-32b", "test-session-token-secret-of-at-least-32-bytes"],
  ADMIN_API_KEY: ["dev-admin-key", "test-admin-key-0123456789"],
  IDENTITY_ENCRYPTION_KEY: ["local-dev-identity-encryption-key-change-me", "an-identity-encryption-key-of-32-bytes-or-more"],
  SERVICE_API_KEY: ["dev-service-key-0123456789", "test-service-key-0123456789"],
};

/** Hosts of the local data plane; a deployed Worker refuses store URLs pointing at them. */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

const optionalUrl = z
  .string()
  .optional()
  .transform((value) => value || undefined)
  .pipe(z.url().optional());

const intInRange = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((value) => (value ? Number(value) : fallback))
    .pipe(z.number().int().min(min).max(max));

const configSchema = z
  .object({
    ENVIRONMENT: z.enum(["development", "preview", "production"]),
    DATABASE_URL: z.url(),
    NEON_LOCAL_ENDPOINT: optionalUrl,
    UPSTASH_REDIS_REST_URL: z.url(),
    UPSTASH_REDIS_REST_TOKEN: z.string().min(1),
    SESSION_TOKEN_SECRET: z.string().refine((value) => new TextEncoder().encode(value).length >= 32, {
      message: "must be at least 32 bytes",
    }),
    ADMIN_API_KEY: z.string().min(8, "must be at least 8 characters"),
    IDENTITY_ENCRYPTION_KEY: z
      .string()
      .optional()
      .transform((value) => value || undefined)
      .refine((value) => value === undefined || new TextEncoder().encode(value).length >= 32, { message: "must be at least 32 bytes" }),
    OPENAI_API_KEY: z.string().optional().transform((value) => value || undefined),
    SERVICE_API_KEY: z
      .string()
      .optional()
      .transform((value) => value || undefined)
      .pipe(z.string().min(16, "must be at least 16 characters").optional()),
    OPENAI_BASE_URL: optionalUrl,
    TURNSTILE_VERIFY_URL: optionalUrl,
    HISTORY_LIMIT: intInRange(1, 1_000, 100),
    TURN_DEADLINE_MS: intInRange(1_000, 600_000, 120_000),
    DISCONNECT_GRACE_MS: intInRange(1_000, 30_000, 25_000),
    LOCK_LEASE_MS: intInRange(1_000, 120_000, 15_000),
    DEV_MODEL_DELAY_MS: intInRange(0, 5_000, 40),
    SESSION_IDLE_TIMEOUT_MS: intInRange(60_000, 30 * 24 * 3_600_000, 3_600_000),
    REDIS_KEY_PREFIX: z
      .string()
      .optional()
      .transform((value) => value || DEFAULT_REDIS_KEY_PREFIX)
      .pipe(z.string().regex(REDIS_KEY_PREFIX_PATTERN, "must be 1-64 letters, digits, '_' or '-'")),
  })
  .superRefine(refuseDevelopmentSettingsWhenDeployed)
  .refine((env) => env.SERVICE_API_KEY === undefined || env.SERVICE_API_KEY !== env.ADMIN_API_KEY, {
    path: ["SERVICE_API_KEY"],
    message: "must differ from ADMIN_API_KEY: an admin key never opens the service API",
  })
  .transform((env) => ({
    environment: env.ENVIRONMENT,
    databaseUrl: env.DATABASE_URL,
    /** Set only locally: the Neon HTTP shim's `/sql` URL. */
    neonLocalEndpoint: env.NEON_LOCAL_ENDPOINT,
    redisUrl: env.UPSTASH_REDIS_REST_URL,
    redisToken: env.UPSTASH_REDIS_REST_TOKEN,
    sessionTokenSecret: env.SESSION_TOKEN_SECRET,
    adminApiKey: env.ADMIN_API_KEY,
    /**
     * What widgets' identity secrets are encrypted with (src/identity/secret-box.ts): its own
     * secret when set, else the session token secret (a key derived under another label).
     */
    identityKeyMaterial: env.IDENTITY_ENCRYPTION_KEY ?? env.SESSION_TOKEN_SECRET,
    openaiApiKey: env.OPENAI_API_KEY,
    /** The voice bot's key for `/v1/internal`; unset: that API refuses every request. */
    serviceApiKey: env.SERVICE_API_KEY,
    openaiBaseUrl: env.OPENAI_BASE_URL,
    /** Cloudflare Turnstile's siteverify endpoint; a local fake in tests. */
    turnstileVerifyUrl: env.TURNSTILE_VERIFY_URL ?? TURNSTILE_SITEVERIFY_URL,
    /** Stored messages sent to the model as history. */
    historyLimit: env.HISTORY_LIMIT,
    /** Longest a turn may run before its model call is aborted, in ms. */
    turnDeadlineMs: env.TURN_DEADLINE_MS,
    /**
     * How long a turn whose client disconnected may go on before it is cut off and stored
     * `interrupted`, in ms. Workers cap post-disconnect `waitUntil` work at 30 s.
     */
    disconnectGraceMs: env.DISCONNECT_GRACE_MS,
    /**
     * A turn lock's lease, in ms: renewed every third of it while the turn runs; a turn whose
     * isolate died frees its session within it.
     */
    lockLeaseMs: env.LOCK_LEASE_MS,
    /** Delay between words of the scripted dev model, in ms. */
    devModelDelayMs: env.DEV_MODEL_DELAY_MS,
    /** An active chat session idle for longer than this is ended by the idle sweep, in ms. */
    sessionIdleTimeoutMs: env.SESSION_IDLE_TIMEOUT_MS,
    /** Starts every Redis key and channel of this deployment (src/key-prefix.ts). */
    redisKeyPrefix: env.REDIS_KEY_PREFIX,
  }));

type ParsedBindings = {
  ENVIRONMENT: "development" | "preview" | "production";
  DATABASE_URL: string;
  NEON_LOCAL_ENDPOINT?: string | undefined;
  UPSTASH_REDIS_REST_URL: string;
  REDIS_KEY_PREFIX: string;
} & Record<string, unknown>;

/**
 * Outside development (preview, production) the Worker refuses what only makes sense locally:
 * a published secret, a store on the loopback interface, the Neon shim, plain-HTTP Upstash, and
 * for a preview the production key prefix (previews share a Redis; see the README's Deployment).
 */
function refuseDevelopmentSettingsWhenDeployed(env: ParsedBindings, ctx: z.RefinementCtx): void {
  if (env.ENVIRONMENT === "development") return;
  const refuse = (name: string, message: string) => ctx.addIssue({ code: "custom", path: [name], message });
  for (const [name, published] of Object.entries(PUBLISHED_SECRET_VALUES)) {
    const value = env[name];
    if (typeof value === "string" && published.includes(value)) {
      refuse(name, `is a development value published in the repository; set this deployment's own with \`wrangler secret put ${name}\``);
    }
  }
  if (env.NEON_LOCAL_ENDPOINT !== undefined) refuse("NEON_LOCAL_ENDPOINT", "must be empty outside development");
  for (const name of ["DATABASE_URL", "UPSTASH_REDIS_REST_URL"] as const) {
    if (LOOPBACK_HOST.test(new URL(env[name]).hostname)) refuse(name, "points at this machine (a local development store)");
  }
  if (new URL(env.UPSTASH_REDIS_REST_URL).protocol !== "https:") refuse("UPSTASH_REDIS_REST_URL", "must be https outside development");
  if (env.ENVIRONMENT === "preview" && env.REDIS_KEY_PREFIX === DEFAULT_REDIS_KEY_PREFIX) {
    refuse("REDIS_KEY_PREFIX", `must not be "${DEFAULT_REDIS_KEY_PREFIX}" in a preview: each preview keeps to a prefix of its own`);
  }
}

export type Config = z.infer<typeof configSchema>;

/** Bindings wrangler.toml leaves out when unset (see the note there on OPENAI_BASE_URL). */
export interface OptionalBindings {
  OPENAI_BASE_URL?: string;
  SERVICE_API_KEY?: string;
  TURNSTILE_VERIFY_URL?: string;
  IDENTITY_ENCRYPTION_KEY?: string;
}

/** Where Turnstile tokens are verified unless `TURNSTILE_VERIFY_URL` says otherwise. */
export const TURNSTILE_SITEVERIFY_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify";

/**
 * Configurations parsed per bindings object: an isolate serves every request with the same `env`,
 * so the schema runs once per isolate, not per request (README "Performance"). A different object
 * (a test's override) is parsed afresh; a bad one is never kept.
 */
const parsedConfigs = new WeakMap<object, Config>();

/** Parses the Worker's bindings; a missing or bad variable is a 500 `misconfigured` naming it. */
export function parseConfig(env: Env & OptionalBindings): Config {
  const known = parsedConfigs.get(env);
  if (known) return known;
  const parsed = configSchema.safeParse(env);
  if (parsed.success) {
    parsedConfigs.set(env, parsed.data);
    return parsed.data;
  }
  throw new ApiError("misconfigured", { message: `The server is misconfigured: ${describeIssues(parsed.error.issues)}.` });
}
