/**
 * When a store request counts as unanswered (a 503): once the store has been quiet — answering
 * nothing to this isolate — for the deadline's length of the isolate's own time.
 *
 * A store timeout exists to turn a store that does not answer into a fast, clear 503. Measured in
 * wall time alone it also fires when the store answered at once and the isolate, running hundreds
 * of turns on its one thread, had not yet got round to reading the answer: under a burst every
 * turn then fails together, a collapse of the isolate's own making (README "Performance", 500
 * replies at once). Two things tell the two apart. An isolate that reads the store's answers to
 * its other requests is only behind: the store is plainly up. And an isolate that is behind runs
 * its timers late. So the deadline is checked when it falls due: an answer from the store to any
 * request of the isolate since the last check starts the quiet time over from that answer, and
 * the time the check itself ran late is not counted; short of `ms`, it is checked again when the
 * rest would be up. With the store down on an idle isolate the deadline ends exactly `ms` after
 * its start, with one timer, as a plain timeout; it never runs past {@link MAX_STRETCH} × `ms` of
 * wall time (one request stuck while others pass, e.g. a query waiting on a row lock).
 */

/** The most a deadline is stretched, as a multiple of its length. */
export const MAX_STRETCH = 8;
/** Lateness of a timer that is only jitter, not a sign of a busy isolate, in ms. */
const TIMER_JITTER_MS = 20;

/** The last time a store answered a request of this isolate (module state: one per isolate). */
export interface StoreLiveness {
  /** Records an answer, now. */
  answered(): void;
  /** Epoch ms of the last answer; 0: none yet. */
  readonly lastAnswerAt: number;
}

export interface StoreDeadline {
  /** Aborts, with a `TimeoutError` DOMException, once the deadline has passed. */
  signal: AbortSignal;
  /** Ends the deadline (its pending check does nothing); call it once the request has settled. */
  clear(): void;
}

/** The clock and timer a deadline runs on; tests pass their own. */
export interface DeadlineClock {
  now(): number;
  /** Runs `run` once, `ms` from now; never cancelled (a cleared deadline ignores it). */
  after(ms: number, run: () => void): void;
}

/**
 * The runtime's own timeout signal, not `setTimeout`: with `nodejs_compat` every `setTimeout`
 * builds a Node `Timeout` object, which a burst of hundreds of store requests pays for.
 */
const runtimeClock: DeadlineClock = {
  now: () => Date.now(),
  after: (ms, run) => AbortSignal.timeout(ms).addEventListener("abort", run, { once: true }),
};

export function createStoreLiveness(clock: Pick<DeadlineClock, "now"> = runtimeClock): StoreLiveness {
  let lastAnswerAt = 0;
  return {
    answered: () => {
      lastAnswerAt = clock.now();
    },
    get lastAnswerAt() {
      return lastAnswerAt;
    },
  };
}

/** Answers of this isolate's Postgres (Neon HTTP) and Redis (Upstash REST) requests. */
export const storeLiveness = { postgres: createStoreLiveness(), redis: createStoreLiveness() };

/** A deadline of `ms` for a request to the store whose answers `liveness` records. */
export function storeDeadline(liveness: StoreLiveness, ms: number, clock: DeadlineClock = runtimeClock): StoreDeadline {
  const controller = new AbortController();
  const startedAt = clock.now();
  const capAt = startedAt + ms * MAX_STRETCH;
  let waitedMs = ms;
  let dueAt = startedAt + ms;
  let lastAnswerSeen = liveness.lastAnswerAt;
  let quietMs = 0;
  let cleared = false;
  const check = () => {
    if (cleared) return;
    const at = clock.now();
    // A check that runs late was kept waiting by the isolate's other work: that much of the wait
    // is not counted against the store. A few ms are a timer's ordinary jitter.
    const lateMs = at - dueAt > TIMER_JITTER_MS ? at - dueAt : 0;
    if (liveness.lastAnswerAt > lastAnswerSeen) {
      lastAnswerSeen = liveness.lastAnswerAt;
      quietMs = Math.max(0, at - lastAnswerSeen - lateMs);
    } else {
      quietMs += Math.max(0, waitedMs - lateMs);
    }
    if (quietMs >= ms || at >= capAt) {
      controller.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError"));
      return;
    }
    // Not sooner than a tenth of the deadline: on an isolate that stays behind, every check
    // would run late again, and many short ones would only add to its work.
    waitedMs = Math.max(1, Math.min(Math.max(ms / 10, ms - quietMs), capAt - at));
    dueAt = at + waitedMs;
    clock.after(waitedMs, check);
  };
  clock.after(ms, check);
  return {
    signal: controller.signal,
    clear: () => {
      cleared = true;
    },
  };
}

/**
 * `work`, unless a {@link storeDeadline} of `ms` passes first: then a rejection with its
 * `TimeoutError`. The deadline ends as soon as either settles.
 */
export async function withinStoreDeadline<T>(work: Promise<T>, liveness: StoreLiveness, ms: number): Promise<T> {
  const deadline = storeDeadline(liveness, ms);
  const timedOut = new Promise<never>((_, reject) => {
    deadline.signal.addEventListener("abort", () => reject(deadline.signal.reason), { once: true });
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    deadline.clear();
  }
}
