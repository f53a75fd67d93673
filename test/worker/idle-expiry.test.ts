import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { chatSessions } from "../../src/db/schema";
import worker from "../../src/index";
import { lockKey } from "../../src/lock";
import { expireIdleSessions } from "../../src/scheduled/idle-expiry";
import { call, post, stores } from "./support/app";
import { createSession, createWidget, storedSession } from "./support/fixtures";

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
});
