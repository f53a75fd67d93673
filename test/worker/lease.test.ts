import { describe, expect, inject, it } from "vitest";
import { DEFAULT_LOCK_LEASE_MS, lockKey } from "../../src/lock";
import { post, stores } from "./support/app";
import { createSession, createWidget, storedMessages, type TestSession } from "./support/fixtures";
import { dataOf, readChunks, StreamReader } from "./support/sse";

/** A lease short enough that a few seconds of reply outlive it several times over. */
const SHORT_LEASE = { LOCK_LEASE_MS: "1500" };
/** Three seconds of reply at the test run's 5 ms per word. */
const LONG_REPLY = "/words 600";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const send = (session: TestSession, id: string, text: string, env: Partial<Env> = {}) =>
  post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id, text }, env });

async function lockState(sessionId: string) {
  const { redis } = stores();
  const [holder, ttl] = await Promise.all([redis.get<string>(lockKey(sessionId)), redis.pttl(lockKey(sessionId))]);
  return { holder, ttl };
}

/** Polls `check` until it holds; false if it never did within `attempts` × 100 ms. */
async function eventually(check: () => Promise<boolean>, attempts = 150): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return true;
    await pause(100);
  }
  return false;
}

describe("locks are leases", () => {
  it(`a turn's lock lives one lease (${DEFAULT_LOCK_LEASE_MS} ms by default), not the turn deadline`, async () => {
    const session = await createSession(await createWidget());
    const turn = await send(session, "m1", LONG_REPLY);
    const reader = new StreamReader(turn.res);
    await reader.until((chunks) => chunks.some((chunk) => chunk.type === "text-delta"));
    const { holder, ttl } = await lockState(session.sessionId);
    await reader.toEnd();
    await turn.settled();

    expect(holder).not.toBeNull();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(DEFAULT_LOCK_LEASE_MS);
  });

  it("a turn longer than its lease keeps renewing it and still holds the lock at the end", async () => {
    const session = await createSession(await createWidget());
    const turn = await send(session, "m1", LONG_REPLY, SHORT_LEASE);
    const reader = new StreamReader(turn.res);
    await reader.until((chunks) => chunks.some((chunk) => chunk.type === "text-delta"));
    const first = await lockState(session.sessionId);
    // Twice the lease later the same turn still holds it: it was renewed, not re-taken.
    await pause(3_000);
    const later = await lockState(session.sessionId);
    const chunks = await reader.toEnd();
    await turn.settled();

    expect(first.holder).not.toBeNull();
    expect(first.ttl).toBeLessThanOrEqual(1_500);
    expect(later.holder).toBe(first.holder);
    expect(dataOf(chunks, "data-turn-end")[0]!.data.status).toBe("completed");
    expect((await lockState(session.sessionId)).holder).toBeNull();
  });

  it("a turn that lost its lease to a successor stops and writes nothing over the successor's history", async () => {
    const session = await createSession(await createWidget());
    const first = await send(session, "m1", LONG_REPLY, SHORT_LEASE);
    const firstReader = new StreamReader(first.res);
    await firstReader.until((chunks) => chunks.some((chunk) => chunk.type === "text-delta"));
    // The lease is gone (expired while its isolate stalled, say): a successor takes the session.
    await stores().redis.del(lockKey(session.sessionId));
    const second = await send(session, "m2", "hello");
    expect(second.res.status).toBe(200);
    const secondChunks = await readChunks(second.res);
    await second.settled();
    const firstChunks = await firstReader.toEnd();
    await first.settled();

    expect(dataOf(secondChunks, "data-turn-end")[0]!.data).toEqual({ status: "completed", assistantIdx: 2 });
    expect(dataOf(firstChunks, "error").map((part) => part.errorText.split(":")[0])).toContain("turn_interrupted");
    expect(dataOf(firstChunks, "data-turn-end")[0]!.data.status).toBe("failed");
    const stored = await storedMessages(session.sessionId);
    expect(stored.map((row) => [row.idx, row.role, row.text.slice(0, 5)])).toEqual([
      [0, "user", "/word"],
      [1, "user", "hello"],
      [2, "assistant", expect.any(String)],
    ]);
  });

  it("a release that failed while Redis was away frees the lock soon after Redis is back, long before the lease ends", async () => {
    const session = await createSession(await createWidget());
    const flaky = inject("flakyUpstashUrl");
    // A one-minute lease: only the retried release can free the lock within the test.
    const turn = await send(session, "m1", "/words 200", { UPSTASH_REDIS_REST_URL: flaky, LOCK_LEASE_MS: "60000" });
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);
    await reader.until((chunks) => chunks.some((chunk) => chunk.type === "text-delta"));
    await fetch(`${flaky}/__fail`, { method: "POST" });
    // The reply ends and is stored; its release fails against the missing Redis.
    const chunks = await reader.toEnd();
    expect(dataOf(chunks, "data-turn-end")[0]!.data.status).toBe("completed");
    const stuck = await lockState(session.sessionId);
    await fetch(`${flaky}/__heal`, { method: "POST" });
    const freed = await eventually(async () => (await lockState(session.sessionId)).holder === null);
    await turn.settled();

    expect(stuck.holder).not.toBeNull();
    expect(stuck.ttl).toBeGreaterThan(30_000);
    expect(freed).toBe(true);
    const next = await send(session, "m2", "are you there?");
    expect(next.res.status).toBe(200);
    await readChunks(next.res);
    await next.settled();
  });
});
