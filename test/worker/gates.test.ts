import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { signSessionToken } from "../../src/auth/session-token";
import { chatSessions, templates, widgets } from "../../src/db/schema";
import { lockKey } from "../../src/lock";
import { call, post, stores } from "./support/app";
import { createSession, createWidget, storedMessages, storedSession, type Fixture, type TestSession } from "./support/fixtures";
import { readChunks } from "./support/sse";

const ROUTES = ["initial-turn", "message"] as const;
type Route = (typeof ROUTES)[number];

function turn(route: Route, session: Pick<TestSession, "sessionId">, token: string | undefined, init: { json?: unknown; headers?: Record<string, string> } = {}) {
  const json = init.json ?? (route === "message" ? { id: crypto.randomUUID(), text: "hello" } : undefined);
  return post(`/v1/widget/session/${session.sessionId}/${route}`, { ...(token ? { token } : {}), ...init, json });
}

async function snapshot(sessionId: string) {
  const [session, messages, lock] = await Promise.all([
    storedSession(sessionId),
    storedMessages(sessionId),
    stores().redis.get(lockKey(sessionId)),
  ]);
  return { session, messages, lock };
}

/** Asserts the refusal's status and code, and that the session, its messages and its lock are as before. */
async function expectRefusal(
  request: Promise<{ res: Response; settled(): Promise<void> }>,
  session: TestSession,
  status: number,
  code: string,
) {
  const before = await snapshot(session.sessionId);
  const { res, settled } = await request;
  const body = (await res.json()) as { error: { code: string; message: string } };
  await settled();
  expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(await snapshot(session.sessionId)).toEqual(before);
  return { res, body };
}

async function freshSession(options: Parameters<typeof createWidget>[0] = {}) {
  const fixture = await createWidget(options);
  return { fixture, session: await createSession(fixture) };
}

async function tokenFor(sessionId: string, widgetId: string, now?: number) {
  const { config } = stores();
  return (await signSessionToken({ sessionId, widgetId, ...(now ? { now } : {}) }, config.sessionTokenSecret)).token;
}

describe.each(ROUTES)("gates of /%s", (route) => {
  it("1: 401 invalid_token without a token, with a forged one, and with an expired one", async () => {
    const { fixture, session } = await freshSession();
    await expectRefusal(turn(route, session, undefined), session, 401, "invalid_token");
    await expectRefusal(turn(route, session, `${session.token}x`), session, 401, "invalid_token");
    const expired = await tokenFor(session.sessionId, fixture.widgetId, Date.now() - 25 * 3600_000);
    await expectRefusal(turn(route, session, expired), session, 401, "invalid_token");
  });

  it("1: a token for session A does nothing to session B (404, as if B did not exist)", async () => {
    const { fixture, session: a } = await freshSession();
    const b = await createSession(fixture);
    await expectRefusal(turn(route, b, a.token), b, 404, "session_not_found");
  });

  if (route === "message") {
    it("2: 400 invalid_request naming the bad field, before any other check", async () => {
      const { fixture, session } = await freshSession();
      await stores().db.update(widgets).set({ active: false }).where(eq(widgets.id, fixture.widgetId));
      const { body } = await expectRefusal(turn(route, session, session.token, { json: { id: "x1", text: "" } }), session, 400, "invalid_request");
      expect(body.error.message).toContain("text");
      await expectRefusal(turn(route, session, session.token, { json: { text: "hi" } }), session, 400, "invalid_request");
      await expectRefusal(turn(route, session, session.token, { json: { id: "x2", text: "a".repeat(4001) } }), session, 400, "invalid_request");
      const notJson = post(`/v1/widget/session/${session.sessionId}/message`, {
        token: session.token,
        headers: { "content-type": "application/json" },
      });
      await expectRefusal(notJson, session, 400, "invalid_request");
    });

    it("2: accepts exactly 4000 characters", async () => {
      const { session } = await freshSession();
      const { res } = await turn(route, session, session.token, { json: { id: "x4000", text: "a".repeat(4000) } });
      expect(res.status).toBe(200);
      await readChunks(res);
    });
  }

  it("3: 401 widget_inactive when the widget is deactivated", async () => {
    const { fixture, session } = await freshSession();
    await stores().db.update(widgets).set({ active: false }).where(eq(widgets.id, fixture.widgetId));
    await expectRefusal(turn(route, session, session.token), session, 401, "widget_inactive");
  });

  it("4: 403 origin_not_allowed for an origin off the allow-list; no Origin header passes", async () => {
    const { session } = await freshSession();
    await expectRefusal(turn(route, session, session.token, { headers: { origin: "https://evil.example" } }), session, 403, "origin_not_allowed");
    const { res } = await call(`/v1/widget/session/${session.sessionId}/${route}`, {
      method: "POST",
      token: session.token,
      headers: { origin: "" },
      ...(route === "message" ? { json: { id: "no-origin", text: "hi" } } : {}),
    });
    expect(res.status).toBe(200);
    await readChunks(res);
  });

  it("5: 429 rate_limited with Retry-After once the per-IP limit is used", async () => {
    const { session } = await freshSession({ widget: { messagesPerIpHour: 1 } });
    const first = await turn(route, session, session.token);
    expect(first.res.status).toBe(200);
    await readChunks(first.res);
    await first.settled();
    const { res } = await expectRefusal(turn(route, session, session.token), session, 429, "rate_limited");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("5: 503 unavailable, fast, when Redis cannot be reached: the limits fail closed", async () => {
    const { session } = await freshSession();
    const redisDown = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" };
    const started = Date.now();
    const { body } = await expectRefusal(
      post(`/v1/widget/session/${session.sessionId}/${route}`, {
        token: session.token,
        env: redisDown,
        ...(route === "message" ? { json: { id: "r1", text: "hi" } } : {}),
      }),
      session,
      503,
      "unavailable",
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(body.error.message.length).toBeGreaterThan(0);
  });

  it("6: 404 session_not_found for an unknown session and for another widget's session", async () => {
    const { fixture, session } = await freshSession();
    const ghost = { sessionId: crypto.randomUUID(), token: "", body: {} };
    ghost.token = await tokenFor(ghost.sessionId, fixture.widgetId);
    await expectRefusal(turn(route, ghost, ghost.token), ghost, 404, "session_not_found");
    const other = await createWidget();
    const crossWidget = await tokenFor(session.sessionId, other.widgetId);
    await expectRefusal(turn(route, session, crossWidget), session, 404, "session_not_found");
  });

  it("7: 410 session_ended after end", async () => {
    const { session } = await freshSession();
    const end = await post(`/v1/widget/session/${session.sessionId}/end`, { token: session.token });
    expect(end.res.status).toBe(200);
    await end.settled();
    await expectRefusal(turn(route, session, session.token), session, 410, "session_ended");
  });

  it("8: 409 voice_active while the session is in a voice call", async () => {
    const { session } = await freshSession();
    await stores().db.update(chatSessions).set({ channel: "voice" }).where(eq(chatSessions.id, session.sessionId));
    await expectRefusal(turn(route, session, session.token), session, 409, "voice_active");
  });

  it("9: 409 turn_in_progress while another turn holds the lock, and leaves that lock alone", async () => {
    const { session } = await freshSession();
    await stores().redis.set(lockKey(session.sessionId), "someone-else", { px: 60_000 });
    await expectRefusal(turn(route, session, session.token), session, 409, "turn_in_progress");
    expect(await stores().redis.get(lockKey(session.sessionId))).toBe("someone-else");
  });

  it("13: 500 template_missing when the session's template was deleted, and releases the lock", async () => {
    const { fixture, session } = await freshSession();
    const { db } = stores();
    const replacement = crypto.randomUUID();
    await db.insert(templates).values({
      id: replacement,
      tenantId: "tenant_test",
      name: "replacement",
      model: { provider: "scripted", modelId: "parley-dev", api: "chat" },
    });
    await db.update(widgets).set({ templateId: replacement }).where(eq(widgets.id, fixture.widgetId));
    await db.delete(templates).where(eq(templates.id, fixture.templateId));
    await expectRefusal(turn(route, session, session.token), session, 500, "template_missing");
    await expectRefusal(turn(route, session, session.token), session, 500, "template_missing");
  });
});

describe("template checks", () => {
  it("13: a template stored with a bad configuration answers 500 template_invalid naming the field", async () => {
    const { fixture, session } = await freshSession();
    await stores()
      .db.update(templates)
      .set({ model: { provider: "nope", modelId: "" } as never })
      .where(eq(templates.id, fixture.templateId));
    const { body } = await expectRefusal(turn("message", session, session.token), session, 500, "template_invalid");
    expect(body.error.message).toContain("model.provider");
    const create = await post("/v1/widget/session", { json: { publicKey: fixture.publicKey } });
    expect(create.res.status).toBe(500);
  });
});

describe("gates under the lock", () => {
  it.each(ROUTES)("10: /%s — a session ended while the request waited on Redis answers 410 from the fresh read, and frees the lock", async (route) => {
    const { session } = await freshSession();
    const slowRedis = { UPSTASH_REDIS_REST_URL: inject("slowUpstashUrl") };
    const slowRequests = async () =>
      ((await (await fetch(`${inject("slowUpstashUrl")}/__stats`)).json()) as { requests: number }).requests;
    const before = await slowRequests();
    const request = post(`/v1/widget/session/${session.sessionId}/${route}`, {
      token: session.token,
      env: slowRedis,
      ...(route === "message" ? { json: { id: "raced", text: "hello" } } : {}),
    });
    // Once the rate limit reaches Redis, gates 3–8 have read the session; the rate limit and the
    // lock then each wait 300 ms on Redis, while the session ends.
    while ((await slowRequests()) === before) await new Promise((resolve) => setTimeout(resolve, 10));
    await stores()
      .db.update(chatSessions)
      .set({ status: "ended", endedAt: new Date(), endedReason: "user_ended" })
      .where(eq(chatSessions.id, session.sessionId));
    const { res, settled } = await request;
    expect(res.status).toBe(410);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("session_ended");
    await settled();
    expect(await storedMessages(session.sessionId)).toEqual([]);
    expect(await stores().redis.get(lockKey(session.sessionId))).toBeNull();
  });

  it("11: /initial-turn answers 409 session_not_fresh once a message exists (static greeting)", async () => {
    const fixture = await createWidget({ template: { greeting: "Hello from {shopName}!" } });
    const session = await createSession(fixture);
    expect(session.body.greeting).toBe("Hello from Test Shop!");
    await expectRefusal(turn("initial-turn", session, session.token), session, 409, "session_not_fresh");
  });

  it("12: a message id already stored replays the stored reply without a new model call", async () => {
    const { session } = await freshSession();
    const first = await turn("message", session, session.token, { json: { id: "same-id", text: "/words 7" } });
    const original = await readChunks(first.res);
    await first.settled();
    const before = await storedMessages(session.sessionId);
    const again = await turn("message", session, session.token, { json: { id: "same-id", text: "/words 7" } });
    expect(again.res.status).toBe(200);
    const replayed = await readChunks(again.res);
    await again.settled();
    const text = (chunks: typeof original) => chunks.flatMap((c) => (c.type === "text-delta" ? [c.delta] : [])).join("");
    expect(text(replayed)).toBe(text(original));
    expect(replayed.at(-2)).toEqual(original.at(-2));
    expect(await storedMessages(session.sessionId)).toEqual(before);
  });
});

describe("CORS", () => {
  it("answers OPTIONS with 204 and the widget CORS headers", async () => {
    const { res } = await call("/v1/widget/session/abc/message", {
      method: "OPTIONS",
      headers: { "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(res.headers.get("access-control-allow-methods")).toBe("GET,POST,OPTIONS");
    expect(res.headers.get("access-control-allow-headers")).toBe("authorization,content-type,last-event-id");
    expect(res.headers.get("access-control-max-age")).toBe("600");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("puts CORS headers on errors too", async () => {
    const { res } = await post(`/v1/widget/session/${crypto.randomUUID()}/message`, { json: {} });
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
  });
});

export type { Fixture };
