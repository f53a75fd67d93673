import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "../errors";

/** The rate-limited actions: creating a session, and running a turn (both turn routes). */
export type RateLimitBucket = "session_create" | "message";

/** Every limit counts requests in fixed, clock-aligned windows of this length. */
export const RATE_LIMIT_WINDOW = "1 h";

/** A widget's cap across all client IPs is this many times its per-IP limit. */
export const AGGREGATE_LIMIT_FACTOR = 20;

/**
 * How long a limit check may take before it counts as Redis being unavailable, in ms.
 * Well above one Upstash round trip, well below the client's retry budget.
 */
export const RATE_LIMIT_TIMEOUT_MS = 1_500;

const KEY_PREFIX = "parley:rl";

type RatelimitResponse = Awaited<ReturnType<Ratelimit["limit"]>>;

export interface CheckRateLimitOptions {
  bucket: RateLimitBucket;
  widgetId: string;
  /** From `clientIpKey(request)`. */
  ipKey: string;
  /** Requests per client IP per window; 0 disables both this and the widget-wide cap. */
  perIpLimit: number;
  /** @default RATE_LIMIT_TIMEOUT_MS */
  timeoutMs?: number;
}

export type RateLimitOutcome =
  | { ok: true }
  | { ok: false; reason: "limited"; retryAfterSeconds: number }
  | { ok: false; reason: "unavailable"; cause?: unknown };

/**
 * Counts one request against the per-IP limit (key: widget + client IP) and the widget-wide
 * cap ({@link AGGREGATE_LIMIT_FACTOR} × `perIpLimit`) of `bucket`, in the current window.
 *
 * Fails closed: a Redis error or a check slower than `timeoutMs` is `unavailable`, never a pass
 * (`@upstash/ratelimit` itself lets requests through on timeout). Both checks leave in the
 * same tick, so auto-pipelining sends them as one Upstash request; start other Redis writes
 * (the lock's `SET`) in that tick too and they join it.
 *
 * A request refused by its own per-IP limit is given back to the widget-wide count (one more
 * round trip, on the refusal path only), so one noisy client cannot use up a widget's cap.
 */
export async function checkRateLimit(
  redis: Redis,
  { bucket, widgetId, ipKey, perIpLimit, timeoutMs = RATE_LIMIT_TIMEOUT_MS }: CheckRateLimitOptions,
): Promise<RateLimitOutcome> {
  if (!Number.isInteger(perIpLimit) || perIpLimit < 0) {
    throw new RangeError(`checkRateLimit: perIpLimit must be a non-negative integer, got ${perIpLimit}`);
  }
  if (perIpLimit === 0) return { ok: true };

  const perIp = fixedWindow(redis, `${KEY_PREFIX}:${bucket}:ip`, perIpLimit, timeoutMs);
  const widgetWide = fixedWindow(redis, `${KEY_PREFIX}:${bucket}:widget`, perIpLimit * AGGREGATE_LIMIT_FACTOR, timeoutMs);
  let results: [RatelimitResponse, RatelimitResponse];
  try {
    results = await Promise.all([perIp.limit(`${widgetId}:${ipKey}`), widgetWide.limit(widgetId)]);
  } catch (cause) {
    return { ok: false, reason: "unavailable", cause };
  }
  if (results.some((result) => result.reason === "timeout")) {
    return { ok: false, reason: "unavailable", cause: new Error(`rate limit check took over ${timeoutMs} ms`) };
  }
  const [ipResult, widgetResult] = results;
  if (ipResult.success && widgetResult.success) return { ok: true };

  if (!ipResult.success) {
    await widgetWide.limit(widgetId, { rate: -1 }).catch((error: unknown) =>
      console.warn("rate limit: giving back a widget-wide token failed", { bucket, widgetId, error: String(error) }),
    );
  }
  const reset = Math.min(...results.filter((result) => !result.success).map((result) => result.reset));
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
  return new ApiError("unavailable", { message: "The rate limit store is unreachable; retry shortly.", cause: refusal.cause });
}

/**
 * One limiter per call: limits differ per widget and can change, so nothing is cached
 * (`ephemeralCache: false`); the limit travels with each request into the Lua script.
 */
function fixedWindow(redis: Redis, prefix: string, limit: number, timeoutMs: number): Ratelimit {
  return new Ratelimit({
    redis,
    prefix,
    limiter: Ratelimit.fixedWindow(limit, RATE_LIMIT_WINDOW),
    ephemeralCache: false,
    analytics: false,
    enableProtection: false,
    enableTelemetry: false,
    timeout: timeoutMs,
  });
}
