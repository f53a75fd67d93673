import type { Redis } from "@upstash/redis/cloudflare";
import { DEFAULT_REDIS_KEY_PREFIX } from "../key-prefix";
import { cancelChannel, cancelKey, lockKey } from "./keys";
import { evalScript, SCRIPTS, type ScriptRedis } from "./scripts";

export { cancelChannel };

/**
 * Lifetime of a cancel flag, in ms. The turn it targets deletes it on release; the TTL only
 * clears flags whose turn died with its isolate.
 */
export const CANCEL_TTL_MS = 60_000;

/**
 * Pause between two reads of the cancel flag once `watchForCancel` has fallen back to
 * polling, in ms: a cancel is then seen within this plus one round trip, under 1 s.
 */
export const CANCEL_POLL_INTERVAL_MS = 500;

/** Longest wait for the cancel subscription's confirmation before polling instead, in ms. */
export const CANCEL_CONFIRM_TIMEOUT_MS = 1_000;

/**
 * Pause between two safety reads of the flag while subscribed, in ms. The client reports no
 * event when a subscription's stream just ends, so these bound how late such a turn sees a
 * cancel; a 5 s reply makes none.
 */
export const CANCEL_RECHECK_INTERVAL_MS = 10_000;

/**
 * Asks the turn in flight on `sessionId` to stop, from any isolate: stores the lock holder's
 * token in `<prefix>:cancel:<sessionId>` and publishes it on the channel of the same name (one
 * atomic script). Resolves true when a turn was in flight, false when the lock was free.
 * Redis errors reject.
 *
 * @param keyPrefix the deployment's Redis key prefix (`config.redisKeyPrefix`)
 */
export async function requestCancel(redis: ScriptRedis, sessionId: string, keyPrefix = DEFAULT_REDIS_KEY_PREFIX): Promise<boolean> {
  const token = await evalScript<string | null>(
    redis,
    SCRIPTS.cancel,
    [lockKey(sessionId, keyPrefix), cancelKey(sessionId, keyPrefix)],
    [String(CANCEL_TTL_MS), cancelChannel(sessionId, keyPrefix)],
  );
  return token !== null;
}

/** The Redis commands `watchForCancel` needs. */
export type CancelWatchRedis = Pick<Redis, "get" | "subscribe">;

export interface WatchForCancelOptions {
  sessionId: string;
  /** The deployment's Redis key prefix (`config.redisKeyPrefix`). @default "parley" */
  keyPrefix?: string;
  /** The running turn's lock token; only a cancel aimed at it counts. */
  token: string;
  /** Stops the watch; abort it on every terminal path of the turn. */
  signal: AbortSignal;
  /**
   * Pause between two reads of the flag once the subscription has failed, in ms; also the
   * retry delay of a failed read.
   * @default 500
   */
  intervalMs?: number;
  /**
   * Longest wait for the subscription's confirmation, in ms; then the watch polls instead.
   * @default 1000
   */
  confirmTimeoutMs?: number;
  /**
   * Pause between two safety reads of the flag while subscribed, in ms; `null` for none, when
   * something else reads the flag regularly (the turn's lease renewal does).
   * @default 10000
   */
  recheckIntervalMs?: number | null;
}

type Subscription = ReturnType<CancelWatchRedis["subscribe"]>;

/**
 * Waits for a cancel aimed at `token`, pushed rather than polled: subscribes to the session's
 * cancel channel and, once Redis confirms the subscription, reads the flag once, since a
 * cancel published before that reached nobody. While a 5 s reply streams that is two Redis
 * requests (the subscribe and one `GET`), against twenty reads for a 250 ms poll.
 *
 * - Resolves when a cancel for this turn is seen: `.then` means "canceled", nothing else.
 * - Rejects with `signal.reason` when `signal` aborts first (at once if already aborted), like
 *   `fetch` and other abortable platform APIs; attach a rejection handler. Every path ends the
 *   subscription (aborting its streamed request) and clears its timers.
 * - When the subscription fails, is not confirmed within `confirmTimeoutMs`, or ends, the watch
 *   logs it once and reads the flag every `intervalMs` instead. A failed read is logged and
 *   retried: a hiccup of the cancel channel must not end the turn.
 */
export function watchForCancel(
  redis: CancelWatchRedis,
  {
    sessionId,
    keyPrefix = DEFAULT_REDIS_KEY_PREFIX,
    token,
    signal,
    intervalMs = CANCEL_POLL_INTERVAL_MS,
    confirmTimeoutMs = CANCEL_CONFIRM_TIMEOUT_MS,
    recheckIntervalMs = CANCEL_RECHECK_INTERVAL_MS,
  }: WatchForCancelOptions,
): Promise<void> {
  for (const [name, value] of Object.entries({ intervalMs, confirmTimeoutMs, ...(recheckIntervalMs === null ? {} : { recheckIntervalMs }) })) {
    if (!(value > 0)) throw new RangeError(`watchForCancel: ${name} must be positive, got ${value}`);
  }
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const key = cancelKey(sessionId, keyPrefix);
    let mode: "confirming" | "subscribed" | "polling" = "confirming";
    let settled = false;
    let subscription: Subscription | null = null;
    let confirmTimer: ReturnType<typeof setTimeout> | null = null;
    let readTimer: ReturnType<typeof setTimeout> | null = null;
    let reading = false;
    let failedReads = 0;

    const endSubscription = () => {
      // The client's unsubscribe() aborts the streamed fetch, which closes its connection.
      void subscription?.unsubscribe().catch(() => {});
      subscription = null;
    };
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      clearTimeout(confirmTimer);
      clearTimeout(readTimer);
      endSubscription();
      outcome();
    };
    const onAbort = () => settle(() => reject(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });

    const scheduleRead = (delayMs: number) => {
      clearTimeout(readTimer);
      readTimer = setTimeout(read, delayMs);
    };
    const read = async () => {
      // A read already in flight schedules the next one when it lands.
      if (reading || settled) return;
      reading = true;
      let value: string | null = null;
      let failed = false;
      try {
        value = await redis.get<string>(key);
      } catch (error) {
        failed = true;
        // Logged once per run of failures, not at every retry.
        if (failedReads++ === 0 && !settled) console.warn("cancel watch: reading the flag failed; retrying", { sessionId, error: String(error) });
      } finally {
        reading = false;
      }
      if (settled) return;
      if (!failed) {
        if (failedReads > 0) console.warn("cancel watch: Redis reachable again", { sessionId, failedReads });
        failedReads = 0;
        if (value === token) return settle(resolve);
      }
      if (failed || mode === "polling") scheduleRead(intervalMs);
      else if (recheckIntervalMs !== null) scheduleRead(recheckIntervalMs);
    };

    const fallBack = (reason: string) => {
      if (settled || mode === "polling") return;
      mode = "polling";
      clearTimeout(confirmTimer);
      endSubscription();
      console.warn(`cancel watch: ${reason}; reading the flag every ${intervalMs} ms instead`, { sessionId });
      scheduleRead(0);
    };

    try {
      subscription = redis.subscribe<string>(cancelChannel(sessionId, keyPrefix));
    } catch (error) {
      fallBack(`subscribing failed (${String(error)})`);
      return;
    }
    subscription.on("subscribe", () => {
      if (mode !== "confirming") return;
      mode = "subscribed";
      clearTimeout(confirmTimer);
      // A cancel published before this point reached nobody, but its flag is still there.
      scheduleRead(0);
    });
    // Tokens are UUIDs, which never parse as JSON, so the client hands the payload over as sent.
    subscription.on("message", ({ message }) => {
      if (message === token) settle(resolve);
    });
    subscription.on("error", (error) => fallBack(`the subscription failed (${String(error)})`));
    subscription.on("unsubscribe", () => fallBack("the subscription ended"));
    confirmTimer = setTimeout(() => fallBack(`the subscription was not confirmed within ${confirmTimeoutMs} ms`), confirmTimeoutMs);
  });
}
