import { describe, expect, inject, it } from "vitest";
import { chatMessages, type ChatMessage, type MessageMetadata } from "../../src/db/schema";
import type { ErrorBody } from "../../src/errors";
import { lockKey } from "../../src/lock";
import { DEV_MODEL_PREFIX } from "../../src/model/scripted";
import { VISITOR_VALUES_NOTE } from "../../src/templates/visitor-values";
import type { ParleyChunk } from "../../src/turn/message";
import { call, post, stores, type Call } from "./support/app";
import { createSession, createWidget, storedMessages, storedSession, type TestSession } from "./support/fixtures";
import { assemble, dataOf, readChunks, StreamReader, textOf } from "./support/sse";

/** Product requirement (docs/architecture.md): a cancel stops the stream within 1 s; asserted loosely. */
const CANCEL_BOUND_MS = 1_500;
/** Concurrent requests in the one-turn-at-a-time tests. */
const CONCURRENT = 20;
/** Long enough (≥ 1 s at DEV_MODEL_DELAY_MS = 5 ms a word) that the winner still holds the lock when every racer arrives. */
const LONG_REPLY = "/words 200";

const turnUrl = (session: TestSession, route: "initial-turn" | "message" | "cancel" | "end") =>
  `/v1/widget/session/${session.sessionId}/${route}`;

function sendMessage(session: TestSession, id: string, text: string, options: { env?: NonNullable<Parameters<typeof call>[1]>["env"] } = {}) {
  return post(turnUrl(session, "message"), { token: session.token, json: { id, text }, ...options });
}

function initialTurn(session: TestSession) {
  return post(turnUrl(session, "initial-turn"), { token: session.token });
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as ErrorBody).error.code;
}

/** The scripted model's reply to `/words n`. */
function scriptedWords(n: number): string {
  return [DEV_MODEL_PREFIX, ...Array.from({ length: n }, (_, i) => `word${i + 1}`)].join(" ");
}

function metadataOf(message: ChatMessage): Partial<MessageMetadata> {
  return message.metadata as Partial<MessageMetadata>;
}

async function lockHolder(sessionId: string): Promise<string | null> {
  return stores().redis.get<string>(lockKey(sessionId));
}

/**
 * Asserts the session's lock is free at once: no key in Redis, and a new message turn gets
 * 200 and completes (so no stale cancel flag stops it either). Returns the new turn's chunks.
 */
async function expectLockFree(session: TestSession, id = `next-${crypto.randomUUID()}`): Promise<ParleyChunk[]> {
  expect(await lockHolder(session.sessionId)).toBeNull();
  const next = await sendMessage(session, id, "are you still there?");
  expect(next.res.status).toBe(200);
  const chunks = await readChunks(next.res);
  await next.settled();
  expect(dataOf(chunks, "data-turn-end").at(-1)?.data.status).toBe("completed");
  return chunks;
}


const textDeltas = (chunks: ParleyChunk[]) => chunks.filter((chunk) => chunk.type === "text-delta").length;

describe("stream format", () => {
  it("streams a message turn as an AI SDK UI message stream, in the contract's chunk order, and stores what the client assembles", async () => {
    const session = await createSession(await createWidget());
    const before = await storedSession(session.sessionId);

    const turn = await sendMessage(session, "m1", "hello there");
    expect(turn.res.status).toBe(200);
    expect(turn.res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(turn.res.headers.get("x-vercel-ai-ui-message-stream")).toBe("v1");
    const cacheControl = turn.res.headers.get("cache-control") ?? "";
    expect(cacheControl).toContain("no-cache");
    expect(cacheControl).toContain("no-transform");

    const chunks = await readChunks(turn.res); // throws unless the SSE ends with [DONE]
    await turn.settled();
    const types = chunks.map((chunk) => chunk.type);

    expect(chunks[0]).toMatchObject({ type: "start", messageMetadata: { sessionId: session.sessionId, idx: 1 } });
    expect(chunks[1]).toMatchObject({ type: "data-user-committed", data: { idx: 0 } });
    const firstText = types.indexOf("text-delta");
    expect(firstText).toBeGreaterThan(1);
    expect(types.lastIndexOf("text-delta")).toBeLessThan(types.length - 2);
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "completed", assistantIdx: 1 } });
    expect(chunks.at(-1)).toMatchObject({ type: "finish" });
    expect(types.filter((type) => type === "start" || type === "finish" || type === "data-turn-end")).toEqual([
      "start",
      "data-turn-end",
      "finish",
    ]);
    expect(types).not.toContain("error");
    expect(textOf(chunks)).toBe(`${DEV_MODEL_PREFIX} You said: hello there. This is a scripted reply; no AI provider was called.`);

    const assembled = await assemble(chunks);
    expect(assembled.metadata).toEqual({ sessionId: session.sessionId, idx: 1 });
    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.idx, m.role, m.clientMessageId])).toEqual([
      [0, "user", "m1"],
      [1, "assistant", null],
    ]);
    const [user, reply] = stored as [ChatMessage, ChatMessage];
    expect(user.text).toBe("hello there");
    expect(reply.parts).toEqual(assembled.parts);
    expect(reply.text).toBe(textOf(chunks));
    expect(metadataOf(reply)).toMatchObject({
      status: "complete",
      model: "parley-dev",
      finishReason: "stop",
      usage: { inputTokens: expect.any(Number), outputTokens: expect.any(Number), totalTokens: expect.any(Number) },
    });

    const after = await storedSession(session.sessionId);
    expect(after!.lastActivityAt.getTime()).toBeGreaterThan(before!.lastActivityAt.getTime());
  });
});

describe("initial turn", () => {
  it("stores exactly one assistant message at idx 0 and never the kickoff; a second initial turn is 409 session_not_fresh", async () => {
    const session = await createSession(await createWidget());
    expect(session.body).toMatchObject({ greeting: null, initialTurn: "llm" });

    const turn = await initialTurn(session);
    expect(turn.res.status).toBe(200);
    const chunks = await readChunks(turn.res);
    await turn.settled();
    expect(chunks[0]).toMatchObject({ type: "start", messageMetadata: { sessionId: session.sessionId, idx: 0 } });
    expect(dataOf(chunks, "data-user-committed")).toEqual([]);
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "completed", assistantIdx: 0 } });
    expect(chunks.at(-1)?.type).toBe("finish");

    const stored = await storedMessages(session.sessionId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ idx: 0, role: "assistant", text: textOf(chunks), clientMessageId: null });
    expect(metadataOf(stored[0]!).status).toBe("complete");
    expect(stored[0]!.parts).toEqual((await assemble(chunks)).parts);

    const again = await initialTurn(session);
    expect(again.res.status).toBe(409);
    expect(await errorCode(again.res)).toBe("session_not_fresh");
    await again.settled();
    expect(await storedMessages(session.sessionId)).toHaveLength(1);
    expect(await lockHolder(session.sessionId)).toBeNull();
  });
});

describe("one turn per session at a time", () => {
  async function race(calls: Promise<Call>[]) {
    const results = await Promise.all(calls);
    const outcomes = await Promise.all(
      results.map(async ({ res }) =>
        res.status === 200 ? { status: 200, chunks: await readChunks(res) } : { status: res.status, code: await errorCode(res) },
      ),
    );
    await Promise.all(results.map((result) => result.settled()));
    return outcomes;
  }

  it(`${CONCURRENT} simultaneous initial turns: one 200, ${CONCURRENT - 1} × 409 turn_in_progress, one stored greeting`, async () => {
    const session = await createSession(await createWidget({ template: { initialTurnInstruction: LONG_REPLY } }));
    const outcomes = await race(Array.from({ length: CONCURRENT }, () => initialTurn(session)));

    expect(outcomes.filter((o) => o.status === 200)).toHaveLength(1);
    expect(outcomes.filter((o) => o.status !== 200)).toEqual(
      Array.from({ length: CONCURRENT - 1 }, () => ({ status: 409, code: "turn_in_progress" })),
    );
    const winner = outcomes.find((o) => o.status === 200)!;
    expect(dataOf(winner.chunks!, "data-turn-end")[0]?.data).toEqual({ status: "completed", assistantIdx: 0 });

    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.idx, m.role])).toEqual([[0, "assistant"]]);
    expect(stored[0]!.text).toBe(scriptedWords(200));
    await expectLockFree(session);
  });

  it(`${CONCURRENT} simultaneous messages: one 200, ${CONCURRENT - 1} × 409 turn_in_progress, one user and one assistant message`, async () => {
    const session = await createSession(await createWidget());
    const outcomes = await race(
      Array.from({ length: CONCURRENT }, (_, i) => sendMessage(session, `racer-${i}`, LONG_REPLY)),
    );

    expect(outcomes.filter((o) => o.status === 200)).toHaveLength(1);
    expect(outcomes.filter((o) => o.status !== 200)).toEqual(
      Array.from({ length: CONCURRENT - 1 }, () => ({ status: 409, code: "turn_in_progress" })),
    );
    const winnerIndex = outcomes.findIndex((o) => o.status === 200);

    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.idx, m.role, m.clientMessageId])).toEqual([
      [0, "user", `racer-${winnerIndex}`],
      [1, "assistant", null],
    ]);
    expect(stored[1]!.text).toBe(scriptedWords(200));
    expect(metadataOf(stored[1]!).status).toBe("complete");
    await expectLockFree(session);
  });
});

describe("the lock never outlives its turn", () => {
  it("is free at once after a normal end: the next message right after the stream's end gets 200", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "m1", "/words 5");
    expect(turn.res.status).toBe(200);
    await readChunks(turn.res);
    // No wait for the background work: a widget sends the next message as soon as the stream ends.
    await expectLockFree(session);
    await turn.settled();
  });

  it("is free at once after the turn deadline; the partial reply is stored as interrupted", async () => {
    const session = await createSession(await createWidget());
    const deadlineMs = 1_000; // the shortest TURN_DEADLINE_MS the config accepts
    const turn = await sendMessage(session, "m1", "/words 400", { env: { TURN_DEADLINE_MS: String(deadlineMs) } });
    expect(turn.res.status).toBe(200);
    const chunks = await readChunks(turn.res);
    await turn.settled();

    expect(dataOf(chunks, "error").map((e) => e.errorText)).toEqual([expect.stringMatching(/^turn_deadline: /)]);
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "failed", assistantIdx: 1 } });
    expect(chunks.at(-1)?.type).toBe("finish");
    const streamed = textOf(chunks);
    expect(streamed.length).toBeGreaterThan(DEV_MODEL_PREFIX.length);
    expect(scriptedWords(400).startsWith(streamed) && streamed !== scriptedWords(400)).toBe(true);

    const stored = await storedMessages(session.sessionId);
    expect(stored[1]).toMatchObject({ idx: 1, role: "assistant", text: streamed });
    expect(metadataOf(stored[1]!)).toMatchObject({ status: "interrupted", error: "turn_deadline" });
    await expectLockFree(session);
  });

  it("is free at once after storing the reply fails; the stream says so and the user message survives", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "m1", "/words 100");
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);
    expect(await reader.until((chunks) => chunks.some((chunk) => chunk.type === "data-user-committed"))).toBe(true);
    // Something else takes the reply's idx while the turn streams: its final insert must fail.
    await stores().db.insert(chatMessages).values({ sessionId: session.sessionId, idx: 1, role: "assistant", text: "squatter" });
    const chunks = await reader.toEnd();
    expect(reader.sawDone).toBe(true);

    expect(dataOf(chunks, "error").map((e) => e.errorText)).toEqual([expect.stringMatching(/^persist_failed: /)]);
    expect(chunks.slice(-3).map((chunk) => chunk.type)).toEqual(["error", "data-turn-end", "finish"]);
    expect(chunks.at(-2)).toMatchObject({ data: { status: "failed", assistantIdx: null } });
    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.idx, m.role, m.text])).toEqual([
      [0, "user", "/words 100"],
      [1, "assistant", "squatter"],
    ]);
    await expectLockFree(session);
    await turn.settled();
  });

  it("is free at once after an unexpected failure inside the turn, which still ends the stream per the contract", async () => {
    const session = await createSession(await createWidget());
    // History the AI SDK's converter rejects (a file part without a URL) makes the turn throw.
    await stores().db.insert(chatMessages).values({
      sessionId: session.sessionId,
      idx: 0,
      role: "assistant",
      text: "",
      parts: [{ type: "file", mediaType: "image/png" } as never],
    });
    const turn = await sendMessage(session, "m1", "hello");
    expect(turn.res.status).toBe(200);
    const chunks = await readChunks(turn.res);

    expect(chunks[1]).toMatchObject({ type: "data-user-committed", data: { idx: 1 } });
    expect(chunks.slice(-3).map((chunk) => chunk.type)).toEqual(["error", "data-turn-end", "finish"]);
    expect(dataOf(chunks, "error")[0]!.errorText).toMatch(/^model_error: /);
    expect(chunks.at(-2)).toMatchObject({ data: { status: "failed", assistantIdx: null } });
    expect(await lockHolder(session.sessionId)).toBeNull();
    await turn.settled();
    expect((await storedMessages(session.sessionId)).map((m) => [m.idx, m.role])).toEqual([
      [0, "assistant"],
      [1, "user"],
    ]);
  });

  it("is free at once after the model fails before any output; the user message survives, nothing assistant is stored", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "m1", "/fail-before");
    expect(turn.res.status).toBe(200);
    const chunks = await readChunks(turn.res);
    await turn.settled();

    const types = chunks.map((chunk) => chunk.type);
    expect(chunks[1]).toMatchObject({ type: "data-user-committed", data: { idx: 0 } });
    expect(types).not.toContain("text-delta");
    const errors = dataOf(chunks, "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.errorText).toMatch(/^model_error: /);
    // A safe message: nothing of the provider's own error.
    expect(errors[0]!.errorText).not.toMatch(/scripted|directive|APICallError|500/i);
    expect(types.slice(-3)).toEqual(["error", "data-turn-end", "finish"]);
    expect(chunks.at(-2)).toMatchObject({ data: { status: "failed", assistantIdx: null } });

    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.idx, m.role, m.text])).toEqual([[0, "user", "/fail-before"]]);

    await expectLockFree(session);
    const after = await storedMessages(session.sessionId);
    expect(after.map((m) => [m.idx, m.role])).toEqual([
      [0, "user"],
      [1, "user"],
      [2, "assistant"],
    ]);
  });

  it("is free at once after the model fails mid-reply; the partial reply is stored as interrupted", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "m1", "/fail-mid");
    expect(turn.res.status).toBe(200);
    const chunks = await readChunks(turn.res);
    await turn.settled();

    const types = chunks.map((chunk) => chunk.type);
    expect(textOf(chunks)).toBe(`${DEV_MODEL_PREFIX} This reply breaks `);
    expect(dataOf(chunks, "error").map((e) => e.errorText)).toEqual([expect.stringMatching(/^model_error: /)]);
    expect(types.indexOf("error")).toBeGreaterThan(types.lastIndexOf("text-delta"));
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "failed", assistantIdx: 1 } });
    expect(chunks.at(-1)?.type).toBe("finish");

    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.idx, m.role])).toEqual([
      [0, "user"],
      [1, "assistant"],
    ]);
    expect(stored[1]!.text).toBe(textOf(chunks));
    expect(metadataOf(stored[1]!)).toMatchObject({ status: "interrupted", error: "model_error", model: "parley-dev" });
    await expectLockFree(session);
  });

  it("is free once a disconnected client's turn has run to completion, which is stored complete", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "m1", "/words 100");
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);
    expect(await reader.until((chunks) => textDeltas(chunks) >= 3)).toBe(true);
    await reader.cancel();
    await turn.settled();

    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.idx, m.role])).toEqual([
      [0, "user"],
      [1, "assistant"],
    ]);
    expect(stored[1]!.text).toBe(scriptedWords(100));
    expect(metadataOf(stored[1]!)).toMatchObject({ status: "complete", finishReason: "stop" });
    await expectLockFree(session);
  });

  it("cuts off a disconnected client's turn after the grace period and stores what it made as interrupted", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "m1", "/words 5000", { env: { DISCONNECT_GRACE_MS: "1000" } });
    const reader = new StreamReader(turn.res);
    expect(await reader.until((chunks) => textDeltas(chunks) >= 3)).toBe(true);
    await reader.cancel();
    await turn.settled();

    const [, reply] = await storedMessages(session.sessionId);
    expect(metadataOf(reply!)).toMatchObject({ status: "interrupted" });
    expect(scriptedWords(5000).startsWith(reply!.text)).toBe(true);
    expect(reply!.text.length).toBeLessThan(scriptedWords(5000).length);
    await expectLockFree(session);
  });
});

describe("cancel", () => {
  it("stops the turn within a second, stores what was streamed as canceled, and frees the lock", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "m1", "/words 400"); // ≈ 2 s of streaming
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);
    expect(await reader.until((chunks) => textDeltas(chunks) >= 5)).toBe(true);

    const cancel = await post(turnUrl(session, "cancel"), { token: session.token });
    expect(cancel.res.status).toBe(202);
    expect(await cancel.res.json()).toEqual({ sessionId: session.sessionId, turnInFlight: true });
    const canceledAt = performance.now();
    const chunks = await reader.toEnd();
    const endedAfterMs = performance.now() - canceledAt;
    await Promise.all([cancel.settled(), turn.settled()]);

    expect(reader.sawDone).toBe(true);
    expect(endedAfterMs).toBeLessThan(CANCEL_BOUND_MS);
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "canceled", assistantIdx: 1 } });
    expect(chunks.at(-1)?.type).toBe("finish");
    expect(dataOf(chunks, "data-turn-end")).toHaveLength(1);
    expect(dataOf(chunks, "error")).toEqual([]);
    const streamed = textOf(chunks);
    expect(streamed.length).toBeLessThan(scriptedWords(400).length);
    expect(scriptedWords(400).startsWith(streamed)).toBe(true);

    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.idx, m.role])).toEqual([
      [0, "user"],
      [1, "assistant"],
    ]);
    expect(stored[1]!.text).toBe(streamed);
    // What the client assembled, its text cut short and stored as final.
    const { parts } = await assemble(chunks);
    expect(parts.map((part) => part.type)).toEqual(["step-start", "text"]);
    expect(stored[1]!.parts).toEqual([{ type: "step-start" }, { type: "text", text: streamed, state: "done" }]);
    expect(metadataOf(stored[1]!).status).toBe("canceled");
    await expectLockFree(session);
  });

  it("answers 202 when no turn is in flight, and the next turn is not affected", async () => {
    const session = await createSession(await createWidget());
    const cancel = await post(turnUrl(session, "cancel"), { token: session.token });
    expect(cancel.res.status).toBe(202);
    expect(await cancel.res.json()).toEqual({ sessionId: session.sessionId, turnInFlight: false });
    await cancel.settled();
    await expectLockFree(session);
  });
});

describe("retries with the same client message id", () => {
  it("replay the stored reply as a complete stream and store nothing new", async () => {
    const session = await createSession(await createWidget());
    const first = await sendMessage(session, "m1", "/words 12");
    const original = await readChunks(first.res);
    await first.settled();
    const rowsBefore = await storedMessages(session.sessionId);
    expect(rowsBefore).toHaveLength(2);
    const activityBefore = (await storedSession(session.sessionId))!.lastActivityAt;

    const retry = await sendMessage(session, "m1", "/words 12");
    expect(retry.res.status).toBe(200);
    expect(retry.res.headers.get("x-vercel-ai-ui-message-stream")).toBe("v1");
    const replayed = await readChunks(retry.res);
    await retry.settled();

    expect(textOf(replayed)).toBe(textOf(original));
    expect(replayed[0]).toMatchObject({ type: "start", messageMetadata: { sessionId: session.sessionId, idx: 1 } });
    expect(replayed[1]).toMatchObject({ type: "data-user-committed", data: { idx: 0 } });
    expect(replayed.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "completed", assistantIdx: 1 } });
    expect(replayed.at(-1)?.type).toBe("finish");
    expect((await assemble(replayed)).parts).toEqual((await assemble(original)).parts);

    expect(await storedMessages(session.sessionId)).toEqual(rowsBefore);
    expect((await storedSession(session.sessionId))!.lastActivityAt).toEqual(activityBefore);
    await expectLockFree(session);
  });

  it("re-run a turn that failed before any output, without storing the user message twice", async () => {
    const session = await createSession(await createWidget());
    const first = await sendMessage(session, "m1", "/fail-before");
    expect(dataOf(await readChunks(first.res), "data-turn-end")[0]?.data.status).toBe("failed");
    await first.settled();

    // The scripted model fails again, so the turn visibly ran a second time; no replay.
    const retry = await sendMessage(session, "m1", "/fail-before");
    expect(retry.res.status).toBe(200);
    const chunks = await readChunks(retry.res);
    await retry.settled();
    expect(chunks[1]).toMatchObject({ type: "data-user-committed", data: { idx: 0 } });
    expect(dataOf(chunks, "error").map((e) => e.errorText)).toEqual([expect.stringMatching(/^model_error: /)]);
    expect(chunks.at(-2)).toMatchObject({ data: { status: "failed", assistantIdx: null } });

    expect((await storedMessages(session.sessionId)).map((m) => [m.idx, m.role, m.clientMessageId])).toEqual([[0, "user", "m1"]]);
    await expectLockFree(session);
  });

  it("answer a retry of an unanswered message that is no longer the last with an empty failed stream", async () => {
    const session = await createSession(await createWidget());
    const failed = await sendMessage(session, "m1", "/fail-before");
    await readChunks(failed.res);
    await failed.settled();
    const next = await sendMessage(session, "m2", "/words 2");
    await readChunks(next.res);
    await next.settled();
    const rowsBefore = await storedMessages(session.sessionId);

    const retry = await sendMessage(session, "m1", "/fail-before");
    expect(retry.res.status).toBe(200);
    const chunks = await readChunks(retry.res);
    await retry.settled();
    expect(chunks.map((c) => c.type)).toEqual(["start", "data-user-committed", "data-turn-end", "finish"]);
    expect(chunks[1]).toMatchObject({ data: { idx: 0 } });
    expect(chunks[2]).toMatchObject({ data: { status: "failed", assistantIdx: null } });
    expect(await storedMessages(session.sessionId)).toEqual(rowsBefore);
    await expectLockFree(session);
  });

  it("answer a message whose first turn failed before any output once the provider is back", async () => {
    const fixture = await createWidget({ template: { model: { provider: "openai", modelId: "gpt-test", api: "chat" } } });
    const session = await createSession(fixture);
    const marker = crypto.randomUUID();
    const text = `is the shop open? ${marker}`;

    // No API key: the model is unavailable, the user's message is kept.
    const first = await sendMessage(session, "m1", text, { env: { OPENAI_API_KEY: "" } });
    const failed = await readChunks(first.res);
    await first.settled();
    expect(dataOf(failed, "error").map((e) => e.errorText)).toEqual([expect.stringMatching(/^model_unavailable: /)]);
    expect(failed.at(-2)).toMatchObject({ data: { status: "failed", assistantIdx: null } });
    expect((await storedMessages(session.sessionId)).map((m) => [m.idx, m.role])).toEqual([[0, "user"]]);

    const retry = await sendMessage(session, "m1", text, {
      env: { OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: inject("openaiBaseUrl") },
    });
    expect(retry.res.status).toBe(200);
    const chunks = await readChunks(retry.res);
    await retry.settled();
    expect(chunks[1]).toMatchObject({ type: "data-user-committed", data: { idx: 0 } });
    expect(textOf(chunks)).toBe(`Fake OpenAI reply to: ${text}`);
    expect(chunks.at(-2)).toMatchObject({ data: { status: "completed", assistantIdx: 1 } });

    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.idx, m.role, m.clientMessageId])).toEqual([
      [0, "user", "m1"],
      [1, "assistant", null],
    ]);
    expect(stored[1]!.text).toBe(textOf(chunks));
    // The user's text went to the model exactly once, not duplicated by the retry.
    const requests = await fakeOpenAIRequests(marker);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body.messages.filter((m) => m.role === "user")).toHaveLength(1);
  });
});

interface ChatCompletionsRequest {
  path: string;
  body: { model: string; messages: { role: string; content: unknown }[] };
}

async function fakeOpenAIRequests(contains: string): Promise<ChatCompletionsRequest[]> {
  const base = inject("openaiBaseUrl").replace(/\/v1$/, "");
  const res = await fetch(`${base}/__requests?contains=${encodeURIComponent(contains)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as ChatCompletionsRequest[];
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part: { text?: unknown }) => (typeof part.text === "string" ? part.text : "")).join("");
}

describe("history", () => {
  it("sends the filled-in system prompt and the earlier exchange with the next message", async () => {
    const openai = { OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: inject("openaiBaseUrl") };
    const fixture = await createWidget({
      template: {
        model: { provider: "openai", modelId: "gpt-test", api: "chat" },
        instructions: "You are the assistant of {shopName}. Answer briefly.",
      },
    });
    const marker = crypto.randomUUID();
    const shopName = `Acme Bikes ${marker.slice(0, 8)}`;
    const session = await createSession(fixture, { templateVars: { shopName } });

    const firstText = `first question ${marker}`;
    const first = await sendMessage(session, "m1", firstText, { env: openai });
    expect(first.res.status).toBe(200);
    const firstChunks = await readChunks(first.res);
    await first.settled();
    const firstReply = textOf(firstChunks);
    expect(firstReply).toBe(`Fake OpenAI reply to: ${firstText}`);

    const secondText = `second question ${marker}`;
    const second = await sendMessage(session, "m2", secondText, { env: openai });
    expect(second.res.status).toBe(200);
    const secondChunks = await readChunks(second.res);
    await second.settled();
    expect(textOf(secondChunks)).toBe(`Fake OpenAI reply to: ${secondText}`);

    const [request] = await fakeOpenAIRequests(secondText);
    expect(request?.path).toBe("/v1/chat/completions");
    expect(request!.body.model).toBe("gpt-test");
    const messages = request!.body.messages.map((m) => ({ role: m.role, text: contentText(m.content) }));
    expect(messages).toEqual([
      // The page's value, unverified, reaches the model labelled as such (src/templates/visitor-values.ts).
      { role: "system", text: `You are the assistant of [visitor-provided: ${JSON.stringify(shopName)}]. Answer briefly.\n\n${VISITOR_VALUES_NOTE}` },
      { role: "user", text: firstText },
      { role: "assistant", text: firstReply },
      { role: "user", text: secondText },
    ]);

    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.role, m.text])).toEqual([
      ["user", firstText],
      ["assistant", firstReply],
      ["user", secondText],
      ["assistant", `Fake OpenAI reply to: ${secondText}`],
    ]);
    expect(metadataOf(stored[3]!)).toMatchObject({ status: "complete", model: "gpt-test", finishReason: "stop" });
  });
});

describe("history limit", () => {
  it("sends only the last HISTORY_LIMIT stored messages, then the new one", async () => {
    const env = { OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: inject("openaiBaseUrl"), HISTORY_LIMIT: "2" };
    const fixture = await createWidget({ template: { model: { provider: "openai", modelId: "gpt-test", api: "chat" } } });
    const session = await createSession(fixture);
    const marker = crypto.randomUUID();
    for (const [i, text] of ["one", "two", "three"].entries()) {
      const turn = await sendMessage(session, `h${i}`, `${text} ${marker}`, { env });
      await readChunks(turn.res);
      await turn.settled();
    }
    const [request] = await fakeOpenAIRequests(`three ${marker}`);
    const messages = request!.body.messages.filter((m) => m.role !== "system").map((m) => contentText(m.content));
    expect(messages).toEqual([`two ${marker}`, `Fake OpenAI reply to: two ${marker}`, `three ${marker}`]);
  });
});

describe("ending a session", () => {
  it("makes turn routes answer 410 and is idempotent", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "m1", "/words 3");
    await readChunks(turn.res);
    await turn.settled();

    const end = await post(turnUrl(session, "end"), { token: session.token });
    expect(end.res.status).toBe(200);
    const ended = (await end.res.json()) as { status: string; endedAt: string; endedReason: string };
    await end.settled();
    expect(ended).toMatchObject({ sessionId: session.sessionId, status: "ended", endedReason: "user_ended" });
    expect(Date.parse(ended.endedAt)).not.toBeNaN();

    const again = await post(turnUrl(session, "end"), { token: session.token });
    expect(again.res.status).toBe(200);
    expect(await again.res.json()).toEqual(ended);
    await again.settled();

    const message = await sendMessage(session, "m2", "hello?");
    expect(message.res.status).toBe(410);
    expect(await errorCode(message.res)).toBe("session_ended");
    const initial = await initialTurn(session);
    expect(initial.res.status).toBe(410);
    expect(await errorCode(initial.res)).toBe("session_ended");
    await Promise.all([message.settled(), initial.settled()]);

    expect((await storedMessages(session.sessionId)).map((m) => m.idx)).toEqual([0, 1]);
    expect(await lockHolder(session.sessionId)).toBeNull();
    const state = await call(`/v1/widget/session/${session.sessionId}`, { token: session.token });
    expect(state.res.status).toBe(200);
    expect(await state.res.json()).toMatchObject({ status: "ended", endedReason: "user_ended", endedAt: ended.endedAt });
  });
});
