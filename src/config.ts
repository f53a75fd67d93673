import { z } from "zod";
import { ApiError, describeIssues } from "./errors";

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
    OPENAI_API_KEY: z.string().optional().transform((value) => value || undefined),
    OPENAI_BASE_URL: optionalUrl,
    HISTORY_LIMIT: intInRange(1, 1_000, 100),
    TURN_DEADLINE_MS: intInRange(1_000, 600_000, 120_000),
    DISCONNECT_GRACE_MS: intInRange(1_000, 30_000, 25_000),
    DEV_MODEL_DELAY_MS: intInRange(0, 5_000, 40),
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
    openaiApiKey: env.OPENAI_API_KEY,
    openaiBaseUrl: env.OPENAI_BASE_URL,
    /** Stored messages sent to the model as history. */
    historyLimit: env.HISTORY_LIMIT,
    /** Longest a turn may run before its model call is aborted, in ms. */
    turnDeadlineMs: env.TURN_DEADLINE_MS,
    /**
     * How long a turn whose client disconnected may go on before it is cut off and stored
     * `interrupted`, in ms. Workers cap post-disconnect `waitUntil` work at 30 s.
     */
    disconnectGraceMs: env.DISCONNECT_GRACE_MS,
    /** Delay between words of the scripted dev model, in ms. */
    devModelDelayMs: env.DEV_MODEL_DELAY_MS,
  }));

export type Config = z.infer<typeof configSchema>;

/** Bindings wrangler.toml leaves out when unset (see the note there on OPENAI_BASE_URL). */
export interface OptionalBindings {
  OPENAI_BASE_URL?: string;
}

/** Parses the Worker's bindings; a missing or bad variable is a 500 `misconfigured` naming it. */
export function parseConfig(env: Env & OptionalBindings): Config {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ApiError("misconfigured", { message: `The server is misconfigured: ${describeIssues(parsed.error.issues)}.` });
}
