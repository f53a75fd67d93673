import type { Redis } from "@upstash/redis/cloudflare";
import { cancelKey, lockKey } from "./keys";
import { evalScript, SCRIPTS, type ScriptRedis } from "./scripts";

/**
 * Lifetime of a cancel flag, in ms. The turn it targets deletes it on release; the TTL only
 * clears flags whose turn died with its isolate.
 */
export const CANCEL_TTL_MS = 60_000;

/** How often `watchForCancel` reads the cancel flag by default, in ms. */
export const CANCEL_POLL_INTERVAL_MS = 250;

/**
 * Asks the turn in flight on `sessionId` to stop, from any isolate: stores the lock holder's
 * token in `parley:cancel:<sessionId>` (one atomic script). Resolves true when a turn was in
 * flight, false when the lock was free. Redis errors reject.
 */
export async function requestCancel(redis: ScriptRedis, sessionId: string): Promise<boolean> {
  const token = await evalScript<string | null>(
    redis,
    SCRIPTS.cancel,
    [lockKey(sessionId), cancelKey(sessionId)],
    [String(CANCEL_TTL_MS)],
  );
  return token !== null;
}

export interface WatchForCancelOptions {
  sessionId: string;
  /** The running turn's lock token; only a cancel aimed at it counts. */
  token: string;
  /**
   * Pause between two reads of the flag, in ms. A cancel is seen within about
   * `intervalMs` + one Redis round trip; keep it well under 1 s.
   * @default 250
   */
  intervalMs?: number;
  /** Stops the watch; abort it on every terminal path of the turn. */
  signal: AbortSignal;
}

/**
 * Polls the session's cancel flag (`GET`, first read at once) until it names `token`.
 *
 * - Resolves when a cancel for this turn is seen: `.then` means "canceled", nothing else.
 * - Rejects with `signal.reason` when `signal` aborts first (at once if already aborted), like
 *   `fetch` and other abortable platform APIs; attach a rejection handler. No timer is left
 *   behind, and a read still in flight is ignored when it lands.
 * - A failed read (Redis unreachable, timeout) is logged and polling goes on: a hiccup of
 *   the cancel channel must not end the turn.
 */
export function watchForCancel(
  redis: Pick<Redis, "get">,
  { sessionId, token, intervalMs = CANCEL_POLL_INTERVAL_MS, signal }: WatchForCancelOptions,
): Promise<void> {
  if (!(intervalMs > 0)) throw new RangeError(`watchForCancel: intervalMs must be positive, got ${intervalMs}`);
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const key = cancelKey(sessionId);
    let timer: ReturnType<typeof setTimeout> | null = null;
    let failedReads = 0;

    const stop = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", stop, { once: true });

    const poll = async () => {
      timer = null;
      try {
        const value = await redis.get<string>(key);
        if (signal.aborted) return;
        if (failedReads > 0) {
          console.warn("cancel watch: Redis reachable again", { sessionId, failedReads });
          failedReads = 0;
        }
        if (value === token) {
          signal.removeEventListener("abort", stop);
          resolve();
          return;
        }
      } catch (error) {
        if (signal.aborted) return;
        // Logged once per run of failures, not four times a second.
        if (failedReads++ === 0) console.warn("cancel watch: reading the flag failed; still polling", { sessionId, error: String(error) });
      }
      timer = setTimeout(poll, intervalMs);
    };
    void poll();
  });
}
