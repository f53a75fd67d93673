import { createHash, randomUUID } from "node:crypto";
import { createServer, Socket, type Server } from "node:net";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis, type RedisConfigNodejs } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { RunningShim } from "../../dev/shim-server";
import { startUpstashShim, type RunningUpstashShim } from "../../dev/upstash-shim";

const redisUrl = inject("redisUrl");
const token = "upstash-shim-test-token";

let shim: RunningUpstashShim;
let direct: IORedis;

beforeAll(async () => {
  shim = await startUpstashShim({ redisUrl, token });
  direct = new IORedis(redisUrl);
});

afterAll(async () => {
  await shim?.close();
  direct?.disconnect();
});

type ClientOptions = Omit<RedisConfigNodejs, "url" | "token">;

function client(options: ClientOptions = {}, target: RunningShim = shim): Redis {
  // retry: false so a failing shim fails the test in milliseconds instead of ~4 s of backoff.
  return new Redis({ url: target.url, token, retry: false, enableTelemetry: false, ...options });
}

const key = () => `upstash-shim-test:${randomUUID()}`;
const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

describe.each([
  { name: "base64, one request per command", options: { enableAutoPipelining: false } },
  { name: "base64, auto-pipelined", options: { enableAutoPipelining: true } },
  { name: "plain encoding", options: { responseEncoding: false, enableAutoPipelining: false } },
] satisfies { name: string; options: ClientOptions }[])("values through the client ($name)", ({ options }) => {
  it("returns strings exactly, including ones that are valid base64", async () => {
    const redis = client({ ...options, automaticDeserialization: false });
    const values = ["abcd", "10", "T0s=", "OK", "PONG", "", "null", "true", "é€🌍 \u0000\t\n\"\\"];
    const keys = values.map(key);
    for (const [i, value] of values.entries()) await redis.set(keys[i]!, value);
    for (const [i, value] of values.entries()) expect(await redis.get(keys[i]!)).toBe(value);
    expect(await redis.get(key())).toBeNull();
  });

  it("returns JSON values parsed", async () => {
    const redis = client(options);
    const k = key();
    const value = { text: "abcd", count: 10, nested: [null, true, "é🌍"] };
    await redis.set(k, value);
    expect(await redis.get(k)).toEqual(value);
    await redis.set(k, 10);
    expect(await redis.get(k)).toBe(10);
  });

  it("keeps integer replies as numbers", async () => {
    const redis = client(options);
    const k = key();
    expect(await redis.incr(k)).toBe(1);
    expect(await redis.incrby(k, 9)).toBe(10);
    expect(await redis.expire(k, 60)).toBe(1);
    expect(await redis.ttl(k)).toBeGreaterThan(50);
    expect(await redis.type(k)).toBe("string");
    expect(await redis.ping()).toBe("PONG");
  });

  it("answers HGETALL as a flat array the client turns into an object", async () => {
    const redis = client(options);
    const k = key();
    await redis.hset(k, { text: "abcd", count: 10, nested: { ok: true } });
    expect(await redis.hgetall(k)).toEqual({ text: "abcd", count: 10, nested: { ok: true } });
  });

  it("answers ZRANGE WITHSCORES as member, score pairs", async () => {
    const redis = client(options);
    const k = key();
    await redis.zadd(k, { score: 2.5, member: "b" }, { score: 1, member: "abcd" });
    expect(await redis.zrange(k, 0, -1, { withScores: true })).toEqual(["abcd", 1, "b", 2.5]);
  });
});

describe("protocol", () => {
  it("stores the UTF-8 bytes of what the client sent, in the URL's database", async () => {
    const k = key();
    await client({ enableAutoPipelining: false }).set(k, "é🌍abcd");
    // `direct` connects with the same URL: a shim that ignored the database index would miss here.
    expect(await direct.getBuffer(k)).toEqual(Buffer.from("é🌍abcd"));
  });

  it("sends the calls of one tick as one /pipeline request", async () => {
    const redis = client({ enableAutoPipelining: true });
    const [a, b, c] = [key(), key(), key()];
    shim.resetStats();
    await Promise.all([redis.set(a, "abcd"), redis.set(b, 10), redis.set(c, { x: 1 })]);
    expect(await Promise.all([redis.get(a), redis.get(b), redis.get(c)])).toEqual(["abcd", 10, { x: 1 }]);
    expect(shim.stats()).toEqual({ requests: 2, byPath: { "/pipeline": 2 } });
  });

  it("reports a failing command inside a pipeline without failing the others", async () => {
    const redis = client();
    const k = key();
    const pipeline = () => redis.pipeline().set(k, "abcd").incr(k).get(k);
    const results = await pipeline().exec({ keepErrors: true });
    expect(results.map((entry) => entry.result)).toEqual(["OK", undefined, "abcd"]);
    expect(results.map((entry) => entry.error)).toEqual([undefined, expect.stringMatching(/not an integer/), undefined]);
    await expect(pipeline().exec()).rejects.toThrow(/Command 2 \[ incr \] failed/);
  });

  it("answers a Redis error on / with 400 and the Redis message", async () => {
    const k = key();
    await client({ enableAutoPipelining: false }).set(k, "abcd");
    await expect(client({ enableAutoPipelining: false }).incr(k)).rejects.toThrow(/ERR value is not an integer/);
    const res = await fetch(shim.url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify(["INCR", k]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: expect.stringMatching(/^ERR value is not an integer/) });
  });

  it("refuses a missing or wrong bearer token with 401", async () => {
    for (const authorization of [undefined, "Bearer wrong", token]) {
      const res = await fetch(shim.url, {
        method: "POST",
        headers: authorization ? { authorization } : {},
        body: JSON.stringify(["PING"]),
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: expect.any(String) });
    }
    await expect(new Redis({ url: shim.url, token: "wrong", retry: false }).get(key())).rejects.toThrow(/Unauthorized/);
  });

  it("answers /healthz and /__stats", async () => {
    const health = await fetch(`${shim.url}/healthz`);
    expect(health.status).toBe(200);
    const stats = await fetch(`${shim.url}/__stats`);
    expect(await stats.json()).toEqual({ requests: expect.any(Number), byPath: expect.any(Object) });
  });

  it("delays each request by the configured latency", async () => {
    const slow = await startUpstashShim({ redisUrl, token, latencyMs: 150 });
    try {
      const redis = client({ enableAutoPipelining: false }, slow);
      const started = performance.now();
      await redis.get(key());
      expect(performance.now() - started).toBeGreaterThanOrEqual(150);
      slow.setLatency(0);
      const again = performance.now();
      await redis.get(key());
      expect(performance.now() - again).toBeLessThan(150);
    } finally {
      await slow.close();
    }
  });
});

describe("multi-exec", () => {
  it("runs concurrent transactions without interleaving them", async () => {
    const redis = client();
    const k = key();
    const batches = await Promise.all(
      Array.from({ length: 20 }, () => redis.multi().incr(k).incr(k).incr(k).exec()),
    );
    for (const [first, second, third] of batches) expect([second, third]).toEqual([first + 1, first + 2]);
    expect(batches.map(([first]) => first).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => 3 * i + 1));
    expect(await redis.get(k)).toBe(60);
  });

  it("reports a command failing at run time and keeps the others' effects, as Redis does", async () => {
    const redis = client();
    const [k, after] = [key(), key()];
    const results = await redis.multi().set(k, "abcd").incr(k).set(after, "done").exec({ keepErrors: true });
    expect(results.map((entry) => entry.error)).toEqual([undefined, expect.stringMatching(/not an integer/), undefined]);
    expect(await redis.get(after)).toBe("done");
  });

  it("discards the whole transaction when a command is rejected while queueing", async () => {
    const redis = client();
    const [k, invalid] = [key(), key()];
    await expect(redis.multi().set(k, "abcd").hset(invalid, {}).exec()).rejects.toThrow(/EXECABORT.*wrong number of arguments/);
    expect(await redis.get(k)).toBeNull();
  });
});

describe("scripts", () => {
  it("falls back from EVALSHA to EVAL for a new script, then hits the cache", async () => {
    const redis = client({ enableAutoPipelining: false });
    const script = redis.createScript<[string, string, number]>(`return {KEYS[1], ARGV[1], 7} -- ${randomUUID()}`);
    const k = key();
    shim.resetStats();
    expect(await script.exec([k], ["abcd"])).toEqual([k, "abcd", 7]);
    expect(shim.stats().requests).toBe(2);
    expect(await script.exec([k], ["10"])).toEqual([k, 10, 7]);
    expect(shim.stats().requests).toBe(3);
  });

  it("runs scripts with the Upstash-only shebang flag and maps the client's hash", async () => {
    const redis = client({ enableAutoPipelining: false });
    const text = `#!lua flags=allow-key-locking\nreturn redis.call("INCR", KEYS[1]) -- ${randomUUID()}`;
    const script = redis.createScript<number>(text);
    const k = key();
    shim.resetStats();
    expect(await script.exec([k], [])).toBe(1);
    expect(await script.exec([k], [])).toBe(2);
    expect(shim.stats().requests).toBe(3);
  });

  it("answers SCRIPT LOAD with the hash of the text the client sent", async () => {
    const redis = client({ enableAutoPipelining: false });
    const text = `#!lua flags=allow-key-locking\nreturn ARGV[1] -- ${randomUUID()}`;
    expect(await redis.scriptLoad(text)).toBe(sha1(text));
    expect(await redis.evalsha(sha1(text), [], ["abcd"])).toBe("abcd");
    expect(await redis.scriptExists(sha1(text), sha1(`${text} unknown`))).toEqual([1, 0]);
  });

  it("keeps other shebang flags, so a no-writes script runs read-only", async () => {
    const redis = client({ enableAutoPipelining: false });
    const k = key();
    await redis.set(k, "abcd");
    const text = `#!lua flags=no-writes,allow-key-locking\nreturn redis.call("GET", KEYS[1])`;
    expect(await redis.evalRo(text, [k], [])).toBe("abcd");
    await expect(redis.evalRo(`#!lua flags=no-writes,allow-key-locking\nreturn redis.call("SET", KEYS[1], "x")`, [k], [])).rejects.toThrow(
      /Write commands are not allowed/,
    );
  });

  it("keeps line numbers when it strips the shebang", async () => {
    const redis = client({ enableAutoPipelining: false });
    const text = `#!lua flags=allow-key-locking\nlocal a = 1\nreturn missing_global.field`;
    await expect(redis.eval(text, [], [])).rejects.toThrow(/user_script:3:/);
  });

  it("answers NOSCRIPT for an unknown hash", async () => {
    const redis = client({ enableAutoPipelining: false });
    await expect(redis.evalsha(sha1(randomUUID()), [], [])).rejects.toThrow(/NOSCRIPT/);
  });
});

describe("@upstash/ratelimit", () => {
  it.each([
    { name: "fixedWindow", limiter: Ratelimit.fixedWindow(3, "1 m") },
    { name: "slidingWindow", limiter: Ratelimit.slidingWindow(3, "1 m") },
  ])("$name allows exactly the limit, then refuses", async ({ limiter }) => {
    const ratelimit = new Ratelimit({ redis: client(), limiter, prefix: key(), ephemeralCache: false, analytics: false });
    const outcomes = [];
    for (let i = 0; i < 5; i += 1) {
      const response = await ratelimit.limit("visitor");
      await response.pending;
      outcomes.push({ success: response.success, remaining: response.remaining, reason: response.reason });
    }
    expect(outcomes).toEqual([
      { success: true, remaining: 2, reason: undefined },
      { success: true, remaining: 1, reason: undefined },
      { success: true, remaining: 0, reason: undefined },
      { success: false, remaining: 0, reason: undefined },
      { success: false, remaining: 0, reason: undefined },
    ]);
  });
});

describe("subscribe", () => {
  type Subscription = ReturnType<Redis["subscribe"]>;

  const channel = () => `upstash-shim-test-channel:${randomUUID()}`;
  const subscribers = async (name: string) => (await direct.pubsub("NUMSUB", name))[1];

  /** Resolves with the next `type` event's data; rejects on an `error` event or after `timeoutMs`. */
  function nextEvent<T extends "subscribe" | "psubscribe" | "message" | "pmessage">(
    subscription: Subscription,
    type: T,
    timeoutMs = 2_000,
  ): Promise<Parameters<Parameters<Subscription["on"]>[1]>[0]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} event within ${timeoutMs} ms`)), timeoutMs);
      subscription.on(type, (data) => {
        clearTimeout(timer);
        resolve(data);
      });
      subscription.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  it("confirms with a subscribe event counting this connection's channels, and counts in /__stats", async () => {
    const name = channel();
    shim.resetStats();
    const subscription = client().subscribe(name);
    try {
      expect(await nextEvent(subscription, "subscribe")).toBe(1);
      expect(await subscribers(name)).toBe(1);
      expect(shim.stats()).toEqual({ requests: 1, byPath: { [`/subscribe/${name}`]: 1 } });
    } finally {
      await subscription.unsubscribe();
    }
  });

  it("relays what another client publishes, as published: base64-looking text stays text, JSON is parsed", async () => {
    const name = channel();
    const subscription = client().subscribe(name);
    const received: unknown[] = [];
    subscription.on("message", ({ channel: from, message }) => received.push([from, message]));
    try {
      await nextEvent(subscription, "subscribe");
      const publisher = client({ enableAutoPipelining: false });
      // The shim relays raw payloads although every request says `Upstash-Encoding: base64`.
      const values = ["abcd", "T0s=", "é🌍 ok", { text: "abcd", count: 10, nested: [null, true] }];
      for (const value of values) expect(await publisher.publish(name, value)).toBe(1);
      await direct.publish(name, "from another connection, with, commas");
      await vi.waitFor(() => expect(received).toHaveLength(values.length + 1), { timeout: 2_000, interval: 20 });
      expect(received).toEqual([...values, "from another connection, with, commas"].map((value) => [name, value]));
    } finally {
      await subscription.unsubscribe();
    }
  });

  it("hands payloads over unparsed to a client without automatic deserialization", async () => {
    const name = channel();
    const subscription = client({ automaticDeserialization: false }).subscribe(name);
    const received: unknown[] = [];
    subscription.on("message", ({ message }) => received.push(message));
    try {
      await nextEvent(subscription, "subscribe");
      for (const value of ["10", "abcd", '{"a":1}']) await direct.publish(name, value);
      await vi.waitFor(() => expect(received).toEqual(["10", "abcd", '{"a":1}']), { timeout: 2_000, interval: 20 });
    } finally {
      await subscription.unsubscribe();
    }
  });

  it("relays pattern subscriptions as pmessage events", async () => {
    const prefix = channel();
    const subscription = client().psubscribe(`${prefix}:*`);
    try {
      expect(await nextEvent(subscription, "psubscribe")).toBe(1);
      const message = nextEvent(subscription, "pmessage");
      // The client JSON-parses pattern messages without a fallback to text, so this one is JSON.
      await direct.publish(`${prefix}:a`, JSON.stringify({ text: "abcd" }));
      expect(await message).toEqual({ pattern: `${prefix}:*`, channel: `${prefix}:a`, message: { text: "abcd" } });
    } finally {
      await subscription.unsubscribe();
    }
  });

  it("unsubscribes and closes the subscriber's Redis connection when the client unsubscribes", async () => {
    const name = channel();
    // Earlier tests' connections close asynchronously after their unsubscribe.
    await vi.waitFor(() => expect(shim.openSubscriptions()).toBe(0), { timeout: 2_000, interval: 20 });
    const subscription = client().subscribe(name);
    await nextEvent(subscription, "subscribe");
    expect(shim.openSubscriptions()).toBe(1);
    await subscription.unsubscribe();
    await vi.waitFor(async () => expect(await subscribers(name)).toBe(0), { timeout: 2_000, interval: 20 });
    await vi.waitFor(() => expect(shim.openSubscriptions()).toBe(0), { timeout: 2_000, interval: 20 });
  });

  it("refuses a missing or wrong bearer token with 401, which the client reports as an error event", async () => {
    const name = channel();
    for (const authorization of [undefined, "Bearer wrong"]) {
      const res = await fetch(`${shim.url}/subscribe/${name}`, {
        method: "POST",
        headers: { accept: "text/event-stream", ...(authorization ? { authorization } : {}) },
        body: "[]",
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: expect.any(String) });
    }
    const subscription = new Redis({ url: shim.url, token: "wrong", retry: false }).subscribe(name);
    await expect(nextEvent(subscription, "subscribe")).rejects.toThrow(/Unauthorized/);
    expect(await subscribers(name)).toBe(0);
  });

  it("with subscribeDelayMs, loses what is published before it confirms, like a slow subscribe", async () => {
    const late = await startUpstashShim({ redisUrl, token, subscribeDelayMs: 300 });
    const name = channel();
    const subscription = client({}, late).subscribe(name);
    const received: unknown[] = [];
    subscription.on("message", ({ message }) => received.push(message));
    try {
      const confirmed = nextEvent(subscription, "subscribe");
      await vi.waitFor(() => expect(late.stats().requests).toBe(1), { timeout: 2_000, interval: 10 });
      expect(await direct.publish(name, "too early")).toBe(0);
      await confirmed;
      await direct.publish(name, "in time");
      await vi.waitFor(() => expect(received).toEqual(["in time"]), { timeout: 2_000, interval: 20 });
    } finally {
      await subscription.unsubscribe();
      await late.close();
    }
  });

  it("with hangUpSubscriptions, answers 200 and ends the stream without confirming", async () => {
    const cut = await startUpstashShim({ redisUrl, token, hangUpSubscriptions: true });
    try {
      const res = await fetch(`${cut.url}/subscribe/${channel()}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
        body: "[]",
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream");
      expect(await res.text()).toBe("");
      expect(cut.openSubscriptions()).toBe(0);
    } finally {
      await cut.close();
    }
  });

  it("ends open streams and their Redis connections when the shim stops", async () => {
    const own = await startUpstashShim({ redisUrl, token });
    const name = channel();
    const res = await fetch(`${own.url}/subscribe/${name}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
      body: "[]",
    });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(`data: subscribe,${name},1\n\n`);
    await own.close();
    await expect(drain(reader)).rejects.toThrow();
    await vi.waitFor(async () => expect(await subscribers(name)).toBe(0), { timeout: 2_000, interval: 20 });
    expect(own.openSubscriptions()).toBe(0);
  });
});

/** Reads a stream to its end. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  while (!(await reader.read()).done);
}

describe("Redis outages", () => {
  it("refuses to start when Redis cannot be reached", async () => {
    const port = await freePort();
    await expect(startUpstashShim({ redisUrl: `redis://127.0.0.1:${port}`, token })).rejects.toThrow(/cannot reach Redis/);
  });

  it("answers 503 while Redis is down and recovers when it is back", async () => {
    const proxy = await startTcpProxy(new URL(redisUrl));
    const flaky = await startUpstashShim({ redisUrl: `redis://127.0.0.1:${proxy.port}${new URL(redisUrl).pathname}`, token });
    try {
      const redis = client({ enableAutoPipelining: false }, flaky);
      const k = key();
      await redis.set(k, "abcd");

      await proxy.stop();
      await expect(redis.get(k)).rejects.toThrow(/Redis unavailable/);
      const res = await fetch(flaky.url, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: '["GET","x"]' });
      expect(res.status).toBe(503);

      await proxy.start();
      await vi.waitFor(async () => expect(await redis.get(k)).toBe("abcd"), { timeout: 5_000, interval: 50 });
    } finally {
      await flaky.close();
      await proxy.stop();
    }
  });
});

/** A TCP relay to Redis that can drop every connection and stop listening, like a restart. */
async function startTcpProxy(target: URL): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server: Server = createServer((downstream) => {
    const upstream = new Socket();
    track(downstream);
    track(upstream);
    upstream.connect(Number(target.port || 6379), target.hostname);
    downstream.pipe(upstream).pipe(downstream);
  });
  const start = () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await start();
  return { port, start, stop };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
