import { Redis } from "@upstash/redis/cloudflare";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { ApiError } from "../../src/errors";
import {
  AGGREGATE_LIMIT_FACTOR,
  countRateLimit,
  judgeRateLimit,
  clientIpKey,
  rateLimitError,
  UNKNOWN_IP_KEY,
  type RateLimitBucket,
  type RateLimitOutcome,
} from "../../src/limits";
import { acquireLock } from "../../src/lock";
import { createRedisBatch } from "../../src/redis-batch";
import { createRedis } from "../../src/redis";

const HOUR_S = 3_600;

function redisClient(): Redis {
  return createRedis({ redisUrl: inject("upstashUrl"), redisToken: inject("upstashToken") });
}

function requestFrom(ip?: string): Request {
  return new Request("http://parley.test/v1/widget/session", { headers: ip === undefined ? {} : { "CF-Connecting-IP": ip } });
}

/** Runs `count` checks one after the other, as separate requests would. */
/** Counts and judges one request, as the gates do (they split the two around the wave). */
async function checkRateLimit(redis: Parameters<typeof countRateLimit>[0], { perIpLimit, ...options }: Parameters<typeof countRateLimit>[1] & { perIpLimit: number }) {
  return judgeRateLimit(redis, await countRateLimit(redis, options), perIpLimit);
}

async function checks(
  redis: Redis,
  count: number,
  options: { bucket?: RateLimitBucket; widgetKey: string; ipKey: string; perIpLimit: number },
): Promise<RateLimitOutcome[]> {
  const outcomes: RateLimitOutcome[] = [];
  for (let i = 0; i < count; i++) outcomes.push(await checkRateLimit(redis, { bucket: "message", ...options }));
  return outcomes;
}

const allowed = (outcomes: RateLimitOutcome[]) => outcomes.filter((outcome) => outcome.ok).length;

async function shimStats(): Promise<{ requests: number; byPath: Record<string, number> }> {
  const res = await fetch(`${inject("upstashUrl")}/__stats`);
  return res.json();
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("countRateLimit + judgeRateLimit", () => {
  it("allows exactly the per-IP limit, then refuses with a Retry-After inside the window", async () => {
    const redis = redisClient();
    const widgetId = crypto.randomUUID();
    const outcomes = await checks(redis, 5, { widgetKey: widgetId, ipKey: "203.0.113.7", perIpLimit: 3 });
    expect(outcomes.slice(0, 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    for (const outcome of outcomes.slice(3)) {
      expect(outcome).toMatchObject({ ok: false, reason: "limited" });
      if (outcome.ok || outcome.reason !== "limited") throw new Error("expected a refusal");
      expect(Number.isInteger(outcome.retryAfterSeconds)).toBe(true);
      expect(outcome.retryAfterSeconds).toBeGreaterThan(0);
      expect(outcome.retryAfterSeconds).toBeLessThanOrEqual(HOUR_S);
    }
  });

  it("counts client IPs, widgets and buckets separately", async () => {
    const redis = redisClient();
    const widgetId = crypto.randomUUID();
    expect(allowed(await checks(redis, 3, { widgetKey: widgetId, ipKey: "203.0.113.7", perIpLimit: 2 }))).toBe(2);
    expect(allowed(await checks(redis, 3, { widgetKey: widgetId, ipKey: "203.0.113.8", perIpLimit: 2 }))).toBe(2);
    expect(allowed(await checks(redis, 3, { widgetKey: crypto.randomUUID(), ipKey: "203.0.113.7", perIpLimit: 2 }))).toBe(2);
    expect(allowed(await checks(redis, 3, { bucket: "session_create", widgetKey: widgetId, ipKey: "203.0.113.7", perIpLimit: 2 }))).toBe(2);
  });

  it(`caps a widget at ${AGGREGATE_LIMIT_FACTOR} × the per-IP limit across IPs`, async () => {
    const redis = redisClient();
    const widgetId = crypto.randomUUID();
    const outcomes: RateLimitOutcome[] = [];
    for (let i = 1; i <= 21; i++) outcomes.push(await checkRateLimit(redis, { bucket: "message", widgetKey: widgetId, ipKey: `198.51.100.${i}`, perIpLimit: 1 }));
    expect(allowed(outcomes.slice(0, 20))).toBe(20);
    expect(outcomes[20]).toMatchObject({ ok: false, reason: "limited" });
    // The cap is per bucket: session creation still has its whole budget.
    expect(await checkRateLimit(redis, { bucket: "session_create", widgetKey: widgetId, ipKey: "198.51.100.99", perIpLimit: 1 })).toEqual({ ok: true });
  });

  it("does not let one client's refused requests use up the widget-wide cap", async () => {
    const redis = redisClient();
    const widgetId = crypto.randomUUID();
    // 1 allowed + 9 refused by the per-IP limit; only the allowed one counts widget-wide.
    expect(allowed(await checks(redis, 10, { widgetKey: widgetId, ipKey: "192.0.2.1", perIpLimit: 1 }))).toBe(1);
    const others: RateLimitOutcome[] = [];
    for (let i = 2; i <= 21; i++) others.push(await checkRateLimit(redis, { bucket: "message", widgetKey: widgetId, ipKey: `192.0.2.${i}`, perIpLimit: 1 }));
    expect(allowed(others.slice(0, 19))).toBe(19);
    expect(others[19]).toMatchObject({ ok: false, reason: "limited" });
  });

  it("never refuses with a limit of 0", async () => {
    const redis = redisClient();
    const outcomes = await checks(redis, 30, { widgetKey: crypto.randomUUID(), ipKey: "203.0.113.7", perIpLimit: 0 });
    expect(allowed(outcomes)).toBe(30);
  });

  it("rejects a negative or fractional limit", async () => {
    const redis = redisClient();
    for (const perIpLimit of [-1, 1.5, Number.NaN]) {
      await expect(checkRateLimit(redis, { bucket: "message", widgetKey: "w", ipKey: "k", perIpLimit })).rejects.toThrow(RangeError);
    }
  });

  it("shares one bucket within an IPv6 /64 and not across /64s", async () => {
    const redis = redisClient();
    const widgetId = crypto.randomUUID();
    const check = (ip: string) => checkRateLimit(redis, { bucket: "message", widgetKey: widgetId, ipKey: clientIpKey(requestFrom(ip)), perIpLimit: 1 });
    expect(await check("2001:db8:aa:1::1")).toEqual({ ok: true });
    expect(await check("2001:DB8:AA:1:ffff:ffff:ffff:fffe")).toMatchObject({ ok: false, reason: "limited" });
    expect(await check("2001:db8:aa:2::1")).toEqual({ ok: true });
  });

  it("sends both limiters as one Upstash request", async () => {
    const redis = redisClient();
    const widgetId = crypto.randomUUID();
    const options = { bucket: "message" as const, widgetKey: widgetId, ipKey: "203.0.113.7", perIpLimit: 100 };
    // The first call loads the scripts (EVALSHA → NOSCRIPT → EVAL); measure a warm one.
    expect(await checkRateLimit(redis, options)).toEqual({ ok: true });

    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const before = await shimStats();
    fetchSpy.mockClear();
    expect(await checkRateLimit(redis, options)).toEqual({ ok: true });
    expect(fetchSpy).toHaveBeenCalledTimes(1);
    const [url, init] = fetchSpy.mock.calls[0]!;
    expect(String(url)).toBe(`${inject("upstashUrl")}/pipeline`);
    const commands = JSON.parse(String(init?.body)) as string[][];
    expect(commands.map(([name]) => name)).toEqual(["evalsha", "evalsha"]);

    // The shim's counters agree, unless another test file used the shim in between.
    fetchSpy.mockRestore();
    const after = await shimStats();
    expect(after.requests - before.requests).toBeGreaterThanOrEqual(1);
    expect((after.byPath["/pipeline"] ?? 0) - (before.byPath["/pipeline"] ?? 0)).toBeGreaterThanOrEqual(1);
  });

  it("shares one Upstash request with the lock taken in the same tick, through a batch", async () => {
    const redis = redisClient();
    const options = { bucket: "message" as const, widgetKey: crypto.randomUUID(), ipKey: "203.0.113.7", perIpLimit: 100 };
    const warm = createRedisBatch(redis);
    await Promise.all([checkRateLimit(warm, options), acquireLock(warm, { sessionId: crypto.randomUUID(), ttlMs: 30_000 })]);
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const batch = createRedisBatch(redis);
    const [outcome, lock] = await Promise.all([
      checkRateLimit(batch, options),
      acquireLock(batch, { sessionId: crypto.randomUUID(), ttlMs: 30_000 }),
    ]);
    expect(outcome).toEqual({ ok: true });
    expect(lock.ok).toBe(true);
    expect(fetchSpy).toHaveBeenCalledTimes(1);
    const commands = JSON.parse(String(fetchSpy.mock.calls[0]![1]?.body)) as string[][];
    expect(commands.map(([name]) => name)).toEqual(["evalsha", "evalsha", "evalsha"]);
    fetchSpy.mockRestore();
  });

  it("is one shim request by the shim's own count", async () => {
    const redis = redisClient();
    const options = { bucket: "message" as const, widgetKey: crypto.randomUUID(), ipKey: "203.0.113.7", perIpLimit: 100 };
    await checkRateLimit(redis, options);
    // Other test files share the shim, so a delta can include their requests; a run of
    // exactly one proves the check fits in one request (two would never show as one).
    const deltas: number[] = [];
    for (let attempt = 0; attempt < 5 && !deltas.includes(1); attempt++) {
      const before = await shimStats();
      await checkRateLimit(redis, options);
      const after = await shimStats();
      // The `/__stats` GETs themselves are not counted.
      deltas.push(after.requests - before.requests);
    }
    expect(deltas).toContain(1);
  });

  it("fails closed, and fast, when Redis is unreachable", async () => {
    const redis = createRedis({ redisUrl: "http://127.0.0.1:9", redisToken: inject("upstashToken") });
    const started = Date.now();
    const outcome = await checkRateLimit(redis, { bucket: "message", widgetKey: crypto.randomUUID(), ipKey: "203.0.113.7", perIpLimit: 5 });
    expect(outcome).toMatchObject({ ok: false, reason: "unavailable" });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("fails closed when Redis is slower than the timeout (the library alone would let it through)", async () => {
    // The default client retries a refused connection for ~4 s; the check gives up first.
    const redis = new Redis({ url: "http://127.0.0.1:9", token: inject("upstashToken"), enableTelemetry: false });
    const started = Date.now();
    const outcome = await checkRateLimit(redis, {
      bucket: "message",
      widgetKey: crypto.randomUUID(),
      ipKey: "203.0.113.7",
      perIpLimit: 5,
      timeoutMs: 200,
    });
    expect(outcome).toMatchObject({ ok: false, reason: "unavailable" });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("answers a wrong token as unavailable", async () => {
    const redis = createRedis({ redisUrl: inject("upstashUrl"), redisToken: "wrong-token" });
    const outcome = await checkRateLimit(redis, { bucket: "message", widgetKey: crypto.randomUUID(), ipKey: "203.0.113.7", perIpLimit: 5 });
    expect(outcome).toMatchObject({ ok: false, reason: "unavailable" });
  });
});

describe("rateLimitError", () => {
  it("turns a refusal into 429 rate_limited with Retry-After", async () => {
    const error = rateLimitError({ ok: false, reason: "limited", retryAfterSeconds: 42 });
    expect(error).toBeInstanceOf(ApiError);
    const res = error.toResponse();
    expect(res.status).toBe(429);
    expect(res.headers.get("Retry-After")).toBe("42");
    expect(await res.json()).toEqual({
      error: { code: "rate_limited", message: expect.any(String), details: { retryAfterSeconds: 42 } },
    });
  });

  it("turns an unreachable store into 503 unavailable, keeping the cause", async () => {
    const cause = new Error("connection refused");
    const error = rateLimitError({ ok: false, reason: "unavailable", cause });
    expect(error.cause).toBe(cause);
    const res = error.toResponse();
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: "unavailable" } });
  });
});

describe("clientIpKey", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    [" 203.0.113.7 ", "203.0.113.7"],
    ["203.000.113.007", "203.0.113.7"],
    ["2001:db8::1", "2001:0db8:0000:0000::/64"],
    ["2001:DB8:0:0:1:2:3:4", "2001:0db8:0000:0000::/64"],
    ["2001:db8:1:2:3:4:5:6", "2001:0db8:0001:0002::/64"],
    ["2001:db8:1:2::", "2001:0db8:0001:0002::/64"],
    ["::1", "0000:0000:0000:0000::/64"],
    ["::", "0000:0000:0000:0000::/64"],
    ["fe80::1%eth0", "fe80:0000:0000:0000::/64"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["::FFFF:cb00:7107", "203.0.113.7"],
    ["64:ff9b::203.0.113.7", "0064:ff9b:0000:0000::/64"],
  ])("keys %j as %j", (header, key) => {
    expect(clientIpKey(requestFrom(header))).toBe(key);
  });

  it.each([
    [undefined],
    [""],
    ["not an ip"],
    ["256.1.1.1"],
    ["1.2.3"],
    ["2001:db8::1::2"],
    ["2001:db8:1:2:3:4:5:6:7"],
    ["2001:db8:1:2:3:4:5"],
    ["1:2:3:4:5:6:7::8"],
    ["2001:db8::g"],
    ["12345::"],
    ["::ffff:1.2.3.400"],
  ])("keys %j as the shared unknown key", (header) => {
    expect(clientIpKey(requestFrom(header))).toBe(UNKNOWN_IP_KEY);
  });
});
