import type { Redis } from "@upstash/redis/cloudflare";
import { log } from "../log/log";
import { watchForCancel, type SessionLock } from "../lock";

/** Why a turn's model call was stopped before the model finished. */
export type AbortReason = "cancel" | "deadline" | "disconnect" | "refused" | "lease_lost";

export interface TurnStops {
  /** Aborts with an {@link AbortReason} when the turn must stop. */
  signal: AbortSignal;
  /** Stops the turn from inside (the opening write refused it). */
  stop(reason: AbortReason): void;
  /** Clears the timers and ends the cancel watch and the lease; call on every terminal path. */
  dispose(): void;
}

/**
 * What can stop a running turn — its deadline, a cancel from any isolate, a client gone for
 * longer than `disconnectGraceMs`, a lease found lost — as one abort signal. Also keeps the
 * turn's lease: every third of `leaseMs` one command renews it and reads the cancel flag (the
 * cancel subscription's safety read, so the renewal costs no request of its own).
 */
export function watchStops(
  { redis, keyPrefix, lock, leaseMs, deadlineMs, disconnectGraceMs, clientGone }: {
    redis: Redis;
    /** The deployment's Redis key prefix (`config.redisKeyPrefix`). */
    keyPrefix: string;
    /** The turn's lock: only a cancel aimed at its token counts. */
    lock: SessionLock;
    leaseMs: number;
    deadlineMs: number;
    disconnectGraceMs: number;
    clientGone: AbortSignal;
  },
): TurnStops {
  const { sessionId, token } = lock;
  const abort = new AbortController();
  const stopWatching = new AbortController();
  const stop = (reason: AbortReason) => abort.abort(reason);
  const timers = [setTimeout(() => stop("deadline"), deadlineMs)];
  const onClientGone = () => {
    timers.push(setTimeout(() => stop("disconnect"), disconnectGraceMs));
  };
  clientGone.addEventListener("abort", onClientGone, { once: true });
  watchForCancel(redis, { sessionId, keyPrefix, token, signal: stopWatching.signal, recheckIntervalMs: null }).then(
    () => stop("cancel"),
    () => {},
  );

  let failedRenewals = 0;
  const lease = setInterval(async () => {
    const renewal = await lock.renew(leaseMs);
    if (abort.signal.aborted || stopWatching.signal.aborted) return;
    if (!renewal) {
      // Redis unreachable: the turn goes on; its final write still checks it was not overtaken.
      if (failedRenewals++ === 0) log("warn", "lease renewal failed; going on", { sessionId });
      return;
    }
    failedRenewals = 0;
    if (renewal.canceled) stop("cancel");
    else if (!renewal.held) {
      log("warn", "lease lost: another turn may hold the session; stopping", { sessionId });
      stop("lease_lost");
    }
  }, Math.max(1, Math.floor(leaseMs / 3)));

  return {
    signal: abort.signal,
    stop,
    dispose() {
      clientGone.removeEventListener("abort", onClientGone);
      timers.forEach(clearTimeout);
      clearInterval(lease);
      stopWatching.abort();
    },
  };
}
