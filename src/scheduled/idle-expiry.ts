import type { Redis } from "@upstash/redis/cloudflare";
import type { Database } from "../db/client";
import { endIdleSessions, findIdleSessions, findWaitingReplies, type IdleCursor, type SettledReply } from "../db/idle-queries";
import { lockKey } from "../lock";
import { SESSION_EXPIRED, supersede } from "../turn/pending";

/**
 * Sessions read, lock-checked and ended per batch: one Neon read of candidates, one Upstash MGET,
 * one Neon read of the unlocked ones' waiting replies, one Neon write.
 */
export const IDLE_SWEEP_BATCH_SIZE = 100;

/** Batches per sweep at most: one run ends at most 1,000 sessions; the next run goes on. */
export const IDLE_SWEEP_MAX_BATCHES = 10;

export interface IdleSweepOptions {
  /** Sessions idle for longer than this are ended, in ms (`SESSION_IDLE_TIMEOUT_MS`). */
  idleTimeoutMs: number;
  /** The deployment's Redis key prefix, for the lock keys. */
  keyPrefix: string;
  /** @default Date.now() */
  now?: number;
  /** @default IDLE_SWEEP_BATCH_SIZE */
  batchSize?: number;
  /** @default IDLE_SWEEP_MAX_BATCHES */
  maxBatches?: number;
}

/** What one sweep did, for its log line. */
export interface IdleSweepResult {
  /** Idle candidates read. */
  scanned: number;
  /** Sessions this sweep ended (`idle_timeout`). */
  ended: number;
  /** Waiting replies (pending approvals, unanswered client calls) of sessions this sweep ended, settled with `SESSION_EXPIRED`. */
  settledWaits: number;
  /** Candidates left alone because a turn held their lock. */
  skippedLocked: number;
  batches: number;
  /** True when the sweep stopped at `maxBatches` with candidates possibly left for the next run. */
  truncated: boolean;
}

/**
 * Ends active chat sessions idle for longer than `idleTimeoutMs` (docs/architecture.md,
 * "Idle expiry"). Per batch: the oldest candidates (keyset paging, so skipped ones are not read
 * again), one MGET of their lock keys — a session whose turn lock is held is skipped, its turn
 * bumps its activity when it ends — then one guarded update, which re-checks every condition, so
 * a sweep running twice, or beside a turn or a voice attach, ends nothing twice and nothing live.
 * The same statement settles the waiting last reply of each session it ends (`supersede` with
 * `SESSION_EXPIRED`: approvals denied, client calls failed, the wait cleared), read just before
 * and written only if unchanged, so no ended session keeps a call without a result.
 * Bounded: at most `maxBatches × batchSize` sessions per run.
 */
export async function expireIdleSessions({ db, redis }: { db: Database; redis: Redis }, options: IdleSweepOptions): Promise<IdleSweepResult> {
  const { idleTimeoutMs, keyPrefix, batchSize = IDLE_SWEEP_BATCH_SIZE, maxBatches = IDLE_SWEEP_MAX_BATCHES } = options;
  const before = new Date((options.now ?? Date.now()) - idleTimeoutMs);
  const result: IdleSweepResult = { scanned: 0, ended: 0, settledWaits: 0, skippedLocked: 0, batches: 0, truncated: false };
  let after: IdleCursor | undefined;
  while (result.batches < maxBatches) {
    const candidates = await findIdleSessions(db, { before, limit: batchSize, ...(after ? { after } : {}) });
    if (candidates.length === 0) return result;
    result.batches += 1;
    result.scanned += candidates.length;
    after = candidates.at(-1);
    const holders = await redis.mget<(string | null)[]>(...candidates.map((candidate) => lockKey(candidate.id, keyPrefix)));
    const free = candidates.filter((_, i) => holders[i] === null || holders[i] === undefined).map((candidate) => candidate.id);
    result.skippedLocked += candidates.length - free.length;
    const settle = (await findWaitingReplies(db, free)).flatMap((reply): SettledReply[] => {
      const settled = supersede(reply, SESSION_EXPIRED);
      return settled ? [settled] : [];
    });
    const { ended, settled } = await endIdleSessions(db, { sessionIds: free, before, settle });
    result.ended += ended.length;
    result.settledWaits += settled;
    if (candidates.length < batchSize) return result;
  }
  result.truncated = true;
  return result;
}
