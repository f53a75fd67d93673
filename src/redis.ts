import { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "./config";

/**
 * Retries on the request path are short: a Redis that is down must become a fast 503, not
 * five exponential back-offs (~4 s). The lock is safe under a resent `SET NX` (see `lock/`).
 */
const RETRY = { retries: 1, backoff: () => 50 };

/**
 * An Upstash REST client; made per request. `deserialize: false` leaves replies as Redis sent
 * them: for writes whose replies are not read (the reply buffer), it spares the client's attempt
 * to parse every reply as JSON, which throws (and costs an exception) for each `OK`.
 */
export function createRedis(config: Pick<Config, "redisUrl" | "redisToken">, { deserialize = true }: { deserialize?: boolean } = {}): Redis {
  return new Redis({
    url: config.redisUrl,
    token: config.redisToken,
    retry: RETRY,
    enableTelemetry: false,
    // Every value parley stores is ASCII (tokens, counters, JSON of tool lists): base64 replies
    // only cost decoding work on every command (~9 % of a turn's CPU outside the tokens).
    responseEncoding: false,
    automaticDeserialization: deserialize,
  });
}
