import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { chatSessions, widgets } from "../../src/db/schema";
import { lockKey } from "../../src/lock";
import { call, post, stores } from "./support/app";
import { createSession, createWidget, recordUsage, storedMessages, storedSession, type TestSession } from "./support/fixtures";
import { SERVICE_KEY, voiceCall } from "./support/service";
import { dataOf, readChunks, textOf } from "./support/sse";

type ErrorBody = { error: { code: string; message: string } };
type ChannelState = { sessionId: string; status: string; channel: string; voiceLeadId: string | null; lastActivityAt: string; changed: boolean };

const errorCode = async (res: Response) => ((await res.json()) as ErrorBody).error.code;

async function freshSession(): Promise<TestSession> {
  return createSession(await createWidget());
}

/** Moves the session's activity an hour back, so a bump is plain to see. */
async function ageActivity(sessionId: string): Promise<Date> {
  const at = new Date(Date.now() - 3_600_000);
  await stores().db.update(chatSessions).set({ lastActivityAt: at }).where(eq(chatSessions.id, sessionId));
  return at;
}

describe("the service API's key", () => {
  it("opens only with SERVICE_API_KEY: no key, a widget token, the admin key or a wrong key is 401 and changes nothing", async () => {
    const session = await freshSession();
    const attempts = [
      post(`/v1/internal/session/${session.sessionId}/voice/attach`, { json: { leadId: "l1" } }),
      post(`/v1/internal/session/${session.sessionId}/voice/attach`, { json: { leadId: "l1" }, token: session.token }),
      voiceCall(session.sessionId, "attach", { leadId: "l1" }, env.ADMIN_API_KEY),
      voiceCall(session.sessionId, "attach", { leadId: "l1" }, `${SERVICE_KEY}x`),
      voiceCall(session.sessionId, "turn", { id: "v1", text: "hi" }, "wrong-key-of-some-length"),
    ];
    for (const { res } of await Promise.all(attempts)) {
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe("unauthorized");
    }
    expect(await storedSession(session.sessionId)).toMatchObject({ channel: "chat", voiceLeadId: null });
  });

  it("a deployment without SERVICE_API_KEY refuses everything, the right key included, and says why", async () => {
    const session = await freshSession();
    const { res } = await post(`/v1/internal/session/${session.sessionId}/voice/attach`, {
      json: { leadId: "l1" },
      headers: { authorization: `Bearer ${SERVICE_KEY}` },
      env: { SERVICE_API_KEY: "" },
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as ErrorBody).error.message).toContain("SERVICE_API_KEY is not set");
    expect((await storedSession(session.sessionId))!.channel).toBe("chat");
  });

  it("a service key equal to the admin key is a misconfiguration (500 naming it), never a way in", async () => {
    const session = await freshSession();
    const { res } = await voiceCall(session.sessionId, "attach", { leadId: "l1" }, env.ADMIN_API_KEY);
    expect(res.status).toBe(401);
    const same = await post(`/v1/internal/session/${session.sessionId}/voice/attach`, {
      json: { leadId: "l1" },
      headers: { authorization: `Bearer ${env.ADMIN_API_KEY}` },
      env: { SERVICE_API_KEY: env.ADMIN_API_KEY },
    });
    expect(same.res.status).toBe(500);
    expect(((await same.res.json()) as ErrorBody).error.message).toContain("SERVICE_API_KEY: must differ from ADMIN_API_KEY");
  });
});

describe("the service key outside development", () => {
  it("a preview or production Worker refuses the published local service key (500 misconfigured naming it)", async () => {
    const session = await freshSession();
    const { res } = await post(`/v1/internal/session/${session.sessionId}/voice/attach`, {
      json: { leadId: "l1" },
      headers: { authorization: "Bearer dev-service-key-0123456789" },
      env: { ENVIRONMENT: "production", SERVICE_API_KEY: "dev-service-key-0123456789" },
    });
    expect(res.status).toBe(500);
    expect(((await res.json()) as ErrorBody).error.message).toContain("SERVICE_API_KEY: is a development value published in the repository");
  });
});

describe("the voice channel", () => {
  it("CHAT → VOICE → CHAT: attach, chat refused, voice turns (idempotent), a stale detach is a no-op, detach, chat again", async () => {
    const session = await freshSession();
    const { sessionId, token } = session;
    const aged = await ageActivity(sessionId);

    // Attach: the session moves to voice, its activity is bumped.
    const attach = await voiceCall(sessionId, "attach", { leadId: "lead-A" });
    expect(attach.res.status).toBe(200);
    const attached = (await attach.res.json()) as ChannelState;
    expect(attached).toMatchObject({ sessionId, status: "active", channel: "voice", voiceLeadId: "lead-A", changed: true });
    expect(new Date(attached.lastActivityAt).getTime()).toBeGreaterThan(aged.getTime());
    const state = await call(`/v1/widget/session/${sessionId}`, { token });
    expect(await state.res.json()).toMatchObject({ channel: "voice" });

    // While voice is attached: chat turns are refused, another call cannot attach, the same call again is harmless.
    const chat = await post(`/v1/widget/session/${sessionId}/message`, { token, json: { id: "c1", text: "typing meanwhile" } });
    expect(chat.res.status).toBe(409);
    expect(await errorCode(chat.res)).toBe("voice_active");
    const other = await voiceCall(sessionId, "attach", { leadId: "lead-B" });
    expect(other.res.status).toBe(409);
    expect(await errorCode(other.res)).toBe("voice_active");
    const again = await voiceCall(sessionId, "attach", { leadId: "lead-A" });
    expect(again.res.status).toBe(200);
    expect(await again.res.json()).toMatchObject({ channel: "voice", voiceLeadId: "lead-A", changed: false });
    const before = await storedMessages(sessionId);

    // A voice turn: the same agent, the same stream, the same storage.
    const turn = await voiceCall(sessionId, "turn", { id: "utterance-1", text: "where is my order" });
    expect(turn.res.status).toBe(200);
    expect(turn.res.headers.get("x-vercel-ai-ui-message-stream")).toBe("v1");
    const chunks = await readChunks(turn.res);
    await turn.settled();
    const reply = textOf(chunks);
    expect(reply.length).toBeGreaterThan(0);
    expect(dataOf(chunks, "data-turn-end")[0]!.data).toMatchObject({ status: "completed" });
    const after = await storedMessages(sessionId);
    expect(after.slice(before.length).map(({ role, text, clientMessageId }) => ({ role, text, clientMessageId }))).toEqual([
      { role: "user", text: "where is my order", clientMessageId: "utterance-1" },
      { role: "assistant", text: reply, clientMessageId: null },
    ]);

    // The voice bot resends the utterance (its answer was lost): the stored reply, no new turn.
    const resent = await voiceCall(sessionId, "turn", { id: "utterance-1", text: "where is my order" });
    expect(resent.res.status).toBe(200);
    expect(textOf(await readChunks(resent.res))).toBe(reply);
    await resent.settled();
    expect(await storedMessages(sessionId)).toHaveLength(after.length);

    // A stale detach (a call that is not the attached one) changes nothing.
    const stale = await voiceCall(sessionId, "detach", { leadId: "lead-B" });
    expect(stale.res.status).toBe(200);
    expect(await stale.res.json()).toMatchObject({ channel: "voice", voiceLeadId: "lead-A", changed: false });

    // Detach: back to chat, activity bumped again.
    const agedAgain = await ageActivity(sessionId);
    const detach = await voiceCall(sessionId, "detach", { leadId: "lead-A" });
    expect(detach.res.status).toBe(200);
    const detached = (await detach.res.json()) as ChannelState;
    expect(detached).toMatchObject({ channel: "chat", voiceLeadId: null, changed: true });
    expect(new Date(detached.lastActivityAt).getTime()).toBeGreaterThan(agedAgain.getTime());
    // The same callback again, late: a no-op.
    const late = await voiceCall(sessionId, "detach", { leadId: "lead-A" });
    expect(await late.res.json()).toMatchObject({ channel: "chat", changed: false });

    // Voice turns now refused; chat works again and sees the voice turn's messages.
    const noCall = await voiceCall(sessionId, "turn", { id: "utterance-2", text: "hello?" });
    expect(noCall.res.status).toBe(409);
    expect(await errorCode(noCall.res)).toBe("voice_not_attached");
    const chatAgain = await post(`/v1/widget/session/${sessionId}/message`, { token, json: { id: "c2", text: "back in chat" } });
    expect(chatAgain.res.status).toBe(200);
    await readChunks(chatAgain.res);
    await chatAgain.settled();
    expect((await storedMessages(sessionId)).map((m) => m.clientMessageId)).toContain("utterance-1");
    expect((await storedMessages(sessionId)).at(-2)!.text).toBe("back in chat");
  });

  it("attach is refused (409 turn_in_progress) while a turn holds the lock, and changes nothing; a voice turn waits for the lock too", async () => {
    const { redis, config } = stores();
    const session = await freshSession();
    await redis.set(lockKey(session.sessionId, config.redisKeyPrefix), "a-chat-turn", { px: 30_000 });
    const attach = await voiceCall(session.sessionId, "attach", { leadId: "lead-A" });
    expect(attach.res.status).toBe(409);
    expect(await errorCode(attach.res)).toBe("turn_in_progress");
    expect(await storedSession(session.sessionId)).toMatchObject({ channel: "chat", voiceLeadId: null });
    // Still held by the chat turn (the refused attach did not free it).
    expect(await redis.get(lockKey(session.sessionId, config.redisKeyPrefix))).toBe("a-chat-turn");
    await redis.del(lockKey(session.sessionId, config.redisKeyPrefix));

    expect((await voiceCall(session.sessionId, "attach", { leadId: "lead-A" })).res.status).toBe(200);
    // The attach freed its lock before answering: the voice bot may speak at once.
    expect(await redis.get(lockKey(session.sessionId, config.redisKeyPrefix))).toBeNull();
    await redis.set(lockKey(session.sessionId, config.redisKeyPrefix), "a-voice-turn", { px: 30_000 });
    const turn = await voiceCall(session.sessionId, "turn", { id: "u1", text: "hi" });
    expect(turn.res.status).toBe(409);
    expect(await errorCode(turn.res)).toBe("turn_in_progress");
    await redis.del(lockKey(session.sessionId, config.redisKeyPrefix));
  });

  it("a voice turn judges the session's own widget, read in its one wave: inactive 401, a spent daily budget 429", async () => {
    const fixture = await createWidget({ widget: { dailyTokenBudget: 100 } });
    const session = await createSession(fixture);
    const stored = (await storedMessages(session.sessionId)).length;
    expect((await voiceCall(session.sessionId, "attach", { leadId: "l1" })).res.status).toBe(200);
    const { db } = stores();
    await db.update(widgets).set({ active: false }).where(eq(widgets.id, fixture.widgetId));
    const inactive = await voiceCall(session.sessionId, "turn", { id: "v1", text: "hi" });
    expect(inactive.res.status).toBe(401);
    expect(await errorCode(inactive.res)).toBe("widget_inactive");
    await db.update(widgets).set({ active: true }).where(eq(widgets.id, fixture.widgetId));
    await recordUsage(fixture, session, 100);
    const spent = await voiceCall(session.sessionId, "turn", { id: "v2", text: "hi" });
    expect(spent.res.status).toBe(429);
    expect(await errorCode(spent.res)).toBe("budget_exhausted");
    expect(await storedMessages(session.sessionId)).toHaveLength(stored);
  });

  it("attach with the lock store down: 503 naming redis, the session left in chat", async () => {
    const session = await freshSession();
    const { res } = await voiceCall(session.sessionId, "attach", { leadId: "l1" }, SERVICE_KEY, { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string; details?: unknown } }).error).toMatchObject({ code: "unavailable", details: { store: "redis" } });
    expect(await storedSession(session.sessionId)).toMatchObject({ channel: "chat", voiceLeadId: null });
  });

  it("bad input and missing sessions: 400, 404, 410, nothing changed", async () => {
    const session = await freshSession();
    for (const body of [{}, { leadId: "" }, { leadId: 5 }, { leadId: "x".repeat(201) }]) {
      const { res } = await voiceCall(session.sessionId, "attach", body);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("invalid_request");
    }
    const badTurn = await voiceCall(session.sessionId, "turn", { id: "u1" });
    expect(badTurn.res.status).toBe(400);
    for (const id of [crypto.randomUUID(), "not-a-uuid"]) {
      for (const action of ["attach", "detach"] as const) {
        const { res } = await voiceCall(id, action, { leadId: "l" });
        expect(res.status).toBe(404);
        expect(await errorCode(res)).toBe("session_not_found");
      }
      const { res } = await voiceCall(id, "turn", { id: "u1", text: "hi" });
      expect(res.status).toBe(404);
    }
    expect(await storedSession(session.sessionId)).toMatchObject({ channel: "chat", voiceLeadId: null });

    await post(`/v1/widget/session/${session.sessionId}/end`, { token: session.token });
    const ended = await voiceCall(session.sessionId, "attach", { leadId: "l" });
    expect(ended.res.status).toBe(410);
    expect(await errorCode(ended.res)).toBe("session_ended");
    expect((await storedSession(session.sessionId))!.channel).toBe("chat");
  });

  it("the visitor's voice/end goes back to chat; the voice bot's late detach is then a no-op; a voice turn after it is refused", async () => {
    const session = await freshSession();
    await voiceCall(session.sessionId, "attach", { leadId: "lead-A" });
    const end = await post(`/v1/widget/session/${session.sessionId}/voice/end`, { token: session.token });
    expect(end.res.status).toBe(200);
    expect(await end.res.json()).toEqual({ sessionId: session.sessionId, channel: "chat", changed: true });
    expect(await storedSession(session.sessionId)).toMatchObject({ channel: "chat", voiceLeadId: null });
    const again = await post(`/v1/widget/session/${session.sessionId}/voice/end`, { token: session.token });
    expect(await again.res.json()).toMatchObject({ channel: "chat", changed: false });
    const late = await voiceCall(session.sessionId, "detach", { leadId: "lead-A" });
    expect(await late.res.json()).toMatchObject({ channel: "chat", changed: false });
    expect((await voiceCall(session.sessionId, "turn", { id: "u1", text: "hi" })).res.status).toBe(409);

    // Another session's token cannot end this one's call.
    const other = await freshSession();
    await voiceCall(session.sessionId, "attach", { leadId: "lead-B" });
    const foreign = await post(`/v1/widget/session/${session.sessionId}/voice/end`, { token: other.token });
    expect(foreign.res.status).toBe(404);
    expect((await storedSession(session.sessionId))!.channel).toBe("voice");
  });
});
