import type { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, inject, it } from "vitest";
import {
  acquireLock,
  CANCEL_TTL_MS,
  cancelKey,
  lockKey,
  releaseLock,
  requestCancel,
  watchForCancel,
} from "../../src/lock";
import { evalScript, SCRIPTS, type LuaScript } from "../../src/lock/scripts";
import { createRedis } from "../../src/redis";

const TTL_MS = 30_000;

function redisClient(): Redis {
  return createRedis({ redisUrl: inject("upstashUrl"), redisToken: inject("upstashToken") });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("acquireLock / releaseLock", () => {
  it("refuses a second acquire while the lock is held", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const first = await acquireLock(redis, { sessionId, ttlMs: TTL_MS });
    expect(first).toEqual({ ok: true, token: expect.any(String), turnSeq: null });
    expect(await acquireLock(redis, { sessionId, ttlMs: TTL_MS })).toEqual({ ok: false });
    expect(await redis.get(lockKey(sessionId))).toBe(first.ok && first.token);
    expect(await redis.pttl(lockKey(sessionId))).toBeGreaterThan(TTL_MS - 5_000);
  });

  it("lets exactly one of 20 concurrent acquires win, from 20 separate clients", async () => {
    const sessionId = crypto.randomUUID();
    const clients = Array.from({ length: 20 }, redisClient);
    const outcomes = await Promise.all(clients.map((redis) => acquireLock(redis, { sessionId, ttlMs: TTL_MS })));
    const winners = outcomes.filter((outcome) => outcome.ok);
    expect(winners).toHaveLength(1);
    expect(await redisClient().get(lockKey(sessionId))).toBe(winners[0]?.token);
  });

  it("lets exactly one of 20 concurrent acquires win on one auto-pipelined client", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => acquireLock(redis, { sessionId, ttlMs: TTL_MS })));
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
  });

  it("does not release with the wrong token", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const held = await acquireLock(redis, { sessionId, ttlMs: TTL_MS });
    if (!held.ok) throw new Error("expected the lock");
    expect(await releaseLock(redis, { sessionId, token: crypto.randomUUID() })).toBe(false);
    expect(await redis.get(lockKey(sessionId))).toBe(held.token);
    expect(await acquireLock(redis, { sessionId, ttlMs: TTL_MS })).toEqual({ ok: false });
  });

  it("frees the lock at once on release", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const held = await acquireLock(redis, { sessionId, ttlMs: TTL_MS });
    if (!held.ok) throw new Error("expected the lock");
    expect(await releaseLock(redis, { sessionId, token: held.token })).toBe(true);
    expect(await redis.exists(lockKey(sessionId))).toBe(0);
    const next = await acquireLock(redis, { sessionId, ttlMs: TTL_MS });
    expect(next.ok).toBe(true);
    // A second release of the old token is a no-op and leaves the new holder alone.
    expect(await releaseLock(redis, { sessionId, token: held.token })).toBe(false);
    expect(await redis.get(lockKey(sessionId))).toBe(next.ok && next.token);
  });

  it("frees the lock when its TTL runs out", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    expect((await acquireLock(redis, { sessionId, ttlMs: 200 })).ok).toBe(true);
    expect((await acquireLock(redis, { sessionId, ttlMs: 200 })).ok).toBe(false);
    await sleep(300);
    expect((await acquireLock(redis, { sessionId, ttlMs: 200 })).ok).toBe(true);
  });

  it("recognises its own token after a resent SET NX (upstash/redis-js#1455), and only its own", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const token = crypto.randomUUID();
    // The first attempt landed but its reply was lost: the key already holds this call's token.
    await redis.set(lockKey(sessionId), token, { px: TTL_MS });
    expect(await acquireLock(redis, { sessionId, ttlMs: TTL_MS, token })).toEqual({ ok: true, token, turnSeq: null });
    expect(await acquireLock(redis, { sessionId, ttlMs: TTL_MS, token: crypto.randomUUID() })).toEqual({ ok: false });
    expect(await acquireLock(redis, { sessionId, ttlMs: TTL_MS })).toEqual({ ok: false });
  });

  it("rejects a non-positive or fractional TTL before touching Redis", async () => {
    const redis = redisClient();
    await expect(acquireLock(redis, { sessionId: crypto.randomUUID(), ttlMs: 0 })).rejects.toThrow(RangeError);
    await expect(acquireLock(redis, { sessionId: crypto.randomUUID(), ttlMs: 1.5 })).rejects.toThrow(RangeError);
  });

  it("rejects when Redis is unreachable", async () => {
    const redis = createRedis({ redisUrl: "http://127.0.0.1:9", redisToken: inject("upstashToken") });
    await expect(acquireLock(redis, { sessionId: crypto.randomUUID(), ttlMs: TTL_MS })).rejects.toThrow();
  });
});

describe("scripts", () => {
  it("stores the hashes SCRIPT LOAD returns", async () => {
    const redis = redisClient();
    for (const [name, { script, hash }] of Object.entries(SCRIPTS)) {
      expect({ name, hash: await redis.scriptLoad(script) }).toEqual({ name, hash });
    }
  });

  it("sends the script text only after NOSCRIPT, then runs by hash", async () => {
    const redis = redisClient();
    // A script no Redis has seen: a unique comment changes the hash.
    const text = `-- ${crypto.randomUUID()}\nlocal key = KEYS[1] -- any key\nreturn ARGV[1]`;
    const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
    const script: LuaScript = { script: text, hash: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("") };
    const calls: string[] = [];
    const spy = {
      evalsha: <TArgs extends unknown[], TData>(sha: string, keys: string[], args: TArgs) => {
        calls.push("evalsha");
        return redis.evalsha<TArgs, TData>(sha, keys, args);
      },
      eval: <TArgs extends unknown[], TData>(source: string, keys: string[], args: TArgs) => {
        calls.push("eval");
        return redis.eval<TArgs, TData>(source, keys, args);
      },
    };
    expect(await evalScript(spy, script, ["k"], ["first"])).toBe("first");
    expect(calls).toEqual(["evalsha", "eval"]);
    expect(await evalScript(spy, script, ["k"], ["second"])).toBe("second");
    expect(calls).toEqual(["evalsha", "eval", "evalsha"]);
  });

  it("passes other script errors through", async () => {
    const redis = redisClient();
    const broken: LuaScript = { script: "return redis.call('NOPE')", hash: "0".repeat(40) };
    await expect(evalScript(redis, broken, [], [])).rejects.toThrow(/Unknown Redis command|unknown command/i);
  });
});

describe("requestCancel", () => {
  it("answers false and stores nothing when no turn is in flight", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    expect(await requestCancel(redis, sessionId)).toBe(false);
    expect(await redis.exists(cancelKey(sessionId))).toBe(0);
  });

  it("flags the token of the turn in flight, with a TTL", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const held = await acquireLock(redis, { sessionId, ttlMs: TTL_MS });
    if (!held.ok) throw new Error("expected the lock");
    expect(await requestCancel(redis, sessionId)).toBe(true);
    expect(await redis.get(cancelKey(sessionId))).toBe(held.token);
    const ttl = await redis.pttl(cancelKey(sessionId));
    expect(ttl).toBeGreaterThan(CANCEL_TTL_MS - 5_000);
    expect(ttl).toBeLessThanOrEqual(CANCEL_TTL_MS);
  });

  it("is cleared by the release of the turn it targets, so the next turn is not canceled", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const first = await acquireLock(redis, { sessionId, ttlMs: TTL_MS });
    if (!first.ok) throw new Error("expected the lock");
    await requestCancel(redis, sessionId);
    expect(await releaseLock(redis, { sessionId, token: first.token })).toBe(true);
    expect(await redis.exists(cancelKey(sessionId))).toBe(0);

    const second = await acquireLock(redis, { sessionId, ttlMs: TTL_MS });
    if (!second.ok) throw new Error("expected the lock");
    const stop = new AbortController();
    const watch = watchForCancel(redis, { sessionId, token: second.token, intervalMs: 50, signal: stop.signal });
    await sleep(300);
    stop.abort();
    await expect(watch).rejects.toThrow();
  });

  it("keeps a cancel flag of another token when releasing", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const other = crypto.randomUUID();
    await redis.set(cancelKey(sessionId), other, { px: TTL_MS });
    expect(await releaseLock(redis, { sessionId, token: crypto.randomUUID() })).toBe(false);
    expect(await redis.get(cancelKey(sessionId))).toBe(other);
  });
});

// watchForCancel, pushed cancels and the polling fallback: test/worker/cancel.test.ts
