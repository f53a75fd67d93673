import { DEFAULT_REDIS_KEY_PREFIX } from "../key-prefix";
import { cancelKey, lockKey, turnSeqKey } from "./keys";
import { evalScript, SCRIPTS, type ScriptRedis } from "./scripts";

export { cancelKey, lockKey, turnSeqKey };

/**
 * Added to the turn deadline to get the lock's TTL, in ms: time for a turn cut off at its
 * deadline to store its reply and release. The TTL only matters when an isolate dies
 * mid-turn; every other path releases explicitly.
 */
export const LOCK_TTL_MARGIN_MS = 30_000;

/**
 * How long a released turn's sequence stays in Redis, in ms. A read can only be stale for the
 * few milliseconds a write takes to become visible; an hour is far beyond that.
 */
export const TURN_SEQ_TTL_MS = 60 * 60 * 1000;

export interface AcquireLockOptions {
  sessionId: string;
  /** The deployment's Redis key prefix (`config.redisKeyPrefix`). @default "parley" */
  keyPrefix?: string;
  /** Lifetime of the lock if never released, in ms. */
  ttlMs: number;
  /**
   * The token to store; a fresh `crypto.randomUUID()` by default. Tests pass one to replay a
   * resent acquire; production code should not.
   */
  token?: string;
}

export type AcquireLockOutcome =
  | {
      ok: true;
      token: string;
      /** The turn sequence the previous turn left at release; null when none is known. */
      turnSeq: number | null;
    }
  | { ok: false };

/**
 * Takes the session's turn lock and reads its turn sequence, in one command (see
 * `ACQUIRE_SCRIPT`). `{ ok: false }` when another turn holds it. Redis errors reject (the caller
 * answers 503). Issued in the same tick as other commands of a `RedisBatch`, it travels in the
 * same request.
 */
export async function acquireLock(
  redis: ScriptRedis,
  { sessionId, keyPrefix = DEFAULT_REDIS_KEY_PREFIX, ttlMs, token = crypto.randomUUID() }: AcquireLockOptions,
): Promise<AcquireLockOutcome> {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`acquireLock: ttlMs must be a positive integer, got ${ttlMs}`);
  const [held, seq] = await evalScript<[number, string | number | null]>(
    redis,
    SCRIPTS.acquire,
    [lockKey(sessionId, keyPrefix), turnSeqKey(sessionId, keyPrefix)],
    [token, String(ttlMs)],
  );
  if (held !== 1) return { ok: false };
  return { ok: true, token, turnSeq: seq === null || seq === undefined ? null : Number(seq) };
}

export interface ReleaseLockOptions {
  sessionId: string;
  /** The prefix the lock was acquired with. @default "parley" */
  keyPrefix?: string;
  /** The token `acquireLock` returned. */
  token: string;
  /** The turn sequence the turn's final write sets; omitted when the turn wrote nothing. */
  turnSeq?: number;
}

/**
 * Frees the lock if `token` still holds it (compare-and-delete, so a turn that outlived its
 * TTL cannot free a successor's lock), drops a cancel flag aimed at this token and leaves
 * `turnSeq` for the next turn's fence. Resolves true when the lock was released, false when it
 * had expired or changed hands.
 */
export async function releaseLock(
  redis: ScriptRedis,
  { sessionId, keyPrefix = DEFAULT_REDIS_KEY_PREFIX, token, turnSeq }: ReleaseLockOptions,
): Promise<boolean> {
  const released = await evalScript<number>(
    redis,
    SCRIPTS.release,
    [lockKey(sessionId, keyPrefix), cancelKey(sessionId, keyPrefix), turnSeqKey(sessionId, keyPrefix)],
    [token, turnSeq === undefined ? "" : String(turnSeq), String(TURN_SEQ_TTL_MS)],
  );
  return released === 1;
}

/**
 * The lock a request holds, as one handle: whoever has it (the gate that took it, then the turn
 * it is handed to) releases it with `release()`, which runs at most once and never rejects.
 */
export interface SessionLock {
  readonly sessionId: string;
  readonly token: string;
  /** The turn sequence found at acquire time; null when none is known. */
  readonly turnSeq: number | null;
  /**
   * Releases the lock, leaving `turnSeq` for the next turn when given. The first call does the
   * work; later calls return its result. A Redis failure is logged and resolves false: the TTL
   * frees the lock then.
   */
  release(options?: { turnSeq?: number }): Promise<boolean>;
}

/** Wraps an acquired lock into its handle. */
export function heldLock(
  redis: ScriptRedis,
  { sessionId, keyPrefix = DEFAULT_REDIS_KEY_PREFIX, token, turnSeq }: { sessionId: string; keyPrefix?: string; token: string; turnSeq: number | null },
): SessionLock {
  let released: Promise<boolean> | null = null;
  return {
    sessionId,
    token,
    turnSeq,
    release(options = {}) {
      released ??= releaseLock(redis, { sessionId, keyPrefix, token, ...options }).catch((error: unknown) => {
        console.error("lock release failed; the TTL will free it", { sessionId, error: String(error) });
        return false;
      });
      return released;
    },
  };
}
