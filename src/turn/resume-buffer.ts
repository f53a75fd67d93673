import type { Redis } from "@upstash/redis/cloudflare";
import { DEFAULT_REDIS_KEY_PREFIX } from "../key-prefix";
import { errorFields, log } from "../log/log";
import { openTurnStream, type TurnStream } from "./stream";

// The producer side of resumable streams (docs/architecture.md, "Resuming a reply"): while a
// turn streams, its chunks also go to a per-turn list in Redis, which `GET /stream` replays
// and follows (src/turn/resume-stream.ts).

/**
 * Least time between two writes of a turn's buffer, in ms: a streaming turn makes at most
 * 1000 / this Upstash requests a second, however fast its tokens come. The first write goes at
 * once, so the turn can be found as soon as it starts.
 */
export const REPLY_BUFFER_FLUSH_MS = 250;

/**
 * Lifetime of a turn's buffer and pointer, in ms, renewed by every write. Longer than any turn
 * (`TURN_DEADLINE_MS` ≤ 10 min is the cap of the setting, 2 min by default, and every write
 * renews it), short enough that a turn whose isolate died leaves nothing for long.
 */
export const REPLY_BUFFER_TTL_MS = 5 * 60_000;

/**
 * Redis key of a session's reply pointer, `<prefix>:reply:<sessionId>`: `"<turnId> <lockToken>"`
 * of the session's latest streamed turn, whose chunks are in {@link replyBufferKey}.
 */
export function replyPointerKey(sessionId: string, keyPrefix = DEFAULT_REDIS_KEY_PREFIX): string {
  return `${keyPrefix}:reply:${sessionId}`;
}

/** Redis key of one turn's chunks, `<prefix>:reply:<sessionId>:<turnId>`: a list of JSON chunks, in stream order. */
export function replyBufferKey(sessionId: string, turnId: string, keyPrefix = DEFAULT_REDIS_KEY_PREFIX): string {
  return `${keyPrefix}:reply:${sessionId}:${turnId}`;
}

/** A fresh turn id for event ids and the buffer's key: 48 random bits, hex. */
export function newTurnId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The pointer's value: which buffer, and which lock holder writes it. */
export function replyPointer(turnId: string, lockToken: string): string {
  return `${turnId} ${lockToken}`;
}

export interface ResumableTurnStream extends TurnStream {
  /** Resolves once the buffer's last write has landed (or was given up); never rejects. */
  settled(): Promise<void>;
}

export interface ResumableTurnStreamOptions {
  sessionId: string;
  /** The deployment's Redis key prefix (`config.redisKeyPrefix`). */
  keyPrefix: string;
  /** The turn's lock token: a reader takes the lock's loss for the producer's death. */
  lockToken: string;
  requestSignal?: AbortSignal;
  /** @default REPLY_BUFFER_FLUSH_MS */
  flushMs?: number;
  /** @default REPLY_BUFFER_TTL_MS */
  ttlMs?: number;
}

/**
 * A turn's response stream whose every chunk also goes to the turn's buffer in Redis: the SSE
 * frames carry event ids `<turnId>-<n>`, n being the chunk's index in the buffer too. Chunks
 * written in one tick, and all those written within `flushMs` of the previous write, leave as
 * one `/multi-exec` request (pointer, `RPUSH`, expiry). Writes go out one at a time, in order;
 * a failed write is retried with the next one. Nothing is written for a turn that writes no
 * chunk (a refused one). The buffer goes on after the client left: that is what it is for.
 */
export function openResumableTurnStream(redis: Pick<Redis, "multi">, options: ResumableTurnStreamOptions): ResumableTurnStream {
  const { sessionId, keyPrefix, lockToken, flushMs = REPLY_BUFFER_FLUSH_MS, ttlMs = REPLY_BUFFER_TTL_MS } = options;
  const turnId = newTurnId();
  const stream = openTurnStream(options.requestSignal, { turnId });
  const pointerKey = replyPointerKey(sessionId, keyPrefix);
  const bufferKey = replyBufferKey(sessionId, turnId, keyPrefix);

  // Each chunk as the JSON its SSE frame carries: the client pushes strings as they are, so the
  // list holds the same text as before, and a chunk is serialised once, not twice.
  let pending: string[] = [];
  let inFlight: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastFlushAt = Number.NEGATIVE_INFINITY;
  let closed = false;
  let failures = 0;
  let done!: () => void;
  const allWritten = new Promise<void>((resolve) => (done = resolve));

  const flush = async () => {
    timer = null;
    if (pending.length === 0) {
      if (closed) done();
      return;
    }
    const batch = pending;
    pending = [];
    lastFlushAt = Date.now();
    try {
      await redis.multi().set(pointerKey, replyPointer(turnId, lockToken), { px: ttlMs }).rpush(bufferKey, ...batch).pexpire(bufferKey, ttlMs).exec();
      failures = 0;
    } catch (error) {
      // Kept for the next write, in order; after a closed turn's third failure, given up: the
      // reply is stored in Postgres all the same, only a reader resuming it would miss the end.
      if (failures++ === 0) log("warn", "writing the reply buffer failed; retrying", { sessionId, ...errorFields(error) });
      if (!(closed && failures >= 3)) pending = [...batch, ...pending];
    }
    inFlight = null;
    schedule();
  };
  const schedule = () => {
    if (inFlight || timer) return;
    if (pending.length === 0) {
      if (closed) done();
      return;
    }
    const wait = closed ? 0 : Math.max(0, lastFlushAt + flushMs - Date.now());
    // A wait of 0 still lets every chunk written in this tick join the write.
    timer = setTimeout(() => {
      inFlight = flush();
    }, wait);
  };

  return {
    ...stream,
    write(chunk) {
      const json = stream.write(chunk);
      if (closed) return json;
      pending.push(json);
      schedule();
      return json;
    },
    close() {
      stream.close();
      if (closed) return;
      closed = true;
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      schedule();
    },
    settled: () => allWritten,
  };
}
