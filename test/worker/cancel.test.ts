import type { Redis } from "@upstash/redis/cloudflare";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import type { MessageMetadata } from "../../src/db/schema";
import { acquireLock, cancelChannel, cancelKey, requestCancel, watchForCancel, type CancelWatchRedis } from "../../src/lock";
import { DEV_MODEL_PREFIX } from "../../src/model/scripted";
import { createRedis } from "../../src/redis";
import { post } from "./support/app";
import { createSession, createWidget, storedMessages, type TestSession } from "./support/fixtures";
import { dataOf, StreamReader, textDeltas, textOf } from "./support/sse";

const TTL_MS = 30_000;
/** Long enough that the watch's fallback (1 s confirmation bound, then 500 ms reads) lands mid-reply. */
const LONG_REPLY = "/words 1000";

afterEach(() => vi.restoreAllMocks());

function redisClient(url = inject("upstashUrl"), token = inject("upstashToken")): Redis {
  return createRedis({ redisUrl: url, redisToken: token });
}

/** How many connections are subscribed to `channel`, as Redis itself counts them. */
async function subscribers(channel: string): Promise<number> {
  const [, count] = await redisClient().exec<[string, number]>(["PUBSUB", "NUMSUB", channel]);
  return count;
}

const untilSubscribed = (channel: string, count = 1) =>
  vi.waitFor(async () => expect(await subscribers(channel)).toBe(count), { timeout: 5_000, interval: 20 });

/** `redis` with its `get` calls counted, the first `failFirst` of them failing. */
function countingGets(redis: CancelWatchRedis, { failFirst = 0 } = {}) {
  const counter = {
    gets: 0,
    subscribes: 0,
    redis: {
      get: async <TData>(key: string): Promise<TData | null> => {
        counter.gets += 1;
        if (counter.gets <= failFirst) throw new Error("simulated Redis outage");
        return redis.get<TData>(key);
      },
      subscribe: ((channels) => {
        counter.subscribes += 1;
        return redis.subscribe(channels);
      }) as CancelWatchRedis["subscribe"],
    } satisfies CancelWatchRedis,
  };
  return counter;
}

/** The warnings logged while the test runs, as text. */
function captureWarnings(): string[] {
  const warnings: string[] = [];
  vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => void warnings.push(args.map((arg) => JSON.stringify(arg)).join(" ")));
  return warnings;
}

async function heldLock(redis: Redis, sessionId: string): Promise<string> {
  const held = await acquireLock(redis, { sessionId, ttlMs: TTL_MS });
  if (!held.ok) throw new Error("expected the lock");
  return held.token;
}

describe("watchForCancel", () => {
  it("resolves on a cancel pushed from another client, having read the flag only once", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const token = await heldLock(redis, sessionId);
    const counter = countingGets(redis);
    const stop = new AbortController();
    let canceled = false;
    const watch = watchForCancel(counter.redis, { sessionId, token, signal: stop.signal }).then(() => {
      canceled = true;
    });
    await untilSubscribed(cancelChannel(sessionId));
    await vi.waitFor(() => expect(counter.gets).toBe(1));
    expect(canceled).toBe(false);

    expect(await requestCancel(redisClient(), sessionId)).toBe(true);
    await watch;
    expect({ subscribes: counter.subscribes, gets: counter.gets }).toEqual({ subscribes: 1, gets: 1 });
    await untilSubscribed(cancelChannel(sessionId), 0);
    stop.abort();
  });

  it("sees a cancel requested before it subscribed, on its one read after the confirmation", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const token = await heldLock(redis, sessionId);
    await requestCancel(redis, sessionId);
    const counter = countingGets(redis);
    // No safety recheck within the test: only the read after the confirmation can see it.
    await watchForCancel(counter.redis, { sessionId, token, recheckIntervalMs: 60_000, signal: new AbortController().signal });
    expect(counter.gets).toBe(1);
    await untilSubscribed(cancelChannel(sessionId), 0);
  });

  it("still counts a cancel published while the subscription was not confirmed yet", async () => {
    const redis = redisClient(inject("lateSubscribeUpstashUrl"));
    const sessionId = crypto.randomUUID();
    const token = await heldLock(redis, sessionId);
    const stop = new AbortController();
    const watch = watchForCancel(redis, { sessionId, token, recheckIntervalMs: 60_000, signal: stop.signal });
    // The shim holds the SUBSCRIBE back for 600 ms: this publish reaches nobody.
    expect(await subscribers(cancelChannel(sessionId))).toBe(0);
    await requestCancel(redisClient(), sessionId);
    expect(await subscribers(cancelChannel(sessionId))).toBe(0);
    await expect(watch).resolves.toBeUndefined();
    stop.abort();
  });

  it("ignores a cancel aimed at another token, pushed or stored", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    await redis.set(cancelKey(sessionId), crypto.randomUUID(), { px: TTL_MS });
    const stop = new AbortController();
    const watch = watchForCancel(redis, { sessionId, token: crypto.randomUUID(), signal: stop.signal });
    await untilSubscribed(cancelChannel(sessionId));
    expect(await redis.publish(cancelChannel(sessionId), crypto.randomUUID())).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    stop.abort("turn over");
    await expect(watch).rejects.toBe("turn over");
  });

  it("rejects with the abort reason, ends its subscription and reads no more once the signal aborts", async () => {
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const counter = countingGets(redis);
    const stop = new AbortController();
    const watch = watchForCancel(counter.redis, { sessionId, token: crypto.randomUUID(), recheckIntervalMs: 50, signal: stop.signal });
    await untilSubscribed(cancelChannel(sessionId));
    await vi.waitFor(() => expect(counter.gets).toBeGreaterThanOrEqual(2));
    const reason = new Error("turn ended");
    stop.abort(reason);
    await expect(watch).rejects.toBe(reason);
    const getsAtAbort = counter.gets;
    // The streamed request is really closed: the shim's Redis connection unsubscribes.
    await untilSubscribed(cancelChannel(sessionId), 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(counter.gets).toBe(getsAtAbort);
  });

  it("rejects at once, without subscribing or reading, when the signal is already aborted", async () => {
    const counter = countingGets(redisClient());
    const reason = new Error("already over");
    await expect(
      watchForCancel(counter.redis, { sessionId: crypto.randomUUID(), token: "t", signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect({ subscribes: counter.subscribes, gets: counter.gets }).toEqual({ subscribes: 0, gets: 0 });
  });

  it("refuses non-positive intervals before touching Redis", () => {
    const counter = countingGets(redisClient());
    const options = { sessionId: crypto.randomUUID(), token: "t", signal: new AbortController().signal };
    for (const bad of [{ intervalMs: 0 }, { confirmTimeoutMs: -1 }, { recheckIntervalMs: Number.NaN }]) {
      expect(() => watchForCancel(counter.redis, { ...options, ...bad })).toThrow(RangeError);
    }
    expect(counter.subscribes).toBe(0);
  });

  it("falls back to reading the flag when the subscription is refused, and says so once", async () => {
    const warnings = captureWarnings();
    const redis = redisClient();
    const sessionId = crypto.randomUUID();
    const token = await heldLock(redis, sessionId);
    const refused = redisClient(inject("upstashUrl"), "not-the-token");
    const counter = countingGets({ get: redis.get, subscribe: refused.subscribe });
    const watch = watchForCancel(counter.redis, { sessionId, token, intervalMs: 50, signal: new AbortController().signal });
    await vi.waitFor(() => expect(counter.gets).toBeGreaterThanOrEqual(3));
    await requestCancel(redis, sessionId);
    await expect(watch).resolves.toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/subscription failed.*Unauthorized.*every 50 ms/)]);
    expect(warnings[0]).not.toContain(inject("upstashToken"));
  });

  it("falls back to reading the flag when the subscription is not confirmed in time, and keeps reading through failures", async () => {
    const warnings = captureWarnings();
    const redis = redisClient(inject("cutSubscribeUpstashUrl"));
    const sessionId = crypto.randomUUID();
    const token = await heldLock(redis, sessionId);
    const counter = countingGets(redis, { failFirst: 3 });
    const watch = watchForCancel(counter.redis, { sessionId, token, intervalMs: 50, confirmTimeoutMs: 200, signal: new AbortController().signal });
    await vi.waitFor(() => expect(counter.gets).toBeGreaterThan(3));
    await requestCancel(redis, sessionId);
    await expect(watch).resolves.toBeUndefined();
    expect(warnings).toEqual([
      expect.stringMatching(/not confirmed within 200 ms; reading the flag every 50 ms/),
      expect.stringMatching(/reading the flag failed/),
      expect.stringMatching(/reachable again/),
    ]);
  });
});

function sendMessage(session: TestSession, text: string, url = inject("upstashUrl")) {
  return post(`/v1/widget/session/${session.sessionId}/message`, {
    token: session.token,
    json: { id: crypto.randomUUID(), text },
    env: { UPSTASH_REDIS_REST_URL: url },
  });
}

function cancel(session: TestSession, url = inject("upstashUrl")) {
  return post(`/v1/widget/session/${session.sessionId}/cancel`, { token: session.token, env: { UPSTASH_REDIS_REST_URL: url } });
}

/** Sends a cancel while the turn streams and reads the turn to its end. */
async function cancelMidTurn(session: TestSession, reader: StreamReader, url?: string) {
  const sent = await cancel(session, url);
  expect(sent.res.status).toBe(202);
  expect(await sent.res.json()).toEqual({ sessionId: session.sessionId, turnInFlight: true });
  await sent.settled();
  return reader.toEnd();
}

async function expectStoredCanceled(session: TestSession, streamed: string) {
  const [, reply] = await storedMessages(session.sessionId);
  expect(reply).toMatchObject({ role: "assistant", text: streamed });
  expect((reply!.metadata as Partial<MessageMetadata>).status).toBe("canceled");
}

describe("a cancel during a turn", () => {
  it("stops the streaming turn, which is stored canceled, and leaves no subscription behind", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, LONG_REPLY);
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);
    expect(await reader.until((chunks) => textDeltas(chunks) >= 5)).toBe(true);
    await untilSubscribed(cancelChannel(session.sessionId));

    const chunks = await cancelMidTurn(session, reader);
    await turn.settled();
    expect(reader.sawDone).toBe(true);
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "canceled", assistantIdx: 1 } });
    const streamed = textOf(chunks);
    expect(streamed.startsWith(DEV_MODEL_PREFIX)).toBe(true);
    expect(streamed.split(" ").length).toBeLessThan(1_004);
    await expectStoredCanceled(session, streamed);
    // The turn's streamed subscribe request was closed, not just abandoned.
    await untilSubscribed(cancelChannel(session.sessionId), 0);
  });

  it("counts when it is sent before the turn's subscription is confirmed", async () => {
    const url = inject("lateSubscribeUpstashUrl");
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, LONG_REPLY, url);
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);
    expect(await reader.until((chunks) => chunks.length > 0)).toBe(true);

    // The shim subscribes 600 ms late: the cancel's publish reaches nobody; the flag stays.
    const chunks = await cancelMidTurn(session, reader, url);
    await turn.settled();
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "canceled" } });
    await expectStoredCanceled(session, textOf(chunks));
  });

  it("stops the turn through the fallback when the subscription is cut at once", async () => {
    const warnings = captureWarnings();
    const url = inject("cutSubscribeUpstashUrl");
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, LONG_REPLY, url);
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);
    expect(await reader.until((chunks) => textDeltas(chunks) >= 5)).toBe(true);

    const chunks = await cancelMidTurn(session, reader, url);
    await turn.settled();
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "canceled" } });
    await expectStoredCanceled(session, textOf(chunks));
    expect(warnings.filter((warning) => warning.includes("cancel watch"))).toEqual([
      expect.stringMatching(/not confirmed within 1000 ms; reading the flag every 500 ms/),
    ]);
  });

  it("aimed at another turn's token does nothing to this one", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "/words 300");
    const reader = new StreamReader(turn.res);
    await untilSubscribed(cancelChannel(session.sessionId));
    const redis = redisClient();
    const stale = crypto.randomUUID();
    await redis.set(cancelKey(session.sessionId), stale, { px: TTL_MS });
    // Received by the turn's subscription, which must see it is not its token.
    expect(await redis.publish(cancelChannel(session.sessionId), stale)).toBe(1);

    const chunks = await reader.toEnd();
    await turn.settled();
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "completed" } });
    expect(dataOf(chunks, "error")).toEqual([]);
    const [, reply] = await storedMessages(session.sessionId);
    expect((reply!.metadata as Partial<MessageMetadata>).status).toBe("complete");
  });
});

describe("Redis requests while a reply streams", () => {
  it("are at most 3 for a ~5 s reply: the subscribe and one read, no polling", async () => {
    const url = inject("quietUpstashUrl");
    const requests = async () => ((await (await fetch(`${url}/__stats`)).json()) as { requests: number; byPath: Record<string, number> });
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "/words 1000", url); // 1000 words × 5 ms
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);

    expect(await reader.until((chunks) => textDeltas(chunks) >= 1)).toBe(true);
    const atFirstToken = await requests();
    expect(await reader.until((chunks) => chunks.some((chunk) => chunk.type === "text-end"))).toBe(true);
    const atLastToken = await requests();
    await reader.toEnd();
    await turn.settled();

    expect(textOf(reader.chunks).split(" ")).toHaveLength(1_004);
    // The reply's resume buffer writes (`/multi-exec`, src/turn/resume-buffer.ts) are not the cancel watch's.
    const bufferWrites = (atLastToken.byPath["/multi-exec"] ?? 0) - (atFirstToken.byPath["/multi-exec"] ?? 0);
    expect(bufferWrites).toBeGreaterThan(0);
    expect(atLastToken.requests - atFirstToken.requests - bufferWrites).toBeLessThanOrEqual(3);
    expect(atLastToken.byPath[`/subscribe/${cancelChannel(session.sessionId)}`]).toBe(1);
  });
});
