import type { LanguageModelV4Prompt, LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { sql } from "drizzle-orm";
import { MockLanguageModelV4, simulateReadableStream } from "ai/test";
import { describe, expect, inject, it } from "vitest";
import { createApp } from "../../src/app";
import { chatMessages, type MessageMetadata } from "../../src/db/schema";
import { lockKey } from "../../src/lock";
import { DEFAULT_MAX_RESPONSE_BYTES, type HttpTool } from "../../src/templates/config";
import type { ParleyChunk } from "../../src/turn/message";
import { APPROVAL_SUPERSEDED, APPROVAL_TIMED_OUT } from "../../src/turn/pending";
import { call, post, stores } from "./support/app";
import { createSession, createWidget, storedMessages, type TestSession } from "./support/fixtures";
import { messageTurn as message, streamedTurn as streamed, turnEndOf as turnEnd, turnRoute as turn } from "./support/turns";
import { dataOf, readChunks, StreamReader, textOf } from "./support/sse";

const PREFIX = "(parley local dev model)";
const OPENAI = () => ({ OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: inject("openaiBaseUrl") });

/** An HTTP tool that needs approval; each run is counted by the tool server under `key`. */
function cancelOrder(key: string, extra: Partial<HttpTool> = {}): HttpTool {
  return {
    name: "cancel_order",
    description: "Cancels an order",
    inputSchema: { type: "object", properties: { orderId: { type: "string" } }, required: ["orderId"] },
    request: { method: "POST", url: `${inject("toolServerUrl")}/calls/${key}`, headers: {} },
    timeoutMs: 5_000,
    maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
    needsApproval: true,
    ...extra,
  };
}

async function toolRuns(key: string): Promise<number> {
  const res = await fetch(`${inject("toolServerUrl")}/__calls/${key}`);
  return ((await res.json()) as { calls: number }).calls;
}

const approvalRequest = (chunks: ParleyChunk[]) => dataOf(chunks, "tool-approval-request")[0]!;

async function setUp(extra: Parameters<typeof createWidget>[0] = {}) {
  const key = crypto.randomUUID();
  const fixture = await createWidget({ ...extra, template: { tools: [cancelOrder(key)], ...extra.template } });
  const session = await createSession(fixture);
  return { key, session };
}

async function expectLockFree(session: TestSession) {
  expect(await stores().redis.get(lockKey(session.sessionId))).toBeNull();
  const cancel = await post(`/v1/widget/session/${session.sessionId}/cancel`, { token: session.token });
  expect(await cancel.res.json()).toMatchObject({ turnInFlight: false });
  await cancel.settled();
}

describe("a tool that needs approval", () => {
  it("ends the turn waiting, with the lock free, and runs the tool once the visitor approves", async () => {
    const { key, session } = await setUp();
    const first = await message(session, '/tool cancel_order {"orderId":"A1"}');

    expect(dataOf(first, "tool-input-available")[0]).toMatchObject({ toolName: "cancel_order", input: { orderId: "A1" } });
    const request = approvalRequest(first);
    expect(request).toMatchObject({ approvalId: expect.any(String), toolCallId: dataOf(first, "tool-input-available")[0]!.toolCallId });
    expect(turnEnd(first)).toEqual({ status: "awaiting_approval", assistantIdx: 1 });
    expect(dataOf(first, "error")).toEqual([]);
    expect(await toolRuns(key)).toBe(0);
    // Nobody holds the session while the visitor decides.
    await expectLockFree(session);

    const waiting = (await storedMessages(session.sessionId))[1]!;
    expect(waiting.parts).toContainEqual(expect.objectContaining({ type: "tool-cancel_order", state: "approval-requested", approval: { id: request.approvalId } }));
    const { awaiting } = waiting.metadata as MessageMetadata;
    expect(Date.parse(awaiting!.expiresAt) - Date.parse(waiting.createdAt.toISOString())).toBeGreaterThan(590_000);

    // The session's state shows the pending request, so a reloaded widget can show it again.
    const state = await call(`/v1/widget/session/${session.sessionId}`, { token: session.token });
    const shown = ((await state.res.json()) as { messages: Array<{ parts: Array<Record<string, unknown>> }> }).messages[1]!.parts;
    expect(shown).toContainEqual(expect.objectContaining({ state: "approval-requested", approval: { id: request.approvalId } }));

    const approved = await streamed("approval", session, { approvalId: request.approvalId, approved: true });
    expect(approved[0]).toMatchObject({ type: "start", messageId: `${session.sessionId}:1` });
    expect(approved[1]).toEqual({ type: "tool-approval-response", approvalId: request.approvalId, approved: true });
    expect(dataOf(approved, "tool-output-available")[0]).toMatchObject({ toolCallId: request.toolCallId, output: { ok: true, body: { key, calls: 1 } } });
    expect(textOf(approved)).toBe(`${PREFIX} The tool cancel_order returned: {"ok":true,"status":200,"body":{"key":"${key}","calls":1}}.`);
    expect(turnEnd(approved)).toEqual({ status: "completed", assistantIdx: 1 });
    expect(await toolRuns(key)).toBe(1);

    // Request, decision and result, in the one stored reply.
    const stored = await storedMessages(session.sessionId);
    expect(stored).toHaveLength(2);
    expect(stored[1]!.parts).toContainEqual(
      expect.objectContaining({ state: "output-available", approval: { id: request.approvalId, approved: true }, output: expect.objectContaining({ ok: true }) }),
    );
    expect(stored[1]!.text).toBe(textOf(approved));
    expect((stored[1]!.metadata as MessageMetadata).awaiting).toBeUndefined();
    await expectLockFree(session);
  });

  it("tells the model a denial with its reason, and never runs the tool", async () => {
    const { key, session } = await setUp();
    const request = approvalRequest(await message(session, '/tool cancel_order {"orderId":"A1"}'));

    const denied = await streamed("approval", session, { approvalId: request.approvalId, approved: false, reason: "I changed my mind" });
    expect(denied[1]).toEqual({ type: "tool-approval-response", approvalId: request.approvalId, approved: false, reason: "I changed my mind" });
    expect(dataOf(denied, "tool-output-denied")).toEqual([{ type: "tool-output-denied", toolCallId: request.toolCallId }]);
    expect(textOf(denied)).toBe(`${PREFIX} The tool cancel_order was not run: I changed my mind.`);
    expect(turnEnd(denied)).toEqual({ status: "completed", assistantIdx: 1 });
    expect(await toolRuns(key)).toBe(0);
    const stored = (await storedMessages(session.sessionId))[1]!;
    expect(stored.parts).toContainEqual(
      expect.objectContaining({ state: "output-denied", approval: { id: request.approvalId, approved: false, reason: "I changed my mind" } }),
    );
  });

  it("answers a second decision 409 already_decided with the first, changing nothing", async () => {
    const { key, session } = await setUp();
    const request = approvalRequest(await message(session, '/tool cancel_order {"orderId":"A1"}'));
    await streamed("approval", session, { approvalId: request.approvalId, approved: true });
    const before = await storedMessages(session.sessionId);

    const again = await turn("approval", session, { approvalId: request.approvalId, approved: false, reason: "no" });
    expect(again.res.status).toBe(409);
    expect(await again.res.json()).toEqual({
      error: { code: "already_decided", message: expect.any(String), details: { approvalId: request.approvalId, decision: { approved: true } } },
    });
    await again.settled();
    expect(await storedMessages(session.sessionId)).toEqual(before);
    expect(await toolRuns(key)).toBe(1);
    await expectLockFree(session);
  });

  it("answers an unknown approval id 404, changing nothing", async () => {
    const { session } = await setUp();
    await message(session, '/tool cancel_order {"orderId":"A1"}');
    const before = await storedMessages(session.sessionId);
    const unknown = await turn("approval", session, { approvalId: "no-such-approval", approved: true });
    expect(unknown.res.status).toBe(404);
    expect(((await unknown.res.json()) as { error: { code: string } }).error.code).toBe("approval_not_found");
    await unknown.settled();
    expect(await storedMessages(session.sessionId)).toEqual(before);
    await expectLockFree(session);
  });

  it.each([
    [{ approved: true }, "approvalId"],
    [{ approvalId: "x" }, "approved"],
    [{ approvalId: "x", approved: "yes" }, "approved"],
  ])("refuses the body %j with 400 naming %s", async (body, field) => {
    const { session } = await setUp();
    const res = await turn("approval", session, body);
    expect(res.res.status).toBe(400);
    const error = ((await res.res.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain(field);
    await res.settled();
  });

  it("tells the model the request timed out when the decision comes after the wait's end", async () => {
    const { key, session } = await setUp({ template: { pendingTimeoutSeconds: 60 } });
    const request = approvalRequest(await message(session, '/tool cancel_order {"orderId":"A1"}'));
    const waiting = (await storedMessages(session.sessionId))[1]!;
    const { awaiting } = waiting.metadata as MessageMetadata;
    // The template's wait, not the default one.
    expect(Date.parse(awaiting!.expiresAt) - Date.parse(waiting.createdAt.toISOString())).toBeLessThan(61_000);
    // Move the wait's end into the past, as 60 s of waiting would.
    const past = new Date(Date.now() - 1000).toISOString();
    await stores().db.execute(
      sql`update ${chatMessages} set metadata = jsonb_set(metadata, '{awaiting,expiresAt}', to_jsonb(${past}::text)) where session_id = ${session.sessionId} and idx = 1`,
    );

    const late = await streamed("approval", session, { approvalId: request.approvalId, approved: true });
    expect(late[1]).toEqual({ type: "tool-approval-response", approvalId: request.approvalId, approved: false, reason: APPROVAL_TIMED_OUT });
    expect(textOf(late)).toBe(`${PREFIX} The tool cancel_order was not run: ${APPROVAL_TIMED_OUT}`);
    expect(await toolRuns(key)).toBe(0);

    const again = await turn("approval", session, { approvalId: request.approvalId, approved: true });
    expect(again.res.status).toBe(409);
    expect(await again.res.json()).toMatchObject({ error: { code: "already_decided", details: { decision: { approved: false, reason: APPROVAL_TIMED_OUT } } } });
    await again.settled();
  });

  it("is superseded by a new message: the model is told, the request is settled, a late decision is 409", async () => {
    const { key, session } = await setUp();
    const request = approvalRequest(await message(session, '/tool cancel_order {"orderId":"A1"}'));

    const next = await message(session, "what else can you do?");
    expect(turnEnd(next)).toEqual({ status: "completed", assistantIdx: 3 });
    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(stored[1]!.parts).toContainEqual(
      expect.objectContaining({ state: "output-denied", approval: { id: request.approvalId, approved: false, reason: APPROVAL_SUPERSEDED } }),
    );
    expect((stored[1]!.metadata as MessageMetadata).awaiting).toBeUndefined();

    const late = await turn("approval", session, { approvalId: request.approvalId, approved: true });
    expect(late.res.status).toBe(409);
    expect(await late.res.json()).toMatchObject({ error: { code: "already_decided", details: { decision: { approved: false, reason: APPROVAL_SUPERSEDED } } } });
    await late.settled();
    expect(await toolRuns(key)).toBe(0);
  });

  it("waits for the visitor on an MCP tool the template marks", async () => {
    const fixture = await createWidget({ template: { mcpServers: [{ name: "demo", url: inject("mcpServerUrl"), headers: {}, needsApproval: ["list_products"] }] } });
    const session = await createSession(fixture);
    const first = await message(session, "/tool list_products");
    expect(turnEnd(first)).toMatchObject({ status: "awaiting_approval" });
    const approved = await streamed("approval", session, { approvalId: approvalRequest(first).approvalId, approved: true });
    expect(dataOf(approved, "tool-output-available")).toHaveLength(1);
    expect(turnEnd(approved)).toMatchObject({ status: "completed" });
  });
});

describe("two calls waiting in one reply", () => {
  it("stores the first answer without calling the model, and goes on once the last is in", async () => {
    const prompts: LanguageModelV4Prompt[] = [];
    const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 1, text: 1, reasoning: undefined } };
    const model = new MockLanguageModelV4({
      doStream: async ({ prompt }) => {
        prompts.push(prompt);
        const chunks: LanguageModelV4StreamPart[] =
          prompts.length === 1
            ? [
                { type: "tool-call", toolCallId: "c1", toolName: "cancel_order", input: '{"orderId":"A1"}' },
                { type: "tool-call", toolCallId: "c2", toolName: "get_cart", input: "{}" },
                { type: "finish", finishReason: { unified: "tool-calls", raw: undefined }, usage },
              ]
            : [
                { type: "text-start", id: "x" },
                { type: "text-delta", id: "x", delta: "Both done." },
                { type: "text-end", id: "x" },
                { type: "finish", finishReason: { unified: "stop", raw: undefined }, usage },
              ];
        return { stream: simulateReadableStream({ chunks }) };
      },
    });
    const app = createApp({ resolveModel: () => model });
    const key = crypto.randomUUID();
    const fixture = await createWidget({
      template: { tools: [cancelOrder(key)], clientTools: [{ name: "get_cart", description: "cart", inputSchema: { type: "object", properties: {} } }] },
    });
    const session = await createSession(fixture);
    const run = async (path: string, json: unknown) => {
      const { res, settled } = await post(`/v1/widget/session/${session.sessionId}/${path}`, { token: session.token, json, app });
      expect(res.status).toBe(200);
      const chunks = await readChunks(res);
      await settled();
      return chunks;
    };

    const first = await run("message", { id: "m1", text: "cancel A1 and check my cart" });
    expect(turnEnd(first)).toEqual({ status: "awaiting_approval", assistantIdx: 1 });
    const { approvalId } = approvalRequest(first);

    const decided = await run("approval", { approvalId, approved: true });
    // The cart is still unanswered: the decision is stored, nothing runs, the model is not asked.
    expect(decided.map((c) => c.type)).toEqual(["start", "tool-approval-response", "data-turn-end", "finish"]);
    expect(turnEnd(decided)).toEqual({ status: "awaiting_tool_result", assistantIdx: 1 });
    expect(prompts).toHaveLength(1);
    expect(await toolRuns(key)).toBe(0);

    const answered = await run("tool-result", { toolCallId: "c2", output: { items: [] } });
    expect(dataOf(answered, "tool-output-available").map((c) => c.toolCallId).sort()).toEqual(["c1", "c2"]);
    expect(textOf(answered)).toBe("Both done.");
    expect(turnEnd(answered)).toEqual({ status: "completed", assistantIdx: 1 });
    expect(await toolRuns(key)).toBe(1);
    // The model's second call saw both calls with their results.
    const results = prompts[1]!.flatMap((m) => (m.role === "tool" ? m.content.filter((p) => p.type === "tool-result").map((p) => p.toolCallId) : []));
    expect(results.sort()).toEqual(["c1", "c2"]);
  });
});

interface WireMessage {
  role: string;
  content: unknown;
  tool_calls?: Array<{ id: string; function: { name: string } }>;
  tool_call_id?: string;
}

async function openaiRequests(contains: string): Promise<Array<{ body: { messages: WireMessage[] } }>> {
  const base = inject("openaiBaseUrl").replace(/\/v1$/, "");
  const res = await fetch(`${base}/__requests?contains=${encodeURIComponent(contains)}`);
  return (await res.json()) as Array<{ body: { messages: WireMessage[] } }>;
}

describe("the replayed history, as an OpenAI-compatible provider checks it", () => {
  const openaiTemplate = (key: string) => ({ template: { model: { provider: "openai" as const, modelId: "gpt-test", api: "chat" as const }, tools: [cancelOrder(key)] } });

  it("sends every call with its result on the next turns: approved, then denied", async () => {
    const key = crypto.randomUUID();
    const session = await createSession(await createWidget(openaiTemplate(key)));
    const marker = crypto.randomUUID();

    const first = await message(session, '/tool cancel_order {"orderId":"A1"}', OPENAI());
    expect(turnEnd(first)).toMatchObject({ status: "awaiting_approval" });
    const approved = await streamed("approval", session, { approvalId: approvalRequest(first).approvalId, approved: true }, OPENAI());
    expect(textOf(approved)).toMatch(/^Fake OpenAI reply to tool result: /);
    expect(await toolRuns(key)).toBe(1);

    const second = await message(session, '/tool cancel_order {"orderId":"B2"}', OPENAI());
    const denied = await streamed("approval", session, { approvalId: approvalRequest(second).approvalId, approved: false, reason: `not B2 ${marker}` }, OPENAI());
    expect(textOf(denied)).toBe(`Fake OpenAI reply to tool result: not B2 ${marker}`);

    // The fake answers 400 to a history with a call left without its result: this turn completes.
    const third = await message(session, `thanks ${marker}`, OPENAI());
    expect(textOf(third)).toBe(`Fake OpenAI reply to: thanks ${marker}`);
    expect(turnEnd(third)).toMatchObject({ status: "completed" });
    const [request] = await openaiRequests(`thanks ${marker}`);
    const wire = request!.body.messages.filter((m) => m.role !== "system");
    expect(wire.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant", "user"]);
    expect(wire[2]!.tool_call_id).toBe(wire[1]!.tool_calls![0]!.id);
    expect(wire[6]).toMatchObject({ tool_call_id: wire[5]!.tool_calls![0]!.id, content: expect.stringContaining(`not B2 ${marker}`) });
  });

  it("tells the model a superseded request was not run, in a history the provider accepts", async () => {
    const session = await createSession(await createWidget(openaiTemplate(crypto.randomUUID())));
    const marker = crypto.randomUUID();
    await message(session, '/tool cancel_order {"orderId":"A1"}', OPENAI());
    const next = await message(session, `never mind ${marker}`, OPENAI());
    expect(textOf(next)).toBe(`Fake OpenAI reply to: never mind ${marker}`);
    const [request] = await openaiRequests(`never mind ${marker}`);
    const wire = request!.body.messages.filter((m) => m.role !== "system");
    expect(wire.map((m) => m.role)).toEqual(["user", "assistant", "tool", "user"]);
    expect(wire[2]).toMatchObject({ tool_call_id: wire[1]!.tool_calls![0]!.id, content: expect.stringContaining(APPROVAL_SUPERSEDED) });
  });

  it("settles an approved call whose reply was canceled while the tool ran, so the next turn's history is accepted", async () => {
    const slow: HttpTool = { ...cancelOrder("unused"), request: { method: "GET", url: `${inject("toolServerUrl")}/slow?ms=3000`, headers: {} } };
    const session = await createSession(await createWidget({ template: { model: { provider: "openai", modelId: "gpt-test", api: "chat" }, tools: [slow] } }));
    const marker = crypto.randomUUID();
    const first = await message(session, '/tool cancel_order {"orderId":"A1"}', OPENAI());
    const approving = await turn("approval", session, { approvalId: approvalRequest(first).approvalId, approved: true }, OPENAI());
    expect(approving.res.status).toBe(200);
    const reader = new StreamReader(approving.res);
    await reader.until((chunks) => chunks.some((c) => c.type === "tool-approval-response"));
    const cancel = await post(`/v1/widget/session/${session.sessionId}/cancel`, { token: session.token });
    expect(await cancel.res.json()).toMatchObject({ turnInFlight: true });
    const chunks = await reader.toEnd();
    await Promise.all([approving.settled(), cancel.settled()]);
    expect(turnEnd(chunks)).toMatchObject({ status: "canceled" });

    const next = await message(session, `did it work? ${marker}`, OPENAI());
    expect(turnEnd(next)).toMatchObject({ status: "completed" });
    expect(textOf(next)).toBe(`Fake OpenAI reply to: did it work? ${marker}`);
    const [request] = await openaiRequests(`did it work? ${marker}`);
    const wire = request!.body.messages.filter((m) => m.role !== "system");
    expect(wire.map((m) => m.role)).toEqual(["user", "assistant", "tool", "user"]);
  });

  it("is what the fake itself refuses: a call without its result answers 400", async () => {
    const res = await fetch(`${inject("openaiBaseUrl")}/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer test-key", "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-test",
        stream: true,
        messages: [
          { role: "user", content: "cancel it" },
          { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "cancel_order", arguments: "{}" } }] },
          { role: "user", content: "hello?" },
        ],
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("call_1");
  });
});

