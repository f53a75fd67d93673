import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "../errors";
import { lockKey } from "../lock/keys";
import { errorFields, log } from "../log/log";
import { streamErrorText } from "./errors";
import type { ParleyChunk } from "./message";
import { replyBufferKey, replyPointerKey } from "./resume-buffer";
import { openTurnStream } from "./stream";

// The reader side of resumable streams (docs/architecture.md, "Resuming a reply").

/**
 * Pause between two reads of a followed turn's buffer, in ms. About the producer's own write
 * interval: reading faster would mostly find nothing new.
 */
export const RESUME_POLL_MS = 250;

/**
 * How long a followed buffer may stay still, with the lock no longer its producer's, before
 * the producer counts as dead, in ms. A turn that ends normally frees its lock a moment before
 * its last chunks land (the final write and the release run in parallel), so this must cover
 * one buffer write and more; a turn that is alive but quiet (a slow tool) keeps its lock.
 */
export const RESUME_STALL_MS = 2_000;

export interface ResumeReplyOptions {
  sessionId: string;
  /** The deployment's Redis key prefix (`config.redisKeyPrefix`). */
  keyPrefix: string;
  /** The request's `Last-Event-ID`, if any: `<turnId>-<n>` of the last chunk the client has. */
  lastEventId?: string | null;
  /** The request's abort signal: reading stops when the client goes. */
  requestSignal?: AbortSignal;
  /** Keeps the following alive after the response is given (`ctx.waitUntil`). */
  waitUntil(work: Promise<unknown>): void;
  /**
   * Longest time a reader follows one turn, in ms: the turn's deadline plus a lease bounds any
   * turn, so a reader never outlives it by much whatever Redis does.
   */
  maxFollowMs: number;
  /** @default RESUME_POLL_MS */
  pollMs?: number;
  /** @default RESUME_STALL_MS */
  stallMs?: number;
}

/**
 * `GET /session/:id/stream` (the AI SDK's resume convention): 204 when no turn of the session
 * is in flight — none streamed lately, or the latest one has finished — otherwise the turn's
 * UI message stream from its `start` (or after the chunk named by `Last-Event-ID`), then live
 * until `finish`, with the same event ids as the original. The buffer is read every `pollMs`
 * together with the lock; a producer found dead (buffer still for `stallMs` and the lock no
 * longer its own, or the buffer expired) ends the stream with `turn_interrupted`, a failed
 * `data-turn-end` and `finish`, as a turn that lost its lease does. Redis failing on the first
 * read is a 503; later, reads are retried until `maxFollowMs`.
 */
export async function resumeReply(redis: Pick<Redis, "get" | "pipeline">, options: ResumeReplyOptions): Promise<Response> {
  const { sessionId, keyPrefix, pollMs = RESUME_POLL_MS, stallMs = RESUME_STALL_MS } = options;
  const unavailable = (cause: unknown) =>
    new ApiError("unavailable", { message: "The turn store is unreachable; retry shortly.", details: { store: "redis" }, cause });

  const pointer = await redis.get<string>(replyPointerKey(sessionId, keyPrefix)).catch((cause: unknown) => {
    throw unavailable(cause);
  });
  if (typeof pointer !== "string" || !pointer.includes(" ")) return noTurn();
  const [turnId, lockToken] = pointer.split(" ") as [string, string];
  const bufferKey = replyBufferKey(sessionId, turnId, keyPrefix);
  const skip = skipThrough(options.lastEventId, turnId);

  const [length, first, last] = await redis
    .pipeline()
    .llen(bufferKey)
    .lrange<ParleyChunk>(bufferKey, skip, -1)
    .lindex(bufferKey, -1)
    .exec<[number, ParleyChunk[], ParleyChunk | null]>()
    .catch((cause: unknown) => {
      throw unavailable(cause);
    });
  // Expired; over (its `finish` is in) for a client that has none of it, or all of it. A
  // client may have chunks the buffer does not hold yet: it is followed from there.
  if (length === 0 || (last?.type === "finish" && (skip === 0 || skip >= length))) return noTurn();

  const stream = openTurnStream(options.requestSignal, { turnId, next: skip });
  let next = skip;
  const send = (chunks: ParleyChunk[]): boolean => {
    for (const chunk of chunks) {
      stream.write(chunk);
      next++;
      if (chunk.type === "finish") return true;
    }
    return false;
  };
  const interrupted = () => {
    stream.write({ type: "error", errorText: streamErrorText("turn_interrupted") });
    stream.write({ type: "data-turn-end", data: { status: "failed", assistantIdx: null }, transient: true });
    stream.write({ type: "finish" });
  };

  const follow = async () => {
    const startedAt = Date.now();
    let lastGrowthAt = startedAt;
    let failing = false;
    while (!stream.clientGone.aborted && Date.now() - startedAt < options.maxFollowMs) {
      await sleep(pollMs, stream.clientGone);
      if (stream.clientGone.aborted) return;
      let chunks: ParleyChunk[];
      let holder: string | null;
      try {
        [chunks, holder] = await redis.pipeline().lrange<ParleyChunk>(bufferKey, next, -1).get<string>(lockKey(sessionId, keyPrefix)).exec<[ParleyChunk[], string | null]>();
        failing = false;
      } catch (error) {
        // Retried at the next poll; `maxFollowMs` bounds a Redis that stays away.
        if (!failing) log("warn", "following a reply: reading its buffer failed; retrying", { sessionId, ...errorFields(error) });
        failing = true;
        continue;
      }
      if (chunks.length > 0) {
        lastGrowthAt = Date.now();
        if (send(chunks)) return;
        continue;
      }
      // An empty read at a position past 0 is also what an expired buffer gives.
      const gone = holder !== lockToken && Date.now() - lastGrowthAt >= stallMs;
      if (gone) {
        log("warn", "following a reply: its turn stopped without finishing", { sessionId });
        return interrupted();
      }
    }
    if (!stream.clientGone.aborted) interrupted();
  };

  const finished = send(first);
  if (!finished) {
    // Runs as long as the response body is read; the reader's own end or the client's leaving ends it.
    options.waitUntil(
      follow()
        .catch((error: unknown) => log("error", "following a reply failed", { sessionId, ...errorFields(error) }))
        .finally(() => stream.close()),
    );
  } else stream.close();
  return stream.response;
}

/** The buffer index to read from: after the chunk `Last-Event-ID` names, when it names one of this turn. */
function skipThrough(lastEventId: string | null | undefined, turnId: string): number {
  const match = /^([0-9a-f]+)-(\d{1,9})$/.exec(lastEventId?.trim() ?? "");
  return match && match[1] === turnId ? Number(match[2]) + 1 : 0;
}

function noTurn(): Response {
  return new Response(null, { status: 204 });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
