import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { chatMessages, turnUsage } from "../../src/db/schema";
import { post, stores } from "./support/app";
import { admin, adminJson, createTemplateAndWidget, createTenant, type TestTenant } from "./support/admin";
import { readChunks, StreamReader } from "./support/sse";

type Session = { id: string; widgetId: string; status: string; endedReason: string | null; createdAt: string };
type Turn = {
  kind: string;
  status: string;
  messageIdx: number | null;
  model: string;
  finishReason: string | null;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number | null;
  reasoningTokens: number | null;
  toolCalls: number;
  timeToFirstTokenMs: number | null;
  durationMs: number;
};
type Transcript = Session & {
  messages: Array<{ idx: number; role: string; text: string; status: string; parts: Array<{ type: string; [k: string]: unknown }>; turn: Turn | null }>;
  turns: Turn[];
};

const flow = {
  initialNode: "greet",
  nodes: {
    greet: { instructions: "Greet.", transitions: [{ to: "orders", description: "the visitor asks about an order" }] },
    orders: { instructions: "Help with orders.", transitions: [] },
  },
};

async function openSession(publicKey: string) {
  const { res } = await post("/v1/widget/session", { json: { publicKey } });
  return (await res.json()) as { sessionId: string; token: string };
}

async function turn(session: { sessionId: string; token: string }, id: string, text: string) {
  const call = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id, text } });
  const chunks = await readChunks(call.res);
  await call.settled();
  return chunks;
}

const transcriptOf = (tenant: TestTenant, sessionId: string) => adminJson<Transcript>(admin(`/sessions/${sessionId}`, { key: tenant.key }));

describe("admin sessions", () => {
  it("the transcript holds every message with its parts (tool calls and results) and each turn's metrics", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant, { flow });
    const session = await openSession(made.publicKey);
    const initial = await post(`/v1/widget/session/${session.sessionId}/initial-turn`, { token: session.token });
    await readChunks(initial.res);
    await initial.settled();
    await turn(session, "m1", "/tool go_to_orders");
    await turn(session, "m2", "hello there");

    const { status, body } = await transcriptOf(tenant, session.sessionId);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: session.sessionId, widgetId: made.widgetId, status: "active", currentNode: "orders" });
    expect(body.messages.map((m) => [m.idx, m.role, m.status])).toEqual([
      [0, "assistant", "complete"],
      [1, "user", "complete"],
      [2, "assistant", "complete"],
      [3, "user", "complete"],
      [4, "assistant", "complete"],
    ]);
    const toolPart = body.messages[2]!.parts.find((part) => part.type === "tool-go_to_orders" || part.type === "dynamic-tool");
    expect(toolPart).toMatchObject({ state: "output-available" });
    expect(body.messages[2]!.parts.some((part) => part.type === "data-node-transition")).toBe(true);

    expect(body.turns.map((t) => [t.kind, t.status, t.messageIdx])).toEqual([
      ["initial", "completed", 0],
      ["message", "completed", 2],
      ["message", "completed", 4],
    ]);
    for (const t of body.turns) {
      expect(t).toMatchObject({ model: "parley-dev", finishReason: "stop", cachedInputTokens: 0, reasoningTokens: 0 });
      expect(t.inputTokens).toBeGreaterThan(0);
      expect(t.outputTokens).toBeGreaterThan(0);
      expect(t.timeToFirstTokenMs).not.toBeNull();
      expect(t.durationMs).toBeGreaterThanOrEqual(t.timeToFirstTokenMs!);
    }
    expect(body.turns.map((t) => t.toolCalls)).toEqual([0, 1, 0]);
    // The message carries the metrics of the turn that wrote it; user messages none.
    expect(body.messages[2]!.turn).toEqual(body.turns[1]);
    expect(body.messages[1]!.turn).toBeNull();
  });

  it("an interrupted turn (the model failed midway) and a canceled one are recorded with what they used", async () => {
    const tenant = await createTenant();
    const slowTool = {
      name: "slow_lookup",
      description: "Takes a while.",
      request: { method: "GET", url: `${inject("toolServerUrl")}/slow?ms=5000` },
    };
    const made = await createTemplateAndWidget(tenant, { tools: [slowTool] });
    const session = await openSession(made.publicKey);
    await turn(session, "m1", "/fail-mid");

    // Cancel while the tool runs: the finished first step (the tool call) still reported its usage.
    const call = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m2", text: "/tool slow_lookup" } });
    const reader = new StreamReader(call.res);
    await reader.until((chunks) => chunks.some((chunk) => chunk.type === "tool-input-available"));
    expect((await post(`/v1/widget/session/${session.sessionId}/cancel`, { token: session.token })).res.status).toBe(202);
    await reader.toEnd();
    await call.settled();

    const { body } = await transcriptOf(tenant, session.sessionId);
    expect(body.turns.map((t) => t.status)).toEqual(["failed", "canceled"]);
    const [failed, canceled] = body.turns;
    expect(failed!.outputTokens).toBeGreaterThan(0);
    expect(failed!.messageIdx).toBe(1);
    expect(body.messages[1]).toMatchObject({ status: "interrupted" });
    expect(canceled!.inputTokens).toBeGreaterThan(0);
    expect(canceled!.toolCalls).toBe(1);
  });

  it("lists with filters (widget, status, created and activity ranges) and a cursor stable under inserts", async () => {
    const tenant = await createTenant();
    const a = await createTemplateAndWidget(tenant);
    const b = await createTemplateAndWidget(tenant);
    const sessionsA = [];
    for (let i = 0; i < 3; i++) sessionsA.push(await openSession(a.publicKey));
    const sessionB = await openSession(b.publicKey);
    await adminJson(admin(`/sessions/${sessionsA[0]!.sessionId}/end`, { key: tenant.key, method: "POST" }));

    const all = await adminJson<{ items: Session[] }>(admin("/sessions", { key: tenant.key }));
    expect(all.body.items.map((s) => s.id)).toEqual([sessionB.sessionId, ...sessionsA.map((s) => s.sessionId).reverse()]);
    const ofA = await adminJson<{ items: Session[] }>(admin(`/sessions?widgetId=${a.widgetId}&status=active`, { key: tenant.key }));
    expect(ofA.body.items.map((s) => s.id)).toEqual([sessionsA[2]!.sessionId, sessionsA[1]!.sessionId]);
    const ended = await adminJson<{ items: Session[] }>(admin("/sessions?status=ended", { key: tenant.key }));
    expect(ended.body.items.map((s) => s.id)).toEqual([sessionsA[0]!.sessionId]);

    const since = all.body.items[1]!.createdAt;
    const created = await adminJson<{ items: Session[] }>(admin(`/sessions?createdFrom=${encodeURIComponent(since)}`, { key: tenant.key }));
    expect(created.body.items.length).toBeGreaterThanOrEqual(2);
    expect(created.body.items.every((s) => s.createdAt >= since)).toBe(true);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await adminJson<{ items: Session[] }>(admin(`/sessions?lastActivityFrom=${future}`, { key: tenant.key }))).body.items).toEqual([]);
    expect((await admin("/sessions?status=paused", { key: tenant.key })).res.status).toBe(400);
    expect((await admin("/sessions?createdFrom=yesterday", { key: tenant.key })).res.status).toBe(400);

    // Page 1, then new sessions arrive, then page 2: nothing is repeated or skipped.
    const page1 = await adminJson<{ items: Session[]; nextCursor: string }>(admin("/sessions?limit=2", { key: tenant.key }));
    await openSession(a.publicKey);
    await openSession(b.publicKey);
    const page2 = await adminJson<{ items: Session[]; nextCursor: string | null }>(
      admin(`/sessions?limit=2&cursor=${page1.body.nextCursor}`, { key: tenant.key }),
    );
    expect([...page1.body.items, ...page2.body.items].map((s) => s.id)).toEqual(all.body.items.map((s) => s.id));
    expect(page2.body.nextCursor).toBeNull();
  });

  it("end: reason admin_ended, idempotent, and the widget's turn routes answer 410", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant);
    const session = await openSession(made.publicKey);
    const ended = await adminJson<Session>(admin(`/sessions/${session.sessionId}/end`, { key: tenant.key, method: "POST" }));
    expect(ended).toMatchObject({ status: 200, body: { status: "ended", endedReason: "admin_ended" } });
    const again = await adminJson<Session>(admin(`/sessions/${session.sessionId}/end`, { key: tenant.key, method: "POST" }));
    expect(again.body).toEqual(ended.body);
    const refused = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m1", text: "hi" } });
    expect(refused.res.status).toBe(410);
  });

  it("end cancels a reply still streaming, under the deployment's Redis key prefix", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant);
    // Another prefix than the default: the cancel must reach the turn's own keys and channel.
    const env = { REDIS_KEY_PREFIX: `admin_${crypto.randomUUID().slice(0, 8)}` };
    const { res } = await post("/v1/widget/session", { json: { publicKey: made.publicKey }, env });
    const session = (await res.json()) as { sessionId: string; token: string };
    const call = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m1", text: "/words 3000" }, env });
    const reader = new StreamReader(call.res);
    expect(await reader.until((chunks) => chunks.filter((chunk) => chunk.type === "text-delta").length >= 3)).toBe(true);
    const ended = await admin(`/sessions/${session.sessionId}/end`, { key: tenant.key, method: "POST", env });
    expect(ended.res.status).toBe(200);
    await ended.settled();
    const chunks = await reader.toEnd();
    await call.settled();
    expect(chunks.find((chunk) => chunk.type === "data-turn-end")).toMatchObject({ data: { status: "canceled" } });
    expect(chunks.filter((chunk) => chunk.type === "text-delta").length).toBeLessThan(3000);
  });

  it("delete erases the session and its messages; its usage counts stay", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant);
    const session = await openSession(made.publicKey);
    await turn(session, "m1", "hello");
    expect((await admin(`/sessions/${session.sessionId}`, { key: tenant.key, method: "DELETE" })).res.status).toBe(204);
    expect((await admin(`/sessions/${session.sessionId}`, { key: tenant.key })).res.status).toBe(404);
    const { db } = stores();
    expect(await db.select().from(chatMessages).where(eq(chatMessages.sessionId, session.sessionId))).toEqual([]);
    expect(await db.select().from(turnUsage).where(eq(turnUsage.sessionId, session.sessionId))).toHaveLength(1);
    const gone = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m2", text: "hi" } });
    expect(gone.res.status).toBe(404);
    expect((await admin(`/sessions/${session.sessionId}`, { key: tenant.key, method: "DELETE" })).res.status).toBe(404);
  });
});
