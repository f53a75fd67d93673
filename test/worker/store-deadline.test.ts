import { describe, expect, it } from "vitest";
import { createStoreLiveness, MAX_STRETCH, storeDeadline, withinStoreDeadline, type DeadlineClock, type StoreDeadline } from "../../src/store-deadline";

/**
 * A clock that moves only when the test moves it, running the timers that fall due on the way;
 * the n-th timer fires `lateMs(n)` after it was due, as on an isolate busy with other turns.
 */
function manualClock({ lateMs = () => 0 }: { lateMs?: (n: number) => number } = {}) {
  const start = 1_000_000;
  let now = start;
  let armed = 0;
  let timers: Array<{ at: number; run: () => void }> = [];
  const clock: DeadlineClock = {
    now: () => now,
    after: (ms, run) => {
      timers.push({ at: now + ms + lateMs(armed++), run });
    },
  };
  return {
    clock,
    /** Moves to `ms` after the start. */
    advanceTo(ms: number) {
      for (;;) {
        const due = timers.filter((t) => t.at <= start + ms).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.run();
      }
      now = start + ms;
    },
    armed: () => armed,
  };
}

/**
 * Moves the clock in steps of 10 ms, calling `each` first, until the deadline aborts or `untilMs`;
 * the ms after the start it aborted at.
 */
function abortedAt(deadline: StoreDeadline, time: ReturnType<typeof manualClock>, { untilMs, each }: { untilMs: number; each?: (ms: number) => void }): number | undefined {
  for (let ms = 10; ms <= untilMs; ms += 10) {
    each?.(ms);
    time.advanceTo(ms);
    if (deadline.signal.aborted) return ms;
  }
  return undefined;
}

describe("storeDeadline", () => {
  it("ends its length after the start, with one timer, when the store answers nobody and the isolate is idle", () => {
    const time = manualClock();
    const deadline = storeDeadline(createStoreLiveness(time.clock), 2_500, time.clock);
    expect(abortedAt(deadline, time, { untilMs: 30_000 })).toBe(2_500);
    expect((deadline.signal.reason as DOMException).name).toBe("TimeoutError");
    expect(time.armed()).toBe(1);
  });

  it("takes a few ms of timer jitter for jitter, not for a busy isolate", () => {
    const time = manualClock({ lateMs: () => 5 });
    const deadline = storeDeadline(createStoreLiveness(time.clock), 2_500, time.clock);
    expect(abortedAt(deadline, time, { untilMs: 30_000 })).toBe(2_510);
    expect(time.armed()).toBe(1);
  });

  it("does not count against the store the time its check was kept waiting by a busy isolate", () => {
    // The first check runs 1 s late (the isolate was busy), the next on time.
    const time = manualClock({ lateMs: (n) => (n === 0 ? 1_000 : 0) });
    const deadline = storeDeadline(createStoreLiveness(time.clock), 2_500, time.clock);
    expect(abortedAt(deadline, time, { untilMs: 30_000 })).toBe(2_500 + 2 * 1_000);
  });

  it("starts over from each answer the store gives the isolate's other requests, ending its length after the last", () => {
    // A burst: the store answers other turns every 400 ms until 4 s; this request's answer is still unread.
    const time = manualClock();
    const liveness = createStoreLiveness(time.clock);
    const deadline = storeDeadline(liveness, 2_500, time.clock);
    const each = (ms: number) => {
      if (ms % 400 === 0 && ms <= 4_000) {
        time.advanceTo(ms);
        liveness.answered();
      }
    };
    expect(abortedAt(deadline, time, { untilMs: 30_000, each })).toBe(4_000 + 2_500);
  });

  it("is not extended by answers from before it started", () => {
    const time = manualClock();
    const liveness = createStoreLiveness(time.clock);
    time.advanceTo(1_000);
    liveness.answered();
    time.advanceTo(1_500);
    const deadline = storeDeadline(liveness, 2_500, time.clock);
    expect(abortedAt(deadline, time, { untilMs: 30_000 })).toBe(1_500 + 2_500);
  });

  it("ends after MAX_STRETCH × its length even while the store keeps answering others", () => {
    const time = manualClock();
    const liveness = createStoreLiveness(time.clock);
    const deadline = storeDeadline(liveness, 1_000, time.clock);
    const each = (ms: number) => {
      time.advanceTo(ms);
      liveness.answered();
    };
    expect(abortedAt(deadline, time, { untilMs: 60_000, each })).toBe(1_000 * MAX_STRETCH);
  });

  it("ends after MAX_STRETCH × its length on an isolate that stays behind", () => {
    const time = manualClock({ lateMs: () => 400 });
    const deadline = storeDeadline(createStoreLiveness(time.clock), 2_500, time.clock);
    const at = abortedAt(deadline, time, { untilMs: 60_000 })!;
    expect(at).toBeGreaterThanOrEqual(2_500 * MAX_STRETCH);
    expect(at).toBeLessThanOrEqual(2_500 * MAX_STRETCH + 400);
  });

  it("does nothing once cleared", () => {
    const time = manualClock();
    const deadline = storeDeadline(createStoreLiveness(time.clock), 2_500, time.clock);
    deadline.clear();
    time.advanceTo(60_000);
    expect(deadline.signal.aborted).toBe(false);
  });
});

describe("withinStoreDeadline", () => {
  it("gives the work's value when it settles first", async () => {
    await expect(withinStoreDeadline(Promise.resolve(42), createStoreLiveness(), 1_000)).resolves.toBe(42);
  });

  it("gives the work's rejection when it fails first", async () => {
    await expect(withinStoreDeadline(Promise.reject(new Error("refused")), createStoreLiveness(), 1_000)).rejects.toThrow("refused");
  });

  it("rejects with a TimeoutError, not before the deadline, when the store answers nothing", async () => {
    const started = Date.now();
    const error = await withinStoreDeadline(new Promise<never>(() => {}), createStoreLiveness(), 100).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe("TimeoutError");
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });
});
