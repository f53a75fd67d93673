import type { Redis } from "@upstash/redis/cloudflare";
import type { Database } from "../db/client";
import { getTurnSnapshot, type TurnSnapshot } from "../db/queries";
import type { ChatSession, Template, Widget } from "../db/schema";
import { countRateLimit, type RateLimitCount } from "../limits";
import { acquireLock, heldLock, type SessionLock } from "../lock";
import { createRedisBatch } from "../redis-batch";
import type { ParleyChunk } from "./message";

export interface TurnWaveInput {
  sessionId: string;
  /** The token's widget; null: the session's own (the service API names sessions by id alone). */
  widgetId: string | null;
  /** From `clientIpKey(request)`; null: not rate-limited (voice turns, from the service API). */
  ipKey: string | null;
  /** The message route's client message id (gate 12 looks it up). */
  clientMessageId?: string;
  /** Approval and tool-result routes: what the answered call's message contains (gate 17 looks it up). */
  partsContaining?: unknown;
  historyLimit: number;
  /** The lock's lifetime if never released, in ms. */
  lockTtlMs: number;
  /** The deployment's Redis key prefix (`config.redisKeyPrefix`), for the limits and the lock. */
  keyPrefix: string;
}

/** What one wave brought back, before any gate judged it. */
export interface TurnWave {
  /** Null when the turn is not rate-limited (`ipKey: null`). */
  rateLimit: RateLimitCount | null;
  /** The lock, when this request took it; `busy` when another turn holds it. */
  lock: { ok: true; lock: SessionLock } | { ok: false; reason: "busy" } | { ok: false; reason: "unavailable"; cause: unknown };
  /** The Postgres read, or the error it failed with. */
  snapshot: { ok: true; value: TurnSnapshot } | { ok: false; error: unknown };
}

/**
 * A turn's one wave (docs/architecture.md): ONE Upstash request — the rate-limit counts, the lock
 * and the fence's turn sequence — in parallel with ONE Neon request — widget, session, template,
 * history and the client message id lookup. Nothing is judged here; the gates judge the result in
 * the design's order. Never rejects.
 */
export async function readTurnWave({ db, redis }: { db: Database; redis: Redis }, input: TurnWaveInput): Promise<TurnWave> {
  const { sessionId, widgetId, keyPrefix } = input;
  const batch = createRedisBatch(redis);
  // All three leave in this tick: one /pipeline request.
  // Counted for a visitor's turn on a known widget; a voice turn (no IP, no widget named) is not.
  const rateLimit = input.ipKey === null || widgetId === null ? null : countRateLimit(batch, { keyPrefix, bucket: "message", widgetKey: widgetId, ipKey: input.ipKey });
  const lock = acquireLock(batch, { sessionId, keyPrefix, ttlMs: input.lockTtlMs }).then(
    (outcome): TurnWave["lock"] =>
      outcome.ok ? { ok: true, lock: heldLock(redis, { sessionId, keyPrefix, token: outcome.token, turnSeq: outcome.turnSeq }) } : { ok: false, reason: "busy" },
    (cause: unknown): TurnWave["lock"] => ({ ok: false, reason: "unavailable", cause }),
  );
  const snapshot = readSnapshot(db, input);
  const [rateLimitCount, lockOutcome, snapshotOutcome] = await Promise.all([rateLimit, lock, snapshot]);
  return { rateLimit: rateLimitCount, lock: lockOutcome, snapshot: snapshotOutcome };
}

/** The Neon half of the wave; also the fence's re-read. */
export function readSnapshot(db: Database, input: Pick<TurnWaveInput, "sessionId" | "widgetId" | "clientMessageId" | "historyLimit" | "partsContaining">) {
  return getTurnSnapshot(db, {
    sessionId: input.sessionId,
    widgetId: input.widgetId,
    historyLimit: input.historyLimit,
    ...(input.clientMessageId === undefined ? {} : { clientMessageId: input.clientMessageId }),
    ...(input.partsContaining === undefined ? {} : { partsContaining: input.partsContaining }),
  }).then(
    (value): TurnWave["snapshot"] => ({ ok: true, value }),
    (error: unknown): TurnWave["snapshot"] => ({ ok: false, error }),
  );
}

/** What gates 3–16 decided for a turn request, as plain values. */
export type GatedTurn =
  | {
      /** Gate 12: the message id is stored and answered; its reply is replayed, no model call. */
      action: "replay";
      lock: SessionLock;
      chunks: ParleyChunk[];
    }
  | {
      action: "run";
      lock: SessionLock;
      widget: Widget;
      session: ChatSession;
      /** Validated, defaults applied. */
      template: Template;
      /** Read after the fence held: never older than the previous turn's final write. */
      snapshot: TurnSnapshot;
      /** How many times the fence read the snapshot again (0 in the usual case). */
      fenceRereads: number;
      /** The page context the turn renders for the model (allowed keys only): stored, with the message's laid over it. */
      pageContext: Record<string, unknown>;
      /** Set when the message is stored but was never answered: it is answered now. */
      storedUserIdx?: number;
    };
