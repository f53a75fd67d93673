import { DEFAULT_REDIS_KEY_PREFIX } from "../key-prefix";
import { errorFields, log } from "../log/log";
import { cancelKey, lockKey, turnSeqKey } from "./keys";
import { evalScript, SCRIPTS, type ScriptRedis } from "./scripts";

export { cancelKey, lockKey, turnSeqKey };

/**
 * How long a turn's lock lives without renewal, in ms: the lease. A running turn renews it every
 * third of this; a turn whose isolate died frees the session within it.
 */
export const DEFAULT_LOCK_LEASE_MS = 15_000;

/**
 * Pauses between the retries of a release that failed (Redis unreachable), in ms: never more
 * than 2 s apart, so the lock is free within about 2 s of Redis returning; ~16 s in all, past the
 * default lease, after which the lock has expired anyway.
 */
export const RELEASE_RETRY_DELAYS_MS = [250, 500, 1_000, 2_000, 2_000, 2_000, 2_000, 2_000, 2_000, 2_000] as const;

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

/** What a lease renewal found. */
export interface LeaseRenewal {
  /** The lock is still this turn's, and lives another lease. */
  held: boolean;
  /** A cancel aimed at this turn is waiting. */
  canceled: boolean;
}

/**
 * Renews `token`'s lease on the lock and reads the cancel flag, in one command (`RENEW_SCRIPT`).
 * Redis errors reject.
 */
export async function renewLease(
  redis: ScriptRedis,
  { sessionId, keyPrefix = DEFAULT_REDIS_KEY_PREFIX, token, ttlMs }: { sessionId: string; keyPrefix?: string; token: string; ttlMs: number },
): Promise<LeaseRenewal> {
  const [held, canceled] = await evalScript<[number, number]>(
    redis,
    SCRIPTS.renew,
    [lockKey(sessionId, keyPrefix), cancelKey(sessionId, keyPrefix)],
    [token, String(ttlMs)],
  );
  return { held: held === 1, canceled: canceled === 1 };
}

/**
 * The lock a request holds, as one handle: whoever has it (the gate that took it, then the turn
 * it is handed to) renews its lease while it works and releases it with `release()`.
 */
export interface SessionLock {
  readonly sessionId: string;
  readonly token: string;
  /** The turn sequence found at acquire time; null when none is known. */
  readonly turnSeq: number | null;
  /** Renews the lease for another `ttlMs`; null when Redis could not be reached. Never rejects. */
  renew(ttlMs: number): Promise<LeaseRenewal | null>;
  /**
   * Releases the lock, leaving `turnSeq` for the next turn when given. The first call does the
   * work; later calls return its result, which is that of the first attempt: true when released.
   * A failed attempt is logged and retried in the background ({@link RELEASE_RETRY_DELAYS_MS}),
   * so the lock is free within moments of Redis returning; `settled()` waits for that. Never
   * rejects.
   */
  release(options?: { turnSeq?: number }): Promise<boolean>;
  /** Resolves when the release and its retries are over; hand it to `waitUntil`. */
  settled(): Promise<void>;
}

/** Wraps an acquired lock into its handle. */
export function heldLock(
  redis: ScriptRedis,
  { sessionId, keyPrefix = DEFAULT_REDIS_KEY_PREFIX, token, turnSeq }: { sessionId: string; keyPrefix?: string; token: string; turnSeq: number | null },
  { retryDelaysMs = RELEASE_RETRY_DELAYS_MS }: { retryDelaysMs?: readonly number[] } = {},
): SessionLock {
  let firstAttempt: Promise<boolean> | null = null;
  let retries: Promise<void> = Promise.resolve();
  const attempt = (options: { turnSeq?: number }) => releaseLock(redis, { sessionId, keyPrefix, token, ...options });
  return {
    sessionId,
    token,
    turnSeq,
    renew: (ttlMs) => renewLease(redis, { sessionId, keyPrefix, token, ttlMs }).catch(() => null),
    release(options = {}) {
      firstAttempt ??= attempt(options).catch((error: unknown) => {
        log("error", "lock release failed; retrying", { sessionId, ...errorFields(error) });
        retries = retryRelease(() => attempt(options), sessionId, retryDelaysMs);
        return false;
      });
      return firstAttempt;
    },
    async settled() {
      await firstAttempt;
      await retries;
    },
  };
}

async function retryRelease(attempt: () => Promise<boolean>, sessionId: string, delaysMs: readonly number[]): Promise<void> {
  for (const [i, delayMs] of delaysMs.entries()) {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    try {
      await attempt();
      log("info", "lock released on retry", { sessionId, attempt: i + 1 });
      return;
    } catch {
      // Still unreachable: the next pause is longer.
    }
  }
  log("error", "lock release gave up; the lease will free it", { sessionId });
}
