import type { Redis } from "@upstash/redis/cloudflare";
import { storeLiveness } from "./store-deadline";

/** The script commands a batch carries: what `evalScript` and `@upstash/ratelimit` call. */
export type BatchRedis = Pick<Redis, "evalsha" | "eval" | "get" | "set">;

/**
 * A Redis client whose commands, issued in the same tick, leave as ONE Upstash `/pipeline`
 * request. The client's own auto-pipelining sends reads and writes as two requests; a turn's
 * wave (rate limits + lock + turn sequence) must be one round trip (docs/architecture.md).
 *
 * Each command's promise settles with its own result or error (a Redis error such as NOSCRIPT
 * rejects only that command, with the text the libraries look for); a failed request rejects
 * them all. A command issued after the batch left starts the next batch. An answer counts as
 * Upstash being up for every deadline waiting on it (`storeDeadline`).
 */
export function createRedisBatch(redis: Redis): BatchRedis {
  let pipeline: ReturnType<Redis["pipeline"]> | null = null;
  let settlers: Array<{ resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];

  function enqueue<T>(add: (p: ReturnType<Redis["pipeline"]>) => void): Promise<T> {
    if (!pipeline) {
      const current = redis.pipeline();
      const waiting: typeof settlers = [];
      pipeline = current;
      settlers = waiting;
      // Everything issued before the next microtask joins this request.
      queueMicrotask(() => {
        pipeline = null;
        current.exec({ keepErrors: true }).then(
          (results) => {
            storeLiveness.redis.answered();
            results.forEach((result, i) =>
              result.error ? waiting[i]!.reject(new Error(`Command failed: ${result.error}`)) : waiting[i]!.resolve(result.result),
            );
          },
          (error: unknown) => waiting.forEach((settler) => settler.reject(error)),
        );
      });
    }
    add(pipeline);
    return new Promise<T>((resolve, reject) => settlers.push({ resolve: resolve as (value: unknown) => void, reject }));
  }

  return {
    evalsha: ((sha: string, keys: string[], args: unknown[]) => enqueue((p) => p.evalsha(sha, keys, args))) as BatchRedis["evalsha"],
    eval: ((script: string, keys: string[], args: unknown[]) => enqueue((p) => p.eval(script, keys, args))) as BatchRedis["eval"],
    get: ((key: string) => enqueue((p) => p.get(key))) as BatchRedis["get"],
    set: ((key: string, value: unknown, options?: Parameters<Redis["set"]>[2]) =>
      enqueue((p) => p.set(key, value, options))) as BatchRedis["set"],
  };
}
