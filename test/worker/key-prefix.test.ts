import { describe, expect, inject, it, vi } from "vitest";
import { mcpToolsCacheKey } from "../../src/agent/mcp";
import { DEFAULT_REDIS_KEY_PREFIX } from "../../src/key-prefix";
import { cancelChannel, lockKey } from "../../src/lock";
import { post, stores } from "./support/app";
import { createWidget, type Fixture } from "./support/fixtures";
import { StreamReader, textDeltas } from "./support/sse";

/**
 * Two deployments on one Redis — the previews of two branches — differ only in REDIS_KEY_PREFIX.
 * They share the Postgres rows here on purpose: Neon branches copy their parent's data, and the
 * demo seed gives every preview the same widget and template ids, so only the prefix keeps their
 * rate limits, locks, cancel flags and MCP caches apart.
 */
function deployment(name: string) {
  const keyPrefix = `${name}-${crypto.randomUUID().slice(0, 8)}`;
  const env = { REDIS_KEY_PREFIX: keyPrefix };
  return {
    keyPrefix,
    createSession: (fixture: Fixture) => post("/v1/widget/session", { json: { publicKey: fixture.publicKey }, env }),
    initialTurn: (session: Session) => post(`/v1/widget/session/${session.sessionId}/initial-turn`, { token: session.token, env }),
    message: (session: Session, text: string) =>
      post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: crypto.randomUUID(), text }, env }),
    cancel: (session: Session) => post(`/v1/widget/session/${session.sessionId}/cancel`, { token: session.token, env }),
  };
}

interface Session {
  sessionId: string;
  token: string;
}

async function opened(call: Promise<{ res: Response }>): Promise<Session> {
  const { res } = await call;
  expect(res.status).toBe(201);
  return (await res.json()) as Session;
}

async function turnEndStatus(call: Promise<{ res: Response; settled(): Promise<void> }>): Promise<unknown> {
  const turn = await call;
  expect(turn.res.status).toBe(200);
  const chunks = await new StreamReader(turn.res).toEnd();
  await turn.settled();
  return chunks.find((chunk) => chunk.type === "data-turn-end")?.data;
}

/** Every key in Redis whose name contains `fragment`, with its remaining lifetime in ms. */
async function keysContaining(fragment: string): Promise<Map<string, number>> {
  const { redis } = stores();
  const found = new Map<string, number>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, { match: `*${fragment}*`, count: 1_000 });
    for (const key of keys) found.set(key, await redis.pttl(key));
    cursor = String(next);
  } while (cursor !== "0");
  return found;
}

async function subscribers(channel: string): Promise<number> {
  const [, count] = await stores().redis.exec<[string, number]>(["PUBSUB", "NUMSUB", channel]);
  return count;
}

describe("two deployments with different REDIS_KEY_PREFIX on one Redis", () => {
  it("run the whole widget flow side by side without seeing each other's limits, locks, cancels or caches", async () => {
    const a = deployment("preview-a");
    const b = deployment("preview-b");
    const mcpServer = { name: "orders", url: inject("mcpServerUrl"), headers: {} };
    const fixture = await createWidget({ template: { mcpServers: [mcpServer] }, widget: { sessionsPerIpHour: 1 } });

    // Rate limits: A's second session is refused; B counts on its own.
    const sessionA = await opened(a.createSession(fixture));
    expect((await a.createSession(fixture)).res.status).toBe(429);
    const sessionB = await opened(b.createSession(fixture));

    // Initial turns, one after the other: the MCP discovery A caches is not B's.
    const cacheKey = (prefix: string) => mcpToolsCacheKey(fixture.templateId, mcpServer, prefix);
    expect(await turnEndStatus(a.initialTurn(sessionA))).toMatchObject({ status: "completed" });
    expect(await stores().redis.exists(await cacheKey(a.keyPrefix))).toBe(1);
    expect(await stores().redis.exists(await cacheKey(b.keyPrefix))).toBe(0);
    expect(await turnEndStatus(b.initialTurn(sessionB))).toMatchObject({ status: "completed" });
    expect(await stores().redis.exists(await cacheKey(b.keyPrefix))).toBe(1);

    // A long reply on A holds A's lock and listens on A's cancel channel only.
    const turn = await a.message(sessionA, "/words 1000");
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);
    expect(await reader.until((chunks) => textDeltas(chunks) >= 5)).toBe(true);
    await vi.waitFor(async () => expect(await subscribers(cancelChannel(sessionA.sessionId, a.keyPrefix))).toBe(1), { timeout: 5_000, interval: 20 });
    expect(await stores().redis.exists(lockKey(sessionA.sessionId, a.keyPrefix))).toBe(1);
    expect(await stores().redis.exists(lockKey(sessionA.sessionId, b.keyPrefix))).toBe(0);
    expect(await subscribers(cancelChannel(sessionA.sessionId, b.keyPrefix))).toBe(0);

    // B sees no turn in flight on that session, and its cancel does not reach A's turn.
    const cancelFromB = await b.cancel(sessionA);
    expect(await cancelFromB.res.json()).toEqual({ sessionId: sessionA.sessionId, turnInFlight: false });
    await cancelFromB.settled();
    const deltasAtB = textDeltas(reader.chunks);
    expect(await reader.until((chunks) => textDeltas(chunks) >= deltasAtB + 5)).toBe(true);
    expect(reader.chunks.some((chunk) => chunk.type === "data-turn-end")).toBe(false);

    // B runs its own message turn meanwhile.
    expect(await turnEndStatus(b.message(sessionB, "/words 3"))).toMatchObject({ status: "completed" });

    // A's own cancel stops A's turn.
    const cancelFromA = await a.cancel(sessionA);
    expect(await cancelFromA.res.json()).toEqual({ sessionId: sessionA.sessionId, turnInFlight: true });
    await cancelFromA.settled();
    const chunks = await reader.toEnd();
    await turn.settled();
    expect(chunks.find((chunk) => chunk.type === "data-turn-end")?.data).toMatchObject({ status: "canceled" });

    // Every key the flow left names its deployment's prefix, none the default one, and each one
    // expires by itself (a deleted preview leaves nothing behind for long).
    const keys = new Map([
      ...(await keysContaining(fixture.publicKey)),
      ...(await keysContaining(fixture.widgetId)),
      ...(await keysContaining(fixture.templateId)),
      ...(await keysContaining(sessionA.sessionId)),
      ...(await keysContaining(sessionB.sessionId)),
    ]);
    const names = [...keys.keys()];
    const kinds = (prefix: string) => new Set(names.filter((key) => key.startsWith(`${prefix}:`)).map((key) => key.split(":")[1]));
    // `reply`: the turns' resume buffers and pointers.
    expect(kinds(a.keyPrefix)).toEqual(new Set(["rl", "mcp", "seq", "reply"]));
    expect(kinds(b.keyPrefix)).toEqual(new Set(["rl", "mcp", "seq", "reply"]));
    expect(names.filter((key) => !key.startsWith(`${a.keyPrefix}:`) && !key.startsWith(`${b.keyPrefix}:`))).toEqual([]);
    expect(names.some((key) => key.startsWith(`${DEFAULT_REDIS_KEY_PREFIX}:`))).toBe(false);
    expect([...keys].filter(([, ttl]) => ttl <= 0)).toEqual([]);
  });
});

describe("REDIS_KEY_PREFIX", () => {
  it.each(["has:colon", "has*glob", "", "x".repeat(65)].filter(Boolean))("refuses %j with 500 misconfigured naming it", async (prefix) => {
    const { res } = await post("/v1/widget/session", { json: { publicKey: "pk_none" }, env: { REDIS_KEY_PREFIX: prefix } });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { code: "misconfigured", message: expect.stringContaining("REDIS_KEY_PREFIX") } });
  });
});
