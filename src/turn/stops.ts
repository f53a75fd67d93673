import type { Redis } from "@upstash/redis/cloudflare";
import { watchForCancel } from "../lock";

/** Why a turn's model call was stopped before the model finished. */
export type AbortReason = "cancel" | "deadline" | "disconnect" | "refused";

export interface TurnStops {
  /** Aborts with an {@link AbortReason} when the turn must stop. */
  signal: AbortSignal;
  /** Stops the turn from inside (the opening write refused it). */
  stop(reason: AbortReason): void;
  /** Clears the timers and ends the cancel watch; call on every terminal path. */
  dispose(): void;
}

/**
 * What can stop a running turn — its deadline, a cancel from any isolate, a client gone for
 * longer than `disconnectGraceMs` — as one abort signal.
 */
export function watchStops(
  { redis, keyPrefix, sessionId, token, deadlineMs, disconnectGraceMs, clientGone }: {
    redis: Redis;
    /** The deployment's Redis key prefix (`config.redisKeyPrefix`). */
    keyPrefix: string;
    sessionId: string;
    /** The turn's lock token: only a cancel aimed at it counts. */
    token: string;
    deadlineMs: number;
    disconnectGraceMs: number;
    clientGone: AbortSignal;
  },
): TurnStops {
  const abort = new AbortController();
  const stopWatching = new AbortController();
  const stop = (reason: AbortReason) => abort.abort(reason);
  const timers = [setTimeout(() => stop("deadline"), deadlineMs)];
  const onClientGone = () => {
    timers.push(setTimeout(() => stop("disconnect"), disconnectGraceMs));
  };
  clientGone.addEventListener("abort", onClientGone, { once: true });
  watchForCancel(redis, { sessionId, keyPrefix, token, signal: stopWatching.signal }).then(() => stop("cancel"), () => {});

  return {
    signal: abort.signal,
    stop,
    dispose() {
      clientGone.removeEventListener("abort", onClientGone);
      timers.forEach(clearTimeout);
      stopWatching.abort();
    },
  };
}
