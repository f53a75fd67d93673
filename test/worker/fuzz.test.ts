import { and, count, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { signSessionToken } from "../../src/auth/session-token";
import { chatMessages, chatSessions } from "../../src/db/schema";
import { lockKey } from "../../src/lock";
import { call, ORIGIN, stores } from "./support/app";
import { createSession, createWidget, type Fixture, type TestSession } from "./support/fixtures";

/** Requests per run: enough to reach the odd corners, bounded so the suite stays quick. */
const REQUESTS = 2_000;
/** Fixed, so a failure replays exactly; printed with every failure. */
const SEED = 0x5eed_2026;

/** A small seeded PRNG (mulberry32): the same seed, the same requests. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  return { next, pick, int: (max: number) => Math.floor(next() * max) };
}

type Rng = ReturnType<typeof prng>;

/** Strings a hostile or broken client sends. */
function nastyString(rng: Rng): string {
  return rng.pick([
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "\udfff tail",
    "👍",
    "x".repeat(rng.pick([5, 129, 201, 4_001, 70_000])),
    "<img src=x onerror=alert(1)>",
    "'; drop table chat_sessions; --",
    "{shopName}{secret.API}",
    "../../etc/passwd",
    "pk_local_demo",
    String(rng.int(1e9)),
  ]);
}

function nastyValue(rng: Rng, depth = 0): unknown {
  const kind = rng.int(depth > 2 ? 5 : 8);
  switch (kind) {
    case 0:
      return nastyString(rng);
    case 1:
      return rng.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER]);
    case 2:
      return rng.pick([true, false]);
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return Array.from({ length: rng.int(4) }, () => nastyValue(rng, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [nastyString(rng), nastyValue(rng, depth + 1)]));
  }
}

interface World {
  fixture: Fixture;
  session: TestSession;
  otherSession: TestSession;
  expiredToken: string;
}

/** Message bodies no gate may accept: the fuzz must never start a real turn. */
function invalidMessageBody(rng: Rng): unknown {
  return rng.pick([
    undefined,
    nastyValue(rng),
    { id: nastyString(rng) },
    { id: "fuzz", text: rng.pick(["", "   ", "\u0000", "bad \ud800", "x".repeat(4_001), 42, null, ["a"]]) },
    { id: rng.pick(["", "has space", "x".repeat(129), "\u0000", 7]), text: rng.pick(["", "\ud800", 3]) },
  ]);
}

/**
 * One random request. The mix is weighted towards what reaches deep gates without running a turn:
 * creates with the real public key and hostile variables and metadata, message routes with a
 * valid token and an invalid body, the session routes that run no turn with a valid token, and
 * plain garbage (forged tokens, unknown routes and methods, malformed and oversized bodies).
 */
async function randomRequest(rng: Rng, world: World) {
  const { session, otherSession, fixture } = world;
  const origin = rng.pick([ORIGIN, ORIGIN, "https://evil.example", "null", ""]);
  const headers: Record<string, string> = {
    origin,
    ...(rng.next() < 0.3 ? { "content-type": rng.pick(["application/json", "text/plain", "application/x-www-form-urlencoded"]) } : {}),
    ...(rng.next() < 0.3 ? { "cf-connecting-ip": rng.pick(["::1", "999.1.1.1", "203.0.113.9", "2001:db8::1", "not an ip"]) } : {}),
    ...(rng.next() < 0.1 ? { referer: rng.pick([`${ORIGIN}/page`, "https://evil.example/x", "not a url"]) } : {}),
  };
  const scenario = rng.next();
  let path: string;
  let init: Parameters<typeof call>[1];
  if (scenario < 0.35) {
    path = "/v1/widget/session";
    const publicKey = rng.next() < 0.8 ? fixture.publicKey : nastyString(rng);
    init = { method: "POST", headers, json: { publicKey, templateVars: nastyValue(rng), metadata: nastyValue(rng) } };
  } else if (scenario < 0.6) {
    path = `/v1/widget/session/${session.sessionId}/message`;
    const body = invalidMessageBody(rng);
    init = { method: "POST", headers, token: session.token, ...(body === undefined ? {} : { json: body }) };
  } else if (scenario < 0.75) {
    path = `/v1/widget/session/${otherSession.sessionId}${rng.pick(["", "/cancel"])}`;
    init = { method: path.endsWith("/cancel") ? "POST" : "GET", headers, token: rng.pick([otherSession.token, session.token]) };
  } else {
    const id = rng.pick([session.sessionId, otherSession.sessionId, "not-a-uuid", crypto.randomUUID()]);
    path = `/v1/widget/session/${id}${rng.pick(["", "/initial-turn", "/message", "/cancel", "/end", "/stream", "/nope"])}`;
    const token = rng.pick([undefined, "garbage", `${session.token}x`, world.expiredToken, otherSession.token.replace(/\.[^.]+$/, ".forged")]);
    const method = rng.pick(["POST", "POST", "GET", "PUT", "DELETE", "PATCH"]);
    const raw = rng.pick(["{", "null", "[]", "\u0000", "x".repeat(70_000), JSON.stringify(nastyValue(rng)) ?? "undefined"]);
    init = { method, headers, ...(token ? { token } : {}), ...(method === "GET" ? {} : { body: raw }) };
  }
  return { path, method: init.method ?? "GET", ...(await call(path, init)) };
}

async function sessionCount(widgetId: string): Promise<number> {
  const [row] = await stores().db.select({ n: count() }).from(chatSessions).where(eq(chatSessions.widgetId, widgetId));
  return row!.n;
}

async function messageCount(sessionId: string): Promise<number> {
  const [row] = await stores().db.select({ n: count() }).from(chatMessages).where(and(eq(chatMessages.sessionId, sessionId)));
  return row!.n;
}

describe("fuzz", () => {
  it(`${REQUESTS} seeded random requests to every widget route: never a 5xx, nothing changed but what a 2xx accounts for`, { timeout: 240_000 }, async () => {
    const fixture = await createWidget();
    const session = await createSession(fixture);
    const otherSession = await createSession(await createWidget());
    const expiredToken = (await signSessionToken({ sessionId: session.sessionId, widgetId: fixture.widgetId, now: Date.now() - 2 * 86_400_000 }, stores().config.sessionTokenSecret)).token;
    const world: World = { fixture, session, otherSession, expiredToken };
    const before = { sessions: await sessionCount(fixture.widgetId), messages: await messageCount(session.sessionId), row: await stores().db.select().from(chatSessions).where(eq(chatSessions.id, session.sessionId)) };

    const rng = prng(SEED);
    const failures: string[] = [];
    let created = 0;
    const statuses = new Map<string, number>();
    for (let i = 0; i < REQUESTS; i++) {
      const { path, method, res, settled } = await randomRequest(rng, world);
      const text = await res.text();
      statuses.set(`${res.status}`, (statuses.get(`${res.status}`) ?? 0) + 1);
      if (res.status >= 500) failures.push(`#${i} ${method} ${path} → ${res.status} ${text.slice(0, 200)}`);
      if (res.status === 201 && path === "/v1/widget/session") created++;
      if (res.status < 500 && res.status >= 400) {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (!parsed.error?.code || !parsed.error.message) failures.push(`#${i} ${method} ${path} → ${res.status} without an error code and message`);
      }
      await settled();
    }

    console.log("fuzz statuses", Object.fromEntries(statuses));
    expect(failures, `seed ${SEED}`).toEqual([]);
    // Only successful creates added sessions; the session under attack is as it was.
    expect(await sessionCount(fixture.widgetId)).toBe(before.sessions + created);
    expect(await messageCount(session.sessionId)).toBe(before.messages);
    expect(await stores().db.select().from(chatSessions).where(eq(chatSessions.id, session.sessionId))).toEqual(before.row);
    expect(await stores().redis.get(lockKey(session.sessionId))).toBeNull();
  });
});
