import { describe, expect, it } from "vitest";
import type { ErrorBody } from "../../src/errors";
import { lockKey } from "../../src/lock";
import { admin, adminJson, createTemplateAndWidget, createTenant } from "./support/admin";
import { post, stores } from "./support/app";
import { createSession, createWidget, recordUsage, storedMessages, type TestSession } from "./support/fixtures";
import { readChunks } from "./support/sse";

const send = (session: TestSession, id: string, text = "hello") =>
  post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id, text } });

async function completedTurn(session: TestSession, id: string) {
  const turn = await send(session, id);
  expect(turn.res.status).toBe(200);
  await readChunks(turn.res);
  await turn.settled();
}

describe("per-session turn cap", () => {
  it("429 session_limit once a session has run its template's turnsPerSession; nothing stored, lock free", async () => {
    const session = await createSession(await createWidget({ template: { turnsPerSession: 2 } }));
    await completedTurn(session, "m1");
    await completedTurn(session, "m2");

    const third = await send(session, "m3");
    expect(third.res.status).toBe(429);
    const { error } = (await third.res.json()) as ErrorBody;
    expect(error.code).toBe("session_limit");
    expect(error.message).toContain("start a new one");
    expect(error.details).toEqual({ turnsPerSession: 2 });
    await third.settled();
    expect((await storedMessages(session.sessionId)).map((row) => row.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(await stores().redis.get(lockKey(session.sessionId))).toBeNull();
  });

  it("0 means no cap", async () => {
    const session = await createSession(await createWidget({ template: { turnsPerSession: 0 } }));
    for (const id of ["a", "b", "c"]) await completedTurn(session, id);
  });
});

describe("per-widget daily token budget", () => {
  it("429 budget_exhausted with Retry-After until midnight UTC once today's usage records reach it; yesterday's do not count", async () => {
    const fixture = await createWidget({ widget: { dailyTokenBudget: 1_000 } });
    const session = await createSession(fixture);
    await recordUsage(fixture, session, 5_000, 25 * 60 * 60 * 1000);
    await completedTurn(session, "m1");

    await recordUsage(fixture, session, 1_000);
    const refused = await send(session, "m2");
    expect(refused.res.status).toBe(429);
    const { error } = (await refused.res.json()) as ErrorBody;
    expect(error.code).toBe("budget_exhausted");
    const retryAfter = Number(refused.res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(24 * 60 * 60);
    expect(error.details).toMatchObject({ dailyTokenBudget: 1_000, retryAfterSeconds: retryAfter });
    await refused.settled();
    expect((await storedMessages(session.sessionId)).filter((row) => row.role === "user")).toHaveLength(1);
  });

  it("counts the usage records real turns leave, and the admin API shows the budget and today's use", async () => {
    const tenant = await createTenant();
    const fixture = await createTemplateAndWidget(tenant, {}, { dailyTokenBudget: 1 });
    const session = await createSession(fixture);
    await completedTurn(session, "m1");

    const budget = await adminJson<{ dailyTokenBudget: number; usedToday: number; exhausted: boolean; resetsAt: string }>(
      admin(`/widgets/${fixture.widgetId}/budget`, { key: tenant.key }),
    );
    expect(budget.status).toBe(200);
    expect(budget.body).toMatchObject({ dailyTokenBudget: 1, exhausted: true });
    expect(budget.body.usedToday).toBeGreaterThanOrEqual(1);
    expect(new Date(budget.body.resetsAt).getUTCHours()).toBe(0);

    const refused = await send(session, "m2");
    expect(refused.res.status).toBe(429);
    expect(((await refused.res.json()) as ErrorBody).error.code).toBe("budget_exhausted");
    await refused.settled();

    // Off again: the merchant lifts the budget and the next turn runs.
    const lifted = await adminJson(admin(`/widgets/${fixture.widgetId}`, { key: tenant.key, method: "PATCH", json: { dailyTokenBudget: null } }));
    expect(lifted.status).toBe(200);
    await completedTurn(session, "m3");
  });
});
