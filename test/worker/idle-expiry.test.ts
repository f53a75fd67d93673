import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { and, eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { endIdleSessions, findWaitingReplies } from "../../src/db/idle-queries";
import { chatMessages, chatSessions, type MessageMetadata } from "../../src/db/schema";
import worker from "../../src/index";
import { lockKey } from "../../src/lock";
import { expireIdleSessions } from "../../src/scheduled/idle-expiry";
import { DEFAULT_MAX_RESPONSE_BYTES, type HttpTool } from "../../src/templates/config";
import type { ParleyChunk } from "../../src/turn/message";
import { APPROVAL_SESSION_EXPIRED, SESSION_EXPIRED, supersede, TOOL_RESULT_SESSION_EXPIRED } from "../../src/turn/pending";
import { call, post, stores } from "./support/app";
import { createSession, createWidget, storedMessages, storedSession, type TestSession } from "./support/fixtures";
import { dataOf, readChunks } from "./support/sse";

const HOUR = 3_600_000;

/** Runs the Worker's Cron Trigger handler as Cloudflare does, and returns what it logged. */
async function runCron(): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
  vi.restoreAllMocks();
  return lines.flatMap((line) => (line.startsWith("{") ? [JSON.parse(line) as Record<string, unknown>] : []));
}

async function setActivity(sessionId: string, at: Date): Promise<void> {
  await stores().db.update(chatSessions).set({ lastActivityAt: at }).where(eq(chatSessions.id, sessionId));
}

afterEach(() => vi.restoreAllMocks());

/** A template with a tool that needs approval and a client tool, so a reply can wait on either. */
function waitingTemplate(): { tools: HttpTool[]; clientTools: Array<{ name: string; description: string; inputSchema: Record<string, unknown> }> } {
  const cancelOrder: HttpTool = {
    name: "cancel_order",
    description: "Cancels an order",
    inputSchema: { type: "object", properties: { orderId: { type: "string" } }, required: ["orderId"] },
    request: { method: "POST", url: `${inject("toolServerUrl")}/calls/${crypto.randomUUID()}`, headers: {} },
    timeoutMs: 5_000,
    maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
    needsApproval: true,
  };
  return { tools: [cancelOrder], clientTools: [{ name: "get_cart", description: "What is in the visitor's cart", inputSchema: { type: "object", properties: {} } }] };
}

/** Sends a message whose reply waits for the visitor; returns the reply's stream. */
async function waitingReply(session: TestSession, text: string): Promise<ParleyChunk[]> {
  const { res, settled } = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: crypto.randomUUID(), text } });
  expect(res.status, await res.clone().text()).toBe(200);
  const chunks = await readChunks(res);
  await settled();
  expect(dataOf(chunks, "data-turn-end")[0]?.data.status).toMatch(/^awaiting_/);
  return chunks;
}

/** The tool parts of the session's last message, as `GET /session/:id` shows them to a reloaded widget. */
async function shownToolParts(session: TestSession): Promise<Array<Record<string, unknown>>> {
  const state = await call(`/v1/widget/session/${session.sessionId}`, { token: session.token });
  const { messages } = (await state.res.json()) as { messages: Array<{ parts: Array<Record<string, unknown>> }> };
  return messages.at(-1)!.parts.filter((part) => String(part.type).startsWith("tool-"));
}

describe("idle expiry (the Cron Trigger)", () => {
  it("ends idle sessions only: an active, a locked, a voice and an already ended one are left alone; a second run changes nothing", async () => {
    const { db, redis, config } = stores();
    const fixture = await createWidget();
    const [idle, active, locked, voice, ended] = await Promise.all(Array.from({ length: 5 }, () => createSession(fixture)));
    const twoHoursAgo = new Date(Date.now() - 2 * HOUR);
    for (const session of [idle!, locked!, voice!, ended!]) await setActivity(session.sessionId, twoHoursAgo);
    await setActivity(active!.sessionId, new Date(Date.now() - 50 * 60_000));
    await redis.set(lockKey(locked!.sessionId, config.redisKeyPrefix), "a-turn-in-flight", { px: 60_000 });
    await db.update(chatSessions).set({ channel: "voice", voiceLeadId: "lead-1" }).where(eq(chatSessions.id, voice!.sessionId));
    const endedAt = new Date(Date.now() - 90 * 60_000);
    await db.update(chatSessions).set({ status: "ended", endedAt, endedReason: "user_ended" }).where(eq(chatSessions.id, ended!.sessionId));

    const logged = await runCron();

    expect(await storedSession(idle!.sessionId)).toMatchObject({ status: "ended", endedReason: "idle_timeout", lastActivityAt: twoHoursAgo });
    expect((await storedSession(idle!.sessionId))!.endedAt).toBeInstanceOf(Date);
    for (const untouched of [active!, locked!, voice!]) expect((await storedSession(untouched.sessionId))!.status).toBe("active");
    expect(await storedSession(ended!.sessionId)).toMatchObject({ status: "ended", endedReason: "user_ended", endedAt });
    const sweep = logged.find((line) => line.msg === "idle sweep");
    expect(sweep).toMatchObject({ level: "info", cron: "*/5 * * * *", truncated: false });
    expect(sweep!.ended).toBeGreaterThanOrEqual(1);
    expect(sweep!.skippedLocked).toBeGreaterThanOrEqual(1);

    // The visitor of the expired session is told so, on every route.
    const turn = await post(`/v1/widget/session/${idle!.sessionId}/message`, { token: idle!.token, json: { id: "m1", text: "still there?" } });
    expect(turn.res.status).toBe(410);
    expect(((await turn.res.json()) as { error: { code: string } }).error.code).toBe("session_ended");
    const state = await call(`/v1/widget/session/${idle!.sessionId}`, { token: idle!.token });
    expect(await state.res.json()).toMatchObject({ status: "ended", endedReason: "idle_timeout" });

    // Idempotent: the expired one keeps its first end; the others are still left alone.
    const firstEnd = (await storedSession(idle!.sessionId))!.endedAt;
    await runCron();
    expect((await storedSession(idle!.sessionId))!.endedAt).toEqual(firstEnd);
    for (const untouched of [active!, locked!, voice!]) expect((await storedSession(untouched.sessionId))!.status).toBe("active");

    // Once the turn's lock is gone, the next run ends the locked one too.
    await redis.del(lockKey(locked!.sessionId, config.redisKeyPrefix));
    await runCron();
    expect(await storedSession(locked!.sessionId)).toMatchObject({ status: "ended", endedReason: "idle_timeout" });
  });

  it("is bounded per run: batches of `batchSize`, at most `maxBatches`; the next run goes on", async () => {
    const { db, redis, config } = stores();
    const fixture = await createWidget();
    const sessions = await Promise.all(Array.from({ length: 5 }, () => createSession(fixture)));
    // Older than anything else in the database, so these are the sweep's first candidates.
    for (const [i, session] of sessions.entries()) await setActivity(session.sessionId, new Date(Date.UTC(2000, 0, 1, 0, 0, i)));
    const ids = sessions.map((session) => session.sessionId);
    const statuses = async () =>
      (await db.select({ id: chatSessions.id, status: chatSessions.status }).from(chatSessions).where(inArray(chatSessions.id, ids))).filter(
        (row) => row.status === "ended",
      ).length;

    const first = await expireIdleSessions({ db, redis }, { idleTimeoutMs: HOUR, keyPrefix: config.redisKeyPrefix, batchSize: 2, maxBatches: 2 });
    expect(first).toMatchObject({ batches: 2, scanned: 4, ended: 4, truncated: true });
    expect(await statuses()).toBe(4);

    const second = await expireIdleSessions({ db, redis }, { idleTimeoutMs: HOUR, keyPrefix: config.redisKeyPrefix, batchSize: 2, maxBatches: 2 });
    expect(second.ended).toBeGreaterThanOrEqual(1);
    expect(await statuses()).toBe(5);
  });

  it("a Redis that is down fails the run (logged) and ends nothing", async () => {
    const fixture = await createWidget();
    const session = await createSession(fixture);
    await setActivity(session.sessionId, new Date(Date.now() - 2 * HOUR));
    const errors: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => void errors.push(String(line)));
    const ctx = createExecutionContext();
    const broken = { ...env, UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" };
    await expect(worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), broken, ctx)).rejects.toThrow();
    expect(errors.some((line) => line.includes('"msg":"idle sweep failed"'))).toBe(true);
    expect((await storedSession(session.sessionId))!.status).toBe("active");
  });

  it("settles the waits of the sessions it ends: a pending approval denied, an unanswered client call failed, the wait cleared; a live session's approval is untouched", async () => {
    const fixture = await createWidget({ template: waitingTemplate() });
    const [approving, browsing, live] = await Promise.all(Array.from({ length: 3 }, () => createSession(fixture)));
    const approval = dataOf(await waitingReply(approving!, '/tool cancel_order {"orderId":"A1"}'), "tool-approval-request")[0]!;
    const clientCall = dataOf(await waitingReply(browsing!, "/tool get_cart"), "tool-input-available")[0]!;
    const liveApproval = dataOf(await waitingReply(live!, '/tool cancel_order {"orderId":"A2"}'), "tool-approval-request")[0]!;
    const twoHoursAgo = new Date(Date.now() - 2 * HOUR);
    await setActivity(approving!.sessionId, twoHoursAgo);
    await setActivity(browsing!.sessionId, twoHoursAgo);
    const liveBefore = await storedMessages(live!.sessionId);

    const logged = await runCron();

    expect((await storedSession(approving!.sessionId))!.endedReason).toBe("idle_timeout");
    expect((await storedSession(browsing!.sessionId))!.endedReason).toBe("idle_timeout");
    expect(await shownToolParts(approving!)).toEqual([
      expect.objectContaining({
        type: "tool-cancel_order",
        toolCallId: approval.toolCallId,
        state: "output-denied",
        approval: { id: approval.approvalId, approved: false, reason: APPROVAL_SESSION_EXPIRED },
      }),
    ]);
    expect(await shownToolParts(browsing!)).toEqual([
      expect.objectContaining({ type: "tool-get_cart", toolCallId: clientCall.toolCallId, state: "output-error", errorText: TOOL_RESULT_SESSION_EXPIRED }),
    ]);
    for (const ended of [approving!, browsing!]) {
      const reply = (await storedMessages(ended.sessionId)).at(-1)!;
      expect((reply.metadata as MessageMetadata).awaiting).toBeUndefined();
      expect((reply.metadata as MessageMetadata).status).toBeDefined();
    }
    const sweep = logged.find((line) => line.msg === "idle sweep");
    expect(sweep!.settledWaits).toBeGreaterThanOrEqual(2);

    // The session still in use keeps its pending approval, answerable as before.
    expect((await storedSession(live!.sessionId))!.status).toBe("active");
    expect(await storedMessages(live!.sessionId)).toEqual(liveBefore);
    expect(await shownToolParts(live!)).toContainEqual(expect.objectContaining({ state: "approval-requested", approval: { id: liveApproval.approvalId } }));
  });

  it("does not overwrite a waiting reply that changed after it was read: the session ends, the reply stays as changed", async () => {
    const { db } = stores();
    const fixture = await createWidget({ template: waitingTemplate() });
    const session = await createSession(fixture);
    await waitingReply(session, "/tool get_cart");
    const twoHoursAgo = new Date(Date.now() - 2 * HOUR);
    await setActivity(session.sessionId, twoHoursAgo);
    const [read] = await findWaitingReplies(db, [session.sessionId]);
    expect(read).toMatchObject({ sessionId: session.sessionId, idx: 1 });
    // Meanwhile the reply changes (as a concurrent write would change it).
    await db
      .update(chatMessages)
      .set({ text: "changed", parts: [...read!.parts, { type: "text", text: "changed" }] })
      .where(and(eq(chatMessages.sessionId, session.sessionId), eq(chatMessages.idx, 1)));
    const changed = (await storedMessages(session.sessionId))[1]!;

    const written = await endIdleSessions(db, { sessionIds: [session.sessionId], before: new Date(Date.now() - HOUR), settle: [supersede(read!, SESSION_EXPIRED)!] });

    expect(written).toEqual({ ended: [session.sessionId], settled: 0 });
    expect((await storedMessages(session.sessionId))[1]).toEqual(changed);
  });
});
