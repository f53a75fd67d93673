import { Ratelimit } from "@upstash/ratelimit";
import { ApiError } from "../errors";
import { DEFAULT_REDIS_KEY_PREFIX } from "../key-prefix";
import type { BatchRedis } from "../redis-batch";
import { storeLiveness, withinStoreDeadline } from "../store-deadline";

/**
 * The rate-limited actions: creating a session, running a turn (both turn routes), a page
 * context push and transcribing a recording (push-to-talk) — the last two judged against the
 * widget's message limit, in windows of their own.
 */
export type RateLimitBucket = "session_create" | "message" | "context" | "transcribe";

/** Every limit counts requests in fixed, clock-aligned windows of this length. */
export const RATE_LIMIT_WINDOW = "1 h";

/** A widget's cap across all client IPs is this many times its per-IP limit. */
export const AGGREGATE_LIMIT_FACTOR = 20;

/**
 * How long a limit check may go unanswered before it counts as Redis being unavailable, in ms,
 * counted as `storeDeadline` does (from Upstash's last answer to this isolate, if later).
 * Well above one Upstash round trip, well below the client's retry budget.
 */
export const RATE_LIMIT_TIMEOUT_MS = 1_500;

/**
 * The limit each window counter is created with. Counting against a ceiling no widget limit can
 * reach (the column is a 32-bit integer) makes `remaining` give back the exact count, so the
 * count can leave before the widget's limits are read and be judged once they are.
 */
const COUNTING_CEILING = 2_147_483_647;

export interface CountRateLimitOptions {
  /** The deployment's Redis key prefix (`config.redisKeyPrefix`). @default "parley" */
  keyPrefix?: string;
  bucket: RateLimitBucket;
  /** The widget the limits belong to: its id, or its public key before the widget is read. */
  widgetKey: string;
  /** From `clientIpKey(request)`. */
  ipKey: string;
  /** @default RATE_LIMIT_TIMEOUT_MS */
  timeoutMs?: number;
}

/** One request counted in the current window, per client IP and widget-wide. */
export type RateLimitCount =
  | { ok: true; keyPrefix: string; bucket: RateLimitBucket; widgetKey: string; perIp: WindowCount; widgetWide: WindowCount }
  | { ok: false; reason: "unavailable"; cause?: unknown };

export interface WindowCount {
  /** Requests counted in this window, this one included. */
  used: number;
  /** When the window ends, in ms since the epoch. */
  reset: number;
}

export type RateLimitOutcome =
  | { ok: true }
  | { ok: false; reason: "limited"; retryAfterSeconds: number }
  | { ok: false; reason: "unavailable"; cause?: unknown };

/**
 * Counts one request of `bucket` against the client IP's and the widget's window counters. Both
 * commands leave in the same tick: on a `createRedisBatch` client they join the wave's one
 * request. Fails closed: a Redis error or a count slower than `timeoutMs` is `unavailable`, never
 * a pass (`@upstash/ratelimit` itself lets requests through on timeout).
 */
export async function countRateLimit(
  redis: BatchRedis,
  { keyPrefix = DEFAULT_REDIS_KEY_PREFIX, bucket, widgetKey, ipKey, timeoutMs = RATE_LIMIT_TIMEOUT_MS }: CountRateLimitOptions,
): Promise<RateLimitCount> {
  const [perIp, widgetWide] = [counter(redis, keyPrefix, bucket, "ip"), counter(redis, keyPrefix, bucket, "widget")];
  let results: [RatelimitResponse, RatelimitResponse];
  try {
    const counts = Promise.all([perIp.limit(`${widgetKey}:${ipKey}`), widgetWide.limit(widgetKey)]);
    results = await withinStoreDeadline(counts, storeLiveness.redis, timeoutMs);
  } catch (cause) {
    // A Redis error, or the deadline's TimeoutError.
    return { ok: false, reason: "unavailable", cause };
  }
  const [ip, widget] = results.map((result) => ({ used: COUNTING_CEILING - result.remaining, reset: result.reset }));
  return { ok: true, keyPrefix, bucket, widgetKey, perIp: ip!, widgetWide: widget! };
}

/**
 * Judges a count against the widget's per-IP limit and its widget-wide cap
 * ({@link AGGREGATE_LIMIT_FACTOR} × `perIpLimit`); 0 disables both. A request refused by its own
 * per-IP limit is given back to the widget-wide count (one more round trip, on the refusal path
 * only), so one noisy client cannot use up a widget's cap.
 */
export async function judgeRateLimit(redis: BatchRedis, count: RateLimitCount, perIpLimit: number): Promise<RateLimitOutcome> {
  if (!Number.isInteger(perIpLimit) || perIpLimit < 0) {
    throw new RangeError(`judgeRateLimit: perIpLimit must be a non-negative integer, got ${perIpLimit}`);
  }
  if (!count.ok) return count;
  if (perIpLimit === 0) return { ok: true };
  const ipRefused = count.perIp.used > perIpLimit;
  const widgetRefused = count.widgetWide.used > perIpLimit * AGGREGATE_LIMIT_FACTOR;
  if (!ipRefused && !widgetRefused) return { ok: true };

  if (ipRefused) {
    const giveBack = counter(redis, count.keyPrefix, count.bucket, "widget").limit(count.widgetKey, { rate: -1 });
    await withinStoreDeadline(giveBack, storeLiveness.redis, RATE_LIMIT_TIMEOUT_MS).catch((error: unknown) =>
      console.warn("rate limit: giving back a widget-wide token failed", { bucket: count.bucket, error: String(error) }),
    );
  }
  const refused = [ipRefused ? count.perIp : null, widgetRefused ? count.widgetWide : null].filter((w) => w !== null);
  const reset = Math.min(...refused.map((window) => window.reset));
  return { ok: false, reason: "limited", retryAfterSeconds: Math.max(1, Math.ceil((reset - Date.now()) / 1000)) };
}

/** A refused check. */
export type RateLimitRefusal = Exclude<RateLimitOutcome, { ok: true }>;

/**
 * The `ApiError` a gate throws for a refused check: 429 `rate_limited` with `Retry-After`
 * and `details.retryAfterSeconds`, or 503 `unavailable` (carrying the Redis error as `cause`).
 *
 * @example if (!outcome.ok) throw rateLimitError(outcome);
 */
export function rateLimitError(refusal: RateLimitRefusal): ApiError {
  if (refusal.reason === "limited") {
    const { retryAfterSeconds } = refusal;
    return new ApiError("rate_limited", {
      details: { retryAfterSeconds },
      headers: { "Retry-After": String(retryAfterSeconds) },
    });
  }
  return new ApiError("unavailable", {
    message: "The rate limit store is unreachable; retry shortly.",
    details: { store: "redis" },
    cause: refusal.cause,
  });
}

type RatelimitResponse = Awaited<ReturnType<Ratelimit["limit"]>>;

/**
 * One window counter per call (nothing cached: `ephemeralCache: false`, since the counters are
 * judged outside the library). Keys: `<prefix>:rl:<bucket>:<ip|widget>:<identifier>:<window>`.
 */
function counter(redis: BatchRedis, keyPrefix: string, bucket: RateLimitBucket, scope: "ip" | "widget"): Ratelimit {
  return new Ratelimit({
    redis,
    prefix: `${keyPrefix}:rl:${bucket}:${scope}`,
    limiter: Ratelimit.fixedWindow(COUNTING_CEILING, RATE_LIMIT_WINDOW),
    ephemeralCache: false,
    analytics: false,
    enableProtection: false,
    enableTelemetry: false,
    // Off: the library lets a request through on its timeout; the caller's deadline fails closed.
    timeout: 0,
  });
}
