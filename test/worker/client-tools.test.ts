import { sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { chatMessages, type MessageMetadata } from "../../src/db/schema";
import { lockKey } from "../../src/lock";
import { MAX_TOOL_OUTPUT_BYTES } from "../../src/turn/answer-request";
import type { ParleyChunk } from "../../src/turn/message";
import { TOOL_RESULT_SUPERSEDED, TOOL_RESULT_TIMED_OUT } from "../../src/turn/pending";
import { call, stores } from "./support/app";
import { createSession, createWidget, storedMessages, type TestSession } from "./support/fixtures";
import { messageTurn as message, streamedTurn as streamed, turnEndOf as turnEnd, turnRoute as turn } from "./support/turns";
import { dataOf, textOf } from "./support/sse";

const PREFIX = "(parley local dev model)";
const OPENAI = () => ({ OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: inject("openaiBaseUrl") });
const CART = { items: [{ sku: "P-100", name: "Travel mug", quantity: 2 }], total: "25.00 EUR" };
const getCart = { name: "get_cart", description: "What is in the visitor's cart", inputSchema: { type: "object", properties: {} } };

const callOf = (chunks: ParleyChunk[]) => dataOf(chunks, "tool-input-available")[0]!;

async function setUp(template: NonNullable<Parameters<typeof createWidget>[0]>["template"] = {}) {
  const fixture = await createWidget({ template: { clientTools: [getCart], ...template } });
  return createSession(fixture);
}

async function refused(path: string, session: TestSession, json: unknown) {
  const { res, settled } = await turn(path, session, json);
  const body = (await res.json()) as { error: { code: string; message: string; details?: unknown } };
  await settled();
  return { status: res.status, ...body.error };
}

describe("a client tool", () => {
  it("ends the turn waiting for the browser, with the lock free, and goes on with its result", async () => {
    const session = await setUp();
    const first = await message(session, "/tool get_cart");
    const toolCall = callOf(first);
    expect(toolCall).toMatchObject({ toolName: "get_cart", input: {} });
    expect(dataOf(first, "tool-output-available")).toEqual([]);
    expect(turnEnd(first)).toEqual({ status: "awaiting_tool_result", assistantIdx: 1 });
    expect(dataOf(first, "error")).toEqual([]);
    expect(await stores().redis.get(lockKey(session.sessionId))).toBeNull();
    const waiting = (await storedMessages(session.sessionId))[1]!;
    expect((waiting.metadata as MessageMetadata).awaiting).toMatchObject({ clientCalls: [toolCall.toolCallId] });
    // The session's state says what the reply waits for, so a reloaded widget can answer it.
    const state = await call(`/v1/widget/session/${session.sessionId}`, { token: session.token });
    const shown = ((await state.res.json()) as { messages: Array<{ awaiting?: unknown }> }).messages;
    expect(shown[1]!.awaiting).toEqual({ expiresAt: expect.any(String), clientCalls: [toolCall.toolCallId] });
    expect(shown[0]!.awaiting).toBeUndefined();

    const answered = await streamed("tool-result", session, { toolCallId: toolCall.toolCallId, output: CART });
    expect(answered[0]).toMatchObject({ type: "start", messageId: `${session.sessionId}:1` });
    expect(answered[1]).toEqual({ type: "tool-output-available", toolCallId: toolCall.toolCallId, output: CART });
    expect(textOf(answered)).toBe(`${PREFIX} The tool get_cart returned: ${JSON.stringify(CART)}.`);
    expect(turnEnd(answered)).toEqual({ status: "completed", assistantIdx: 1 });

    const stored = await storedMessages(session.sessionId);
    expect(stored).toHaveLength(2);
    expect(stored[1]!.parts).toContainEqual(expect.objectContaining({ type: "tool-get_cart", state: "output-available", output: CART }));
    expect((stored[1]!.metadata as MessageMetadata).awaiting).toBeUndefined();
  });

  it("answers a second result 409 already_answered with the first, changing nothing", async () => {
    const session = await setUp();
    const { toolCallId } = callOf(await message(session, "/tool get_cart"));
    await streamed("tool-result", session, { toolCallId, output: CART });
    const before = await storedMessages(session.sessionId);
    expect(await refused("tool-result", session, { toolCallId, output: { items: [] } })).toMatchObject({
      status: 409,
      code: "already_answered",
      details: { toolCallId, answer: { output: CART } },
    });
    expect(await storedMessages(session.sessionId)).toEqual(before);
  });

  it("answers a result for an unknown call, or for a call of a server tool, 404", async () => {
    const session = await setUp({ tools: [] });
    await message(session, "/tool get_cart");
    const before = await storedMessages(session.sessionId);
    expect(await refused("tool-result", session, { toolCallId: "call_unknown", output: CART })).toMatchObject({ status: 404, code: "tool_call_not_found" });
    expect(await storedMessages(session.sessionId)).toEqual(before);
    expect(await stores().redis.get(lockKey(session.sessionId))).toBeNull();

    // A flow transition runs on the server: its call id is not the browser's to answer.
    const flowSession = await setUp({
      flow: { initialNode: "a", nodes: { a: { instructions: "", tools: [], transitions: [{ to: "b", description: "go" }] }, b: { instructions: "", tools: [], transitions: [] } } },
    });
    const moved = await message(flowSession, "/tool go_to_b");
    expect(await refused("tool-result", flowSession, { toolCallId: callOf(moved).toolCallId, output: CART })).toMatchObject({ status: 404, code: "tool_call_not_found" });
  });

  it("refuses a result over 16 KB with 413, changing nothing: the call still waits", async () => {
    const session = await setUp();
    const { toolCallId } = callOf(await message(session, "/tool get_cart"));
    const before = await storedMessages(session.sessionId);
    const big = { blob: "x".repeat(MAX_TOOL_OUTPUT_BYTES) };
    const answer = await refused("tool-result", session, { toolCallId, output: big });
    expect(answer).toMatchObject({ status: 413, code: "payload_too_large", details: { maxBytes: MAX_TOOL_OUTPUT_BYTES } });
    expect(answer.message).toContain("16384");
    expect(await storedMessages(session.sessionId)).toEqual(before);

    // Just inside the cap is accepted.
    const fits = { blob: "x".repeat(MAX_TOOL_OUTPUT_BYTES - '{"blob":""}'.length) };
    const answered = await streamed("tool-result", session, { toolCallId, output: fits });
    expect(turnEnd(answered)).toMatchObject({ status: "completed" });
  });

  it.each([
    [{ output: CART }, "toolCallId"],
    [{ toolCallId: "call_1" }, "output"],
  ])("refuses the body %j with 400 naming %s", async (body, field) => {
    const session = await setUp();
    const answer = await refused("tool-result", session, body);
    expect(answer).toMatchObject({ status: 400, code: "invalid_request" });
    expect(answer.message).toContain(field);
  });

  it("tells the model the call timed out when the result comes after the wait's end", async () => {
    const session = await setUp();
    const { toolCallId } = callOf(await message(session, "/tool get_cart"));
    const past = new Date(Date.now() - 1000).toISOString();
    await stores().db.execute(
      sql`update ${chatMessages} set metadata = jsonb_set(metadata, '{awaiting,expiresAt}', to_jsonb(${past}::text)) where session_id = ${session.sessionId} and idx = 1`,
    );
    const late = await streamed("tool-result", session, { toolCallId, output: CART });
    expect(late[1]).toEqual({ type: "tool-output-error", toolCallId, errorText: TOOL_RESULT_TIMED_OUT });
    expect(textOf(late)).toBe(`${PREFIX} The tool get_cart failed: ${TOOL_RESULT_TIMED_OUT}`);
    expect((await storedMessages(session.sessionId))[1]!.parts).toContainEqual(expect.objectContaining({ state: "output-error", errorText: TOOL_RESULT_TIMED_OUT }));
  });

  it("is settled by a new message: the model reads why there is no result, and a late result is 409", async () => {
    const session = await setUp({ model: { provider: "openai", modelId: "gpt-test", api: "chat" } });
    const marker = crypto.randomUUID();
    const { toolCallId } = callOf(await message(session, "/tool get_cart", OPENAI()));
    const next = await message(session, `forget it ${marker}`, OPENAI());
    // The fake OpenAI server refuses a history with an unanswered call: this completes.
    expect(textOf(next)).toBe(`Fake OpenAI reply to: forget it ${marker}`);
    const base = inject("openaiBaseUrl").replace(/\/v1$/, "");
    const [request] = (await (await fetch(`${base}/__requests?contains=${encodeURIComponent(`forget it ${marker}`)}`)).json()) as Array<{
      body: { messages: Array<{ role: string; content: unknown; tool_call_id?: string }> };
    }>;
    expect(request!.body.messages.find((m) => m.role === "tool")).toMatchObject({ tool_call_id: toolCallId, content: expect.stringContaining(TOOL_RESULT_SUPERSEDED) });

    expect(await refused("tool-result", session, { toolCallId, output: CART })).toMatchObject({
      status: 409,
      code: "already_answered",
      details: { answer: { errorText: TOOL_RESULT_SUPERSEDED } },
    });
  });

  it("replays the answered call to an OpenAI-compatible provider on the next turn", async () => {
    const session = await setUp({ model: { provider: "openai", modelId: "gpt-test", api: "chat" } });
    const marker = crypto.randomUUID();
    const { toolCallId } = callOf(await message(session, "/tool get_cart", OPENAI()));
    const answered = await streamed("tool-result", session, { toolCallId, output: CART }, OPENAI());
    expect(textOf(answered)).toBe(`Fake OpenAI reply to tool result: ${JSON.stringify(CART)}`);
    const next = await message(session, `and now? ${marker}`, OPENAI());
    expect(turnEnd(next)).toMatchObject({ status: "completed" });
    expect(textOf(next)).toBe(`Fake OpenAI reply to: and now? ${marker}`);
  });
});
