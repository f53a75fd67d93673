import { eq } from "drizzle-orm";
import { decode } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { chatSessions, widgets } from "../../src/db/schema";
import { call, post, stores } from "./support/app";
import { createSession, createWidget, storedMessages, storedSession } from "./support/fixtures";

const create = (json: unknown, headers?: Record<string, string>) =>
  post("/v1/widget/session", { json, ...(headers ? { headers } : {}) });

async function errorOf(request: ReturnType<typeof create>) {
  const { res } = await request;
  const body = (await res.json()) as { error: { code: string; message: string; details?: unknown } };
  return { status: res.status, ...body.error, headers: res.headers };
}

describe("POST /v1/widget/session", () => {
  it("creates a session for a model greeting: greeting null, initialTurn llm, a 24 h token bound to it", async () => {
    const fixture = await createWidget({
      template: { presentation: { quickReplies: ["Track my order"], textInput: false }, flow: null },
    });
    const { res } = await create({ publicKey: fixture.publicKey, metadata: { page: "/checkout" } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: "active",
      channel: "chat",
      currentNode: null,
      greeting: null,
      initialTurn: "llm",
      quickReplies: ["Track my order"],
      textInput: false,
    });
    const { payload } = decode(body.token as string);
    expect(payload).toMatchObject({ sid: body.sessionId, wid: fixture.widgetId, typ: "widget" });
    expect((payload.exp as number) - (payload.iat as number)).toBe(24 * 3600);
    expect(new Date(body.expiresAt as string).getTime()).toBe((payload.exp as number) * 1000);
    const stored = await storedSession(body.sessionId as string);
    expect(stored).toMatchObject({ widgetId: fixture.widgetId, metadata: { page: "/checkout" }, templateVars: { shopName: "Test Shop" } });
    expect(await storedMessages(body.sessionId as string)).toEqual([]);
  });

  it("renders and stores a static greeting as message 0", async () => {
    const fixture = await createWidget({ template: { greeting: "Welcome to {shopName}, {name}!" , variables: [
      { name: "shopName", required: false, default: "Test Shop", maxLength: 100 },
      { name: "name", required: true, maxLength: 20 },
    ] } });
    const session = await createSession(fixture, { templateVars: { name: "Ada", extra: "dropped" } });
    expect(session.body).toMatchObject({ greeting: "Welcome to Test Shop, Ada!", initialTurn: null });
    const [greeting, ...rest] = await storedMessages(session.sessionId);
    expect(rest).toEqual([]);
    expect(greeting).toMatchObject({ idx: 0, role: "assistant", text: "Welcome to Test Shop, Ada!" });
    expect((await storedSession(session.sessionId))?.templateVars).toEqual({ shopName: "Test Shop", name: "Ada" });
  });

  it("400 names a missing required variable or an over-long one, and creates nothing", async () => {
    const fixture = await createWidget({ template: { variables: [{ name: "name", required: true, maxLength: 5 }] } });
    const missing = await errorOf(create({ publicKey: fixture.publicKey }));
    expect(missing).toMatchObject({ status: 400, code: "invalid_request" });
    expect(missing.message).toContain('"name" is required');
    const long = await errorOf(create({ publicKey: fixture.publicKey, templateVars: { name: "too long" } }));
    expect(long.message).toContain("at most 5 characters");
  });

  it("400 for a body without publicKey, or not JSON", async () => {
    expect(await errorOf(create({}))).toMatchObject({ status: 400, code: "invalid_request" });
    const { res } = await post("/v1/widget/session", { headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
  });

  it("413 payload_too_large for a body over 64 KB, before it is parsed", async () => {
    const { res } = await create({ publicKey: "pk_x", metadata: { blob: "x".repeat(70_000) } });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
  });

  it("404 widget_not_found for an unknown key and for an inactive widget, the same answer", async () => {
    const unknown = await errorOf(create({ publicKey: "pk_nope" }));
    const fixture = await createWidget({ widget: { active: false } });
    const inactive = await errorOf(create({ publicKey: fixture.publicKey }));
    expect(unknown).toMatchObject({ status: 404, code: "widget_not_found" });
    expect({ code: inactive.code, message: inactive.message }).toEqual({ code: unknown.code, message: unknown.message });
  });

  it("403 unless the Origin (or the Referer's origin) is on the allow-list", async () => {
    const fixture = await createWidget();
    expect(await errorOf(create({ publicKey: fixture.publicKey }, { origin: "https://evil.example" }))).toMatchObject({
      status: 403,
      code: "origin_not_allowed",
    });
    expect(await errorOf(create({ publicKey: fixture.publicKey }, { origin: "" }))).toMatchObject({ status: 403 });
    const viaReferer = await create({ publicKey: fixture.publicKey }, { origin: "", referer: "https://shop.example/cart?x=1" });
    expect(viaReferer.res.status).toBe(201);
    const denyAll = await createWidget({ widget: { allowedOrigins: [] } });
    expect((await errorOf(create({ publicKey: denyAll.publicKey }))).status).toBe(403);
  });

  it("503 unavailable when Redis cannot be reached, and creates nothing", async () => {
    const fixture = await createWidget();
    const { res } = await post("/v1/widget/session", {
      json: { publicKey: fixture.publicKey },
      env: { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" },
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unavailable");
    const { db } = stores();
    expect(await db.select().from(chatSessions).where(eq(chatSessions.widgetId, fixture.widgetId))).toEqual([]);
  });

  it("429 with Retry-After past sessionsPerIpHour; another IP still gets in; 0 disables", async () => {
    const fixture = await createWidget({ widget: { sessionsPerIpHour: 2 } });
    expect((await create({ publicKey: fixture.publicKey })).res.status).toBe(201);
    expect((await create({ publicKey: fixture.publicKey })).res.status).toBe(201);
    const limited = await errorOf(create({ publicKey: fixture.publicKey }));
    expect(limited).toMatchObject({ status: 429, code: "rate_limited" });
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await create({ publicKey: fixture.publicKey }, { "cf-connecting-ip": "198.51.100.9" })).res.status).toBe(201);

    const unlimited = await createWidget({ widget: { sessionsPerIpHour: 0 } });
    for (let i = 0; i < 3; i++) expect((await create({ publicKey: unlimited.publicKey })).res.status).toBe(201);
  });
});

describe("GET /v1/widget/session/:id", () => {
  it("shows state and visible messages in order, also after the end", async () => {
    const fixture = await createWidget({ template: { greeting: "Hi!" } });
    const session = await createSession(fixture);
    const turn = await post(`/v1/widget/session/${session.sessionId}/message`, {
      token: session.token,
      json: { id: "c-1", text: "/words 3" },
    });
    await turn.res.text();
    await turn.settled();
    await (await post(`/v1/widget/session/${session.sessionId}/end`, { token: session.token })).settled();

    const { res } = await call(`/v1/widget/session/${session.sessionId}`, { token: session.token });
    expect(res.status).toBe(200);
    const state = (await res.json()) as { status: string; endedReason: string; messages: Array<Record<string, unknown>> };
    expect(state).toMatchObject({ status: "ended", endedReason: "user_ended" });
    expect(state.messages.map((m) => [m.idx, m.role, m.id])).toEqual([
      [0, "assistant", `${session.sessionId}:0`],
      [1, "user", "c-1"],
      [2, "assistant", `${session.sessionId}:2`],
    ]);
    expect(state.messages[2]).toMatchObject({ status: "complete", text: "(parley local dev model) word1 word2 word3" });
    expect(state.messages[2]!.parts).toEqual([{ type: "text", text: "(parley local dev model) word1 word2 word3", state: "done" }]);
  });

  it("404 for another session's token, 401 without one", async () => {
    const fixture = await createWidget();
    const a = await createSession(fixture);
    const b = await createSession(fixture);
    expect((await call(`/v1/widget/session/${b.sessionId}`, { token: a.token })).res.status).toBe(404);
    expect((await call(`/v1/widget/session/${b.sessionId}`)).res.status).toBe(401);
  });
});

describe("POST /v1/widget/session/:id/end and /cancel", () => {
  it("end is idempotent: the first end wins", async () => {
    const session = await createSession(await createWidget());
    const first = await post(`/v1/widget/session/${session.sessionId}/end`, { token: session.token });
    const firstBody = await first.res.json();
    await first.settled();
    const second = await post(`/v1/widget/session/${session.sessionId}/end`, { token: session.token });
    expect(second.res.status).toBe(200);
    expect(await second.res.json()).toEqual(firstBody);
    expect(firstBody).toMatchObject({ status: "ended", endedReason: "user_ended" });
  });

  it("cancel answers 202 when no turn is in flight", async () => {
    const session = await createSession(await createWidget());
    const { res } = await post(`/v1/widget/session/${session.sessionId}/cancel`, { token: session.token });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ sessionId: session.sessionId, turnInFlight: false });
  });

  it("a deactivated widget's sessions are closed to every route", async () => {
    const fixture = await createWidget();
    const session = await createSession(fixture);
    await stores().db.update(widgets).set({ active: false }).where(eq(widgets.id, fixture.widgetId));
    for (const [path, method] of [["", "GET"], ["/end", "POST"], ["/cancel", "POST"]] as const) {
      const { res } = await call(`/v1/widget/session/${session.sessionId}${path}`, { token: session.token, method });
      expect(res.status).toBe(401);
    }
  });
});
