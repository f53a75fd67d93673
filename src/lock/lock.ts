import type { Redis } from "@upstash/redis/cloudflare";
import { cancelKey, lockKey } from "./keys";
import { evalScript, SCRIPTS, type ScriptRedis } from "./scripts";

export { cancelKey, lockKey };

/**
 * Added to the turn deadline to get the lock's TTL, in ms: time for a turn cut off at its
 * deadline to store its reply and release. The TTL only matters when an isolate dies
 * mid-turn; every other path releases explicitly.
 */
export const LOCK_TTL_MARGIN_MS = 30_000;

/** The Redis commands the lock needs. */
export type LockRedis = Pick<Redis, "set" | "get"> & ScriptRedis;

export interface AcquireLockOptions {
  sessionId: string;
  /** Lifetime of the lock if never released, in ms. */
  ttlMs: number;
  /**
   * The token to store; a fresh `crypto.randomUUID()` by default. Tests pass one to replay a
   * resent `SET NX`; production code should not.
   */
  token?: string;
}

export type AcquireLockOutcome = { ok: true; token: string } | { ok: false };

/**
 * Takes the session's turn lock: `SET parley:lock:<sessionId> <token> NX PX <ttlMs>`.
 * `{ ok: false }` when another turn holds it. Redis errors reject (the caller answers 503).
 */
export async function acquireLock(
  redis: LockRedis,
  { sessionId, ttlMs, token = crypto.randomUUID() }: AcquireLockOptions,
): Promise<AcquireLockOutcome> {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`acquireLock: ttlMs must be a positive integer, got ${ttlMs}`);
  const key = lockKey(sessionId);
  const reply = await redis.set(key, token, { nx: true, px: ttlMs });
  if (reply === "OK") return { ok: true, token };
  // The client resends a request whose reply it lost; when the first SET NX did land, the
  // resend answers null although the lock is ours (upstash/redis-js#1455). The token is
  // fresh per attempt, so finding it in the key proves this call set it.
  const holder = await redis.get<string>(key);
  return holder === token ? { ok: true, token } : { ok: false };
}

export interface ReleaseLockOptions {
  sessionId: string;
  /** The token `acquireLock` returned. */
  token: string;
}

/**
 * Frees the lock if `token` still holds it (compare-and-delete, so a turn that outlived its
 * TTL cannot free a successor's lock) and drops a cancel flag aimed at this token.
 * Resolves true when the lock was released, false when it had expired or changed hands.
 */
export async function releaseLock(redis: ScriptRedis, { sessionId, token }: ReleaseLockOptions): Promise<boolean> {
  const released = await evalScript<number>(redis, SCRIPTS.release, [lockKey(sessionId), cancelKey(sessionId)], [token]);
  return released === 1;
}
