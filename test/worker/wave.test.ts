import type { LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { MockLanguageModelV4, simulateReadableStream } from "ai/test";
import { beforeAll, describe, expect, inject, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { lockKey } from "../../src/lock";
import { post, stores } from "./support/app";
import { refuseMessagesWithText } from "./support/faults";
import { createSession, createWidget, storedMessages, storedSession, type TestSession } from "./support/fixtures";
import { dataOf, readChunks, StreamReader, textOf } from "./support/sse";

/** The user text a trigger of this test file refuses to store: the opening write then fails. */
const UNSTORABLE = "this message cannot be stored";

function usage() {
  return {
    inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 1, text: 1, reasoning: undefined },
  };
}

function textStream(text: string): LanguageModelV4StreamPart[] {
  return [
    { type: "text-start", id: "t" },
    ...text.split(" ").map((word, i): LanguageModelV4StreamPart => ({ type: "text-delta", id: "t", delta: i ? ` ${word}` : word })),
    { type: "text-end", id: "t" },
    { type: "finish", finishReason: { unified: "stop", raw: undefined }, usage: usage() },
  ];
}

const send = (session: TestSession, id: string, text: string, options: Omit<NonNullable<Parameters<typeof post>[1]>, "json" | "token"> = {}) =>
  post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id, text }, ...options });

const userText = (prompt: unknown) => JSON.stringify(prompt);

beforeAll(() => refuseMessagesWithText("parley_test_refuse_insert", UNSTORABLE));

describe("one wave before the model", () => {
  it("a message turn waits on one Upstash request and one Neon request before the model is called", async () => {
    const session = await createSession(await createWidget());
    // Requests whose answer had arrived: what the turn could have waited on.
    const outbound: string[] = [];
    let beforeModel: string[] | null = null;
    const model = new MockLanguageModelV4({
      doStream: async () => {
        beforeModel ??= [...outbound];
        return { stream: simulateReadableStream({ chunks: textStream("Hello there") }) };
      },
    });
    const app = createApp({ resolveModel: () => model });
    // Warm the script cache first: a cold one adds a NOSCRIPT → EVAL round trip once per Redis.
    const warm = await send(session, "warm", "hello", { app });
    await readChunks(warm.res);
    await warm.settled();
    beforeModel = null;

    const realFetch = globalThis.fetch;
    const fetchSpy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const response = await realFetch(input, init);
      outbound.push(input instanceof Request ? input.url : String(input));
      return response;
    });
    // Postgres 400 ms away: the opening write, sent beside the model call, cannot be back before it.
    const turn = await send(session, "m1", "hello again", { app, env: { NEON_LOCAL_ENDPOINT: inject("slowNeonEndpoint") } });
    const chunks = await readChunks(turn.res);
    await turn.settled();
    fetchSpy.mockRestore();

    expect(textOf(chunks)).toBe("Hello there");
    // The cancel subscription opens beside the model call, not before it: it is not in the wave.
    const upstash = (urls: string[]) => urls.filter((url) => url.startsWith(inject("upstashUrl")) && !url.includes("/subscribe/"));
    const neon = (urls: string[]) => urls.filter((url) => url.startsWith(inject("slowNeonEndpoint")));
    expect(beforeModel).not.toBeNull();
    expect(upstash(beforeModel!)).toEqual([`${inject("upstashUrl")}/pipeline`]);
    expect(neon(beforeModel!)).toHaveLength(1);
  });

  it("starts the model before the user message is stored, and sends no token before it is", async () => {
    const session = await createSession(await createWidget());
    let storedWhenModelStarted: boolean | null = null;
    const model = new MockLanguageModelV4({
      doStream: async () => {
        const rows = await storedMessages(session.sessionId);
        storedWhenModelStarted = rows.some((row) => row.role === "user");
        return { stream: simulateReadableStream({ chunks: textStream("first token right away") }) };
      },
    });
    // Every Neon request of this turn takes 400 ms more: the opening write is still in flight
    // when the model answers.
    const turn = await send(session, "m1", "hello", { app: createApp({ resolveModel: () => model }), env: { NEON_LOCAL_ENDPOINT: inject("slowNeonEndpoint") } });
    expect(turn.res.status).toBe(200);
    const reader = new StreamReader(turn.res);
    expect(await reader.until((chunks) => chunks.some((chunk) => chunk.type === "text-delta"))).toBe(true);
    const storedAtFirstToken = (await storedMessages(session.sessionId)).map((row) => [row.idx, row.role, row.text]);
    const chunks = await reader.toEnd();
    await turn.settled();

    expect(storedWhenModelStarted).toBe(false);
    expect(storedAtFirstToken).toEqual([[0, "user", "hello"]]);
    expect(chunks.slice(0, 4).map((chunk) => chunk.type)).toEqual(["start", "data-user-committed", "start-step", "text-start"]);
    expect(textOf(chunks)).toBe("first token right away");
  });

  it("aborts the model call when the user message cannot be stored, and reports persist_failed", async () => {
    const session = await createSession(await createWidget());
    let modelSignal: AbortSignal | undefined;
    const model = new MockLanguageModelV4({
      doStream: async ({ abortSignal }) => {
        modelSignal = abortSignal;
        // A slow first token: the insert fails long before it.
        const stream = simulateReadableStream({ chunks: textStream("too late"), initialDelayInMs: 2_000 });
        return { stream };
      },
    });
    const turn = await send(session, "m1", UNSTORABLE, { app: createApp({ resolveModel: () => model }) });
    expect(turn.res.status).toBe(200);
    const chunks = await readChunks(turn.res);
    await turn.settled();

    expect(modelSignal?.aborted).toBe(true);
    expect(chunks.map((chunk) => chunk.type)).toEqual(["start", "error", "data-turn-end", "finish"]);
    expect(dataOf(chunks, "error")[0]!.errorText).toMatch(/^persist_failed: /);
    expect(dataOf(chunks, "data-turn-end")[0]!.data).toEqual({ status: "failed", assistantIdx: null });
    expect(await storedMessages(session.sessionId)).toEqual([]);
    expect(await stores().redis.get(lockKey(session.sessionId))).toBeNull();
  });
});

describe("the fence", () => {
  it("a turn started while the previous turn's final write is still in flight waits for it and sees its reply", async () => {
    const session = await createSession(await createWidget());
    // Made before turn 1: \`stores()\` points the Neon driver's process-wide endpoint at the fast
    // shim, which must not happen while turn 1 still has writes to send.
    const { redis } = stores();
    // Turn 1: the scripted model, every Neon request 400 ms slower. Its lock is released (fast
    // Redis) while its reply is still on its way into Postgres.
    const first = await send(session, "m1", "/words 3", { env: { NEON_LOCAL_ENDPOINT: inject("slowNeonEndpoint") } });
    expect(first.res.status).toBe(200);
    const firstReader = new StreamReader(first.res);
    expect(await firstReader.until((chunks) => chunks.some((chunk) => chunk.type === "text-end"))).toBe(true);
    while ((await redis.get(lockKey(session.sessionId))) !== null) await new Promise((resolve) => setTimeout(resolve, 2));
    const replyStoredAtRelease = (await storedMessages(session.sessionId)).some((row) => row.role === "assistant");

    // Turn 2, at once, on the fast shim: its parallel read sees Postgres before turn 1's reply.
    const prompts: unknown[] = [];
    const model = new MockLanguageModelV4({
      doStream: async ({ prompt }) => {
        prompts.push(prompt);
        return { stream: simulateReadableStream({ chunks: textStream("I remember") }) };
      },
    });
    const second = await send(session, "m2", "what did you say?", { app: createApp({ resolveModel: () => model }) });
    expect(second.res.status).toBe(200);
    const secondChunks = await readChunks(second.res);
    const firstChunks = await firstReader.toEnd();
    await Promise.all([first.settled(), second.settled()]);

    // The race was real: the lock was free before the reply was stored.
    expect(replyStoredAtRelease).toBe(false);
    expect(dataOf(firstChunks, "data-turn-end")[0]!.data.status).toBe("completed");
    expect(dataOf(secondChunks, "data-turn-end")[0]!.data).toEqual({ status: "completed", assistantIdx: 3 });
    // Turn 2's model saw turn 1's reply, and the history is stored in order, nothing lost.
    expect(userText(prompts[0])).toContain("word3");
    const stored = await storedMessages(session.sessionId);
    expect(stored.map((row) => [row.idx, row.role])).toEqual([
      [0, "user"],
      [1, "assistant"],
      [2, "user"],
      [3, "assistant"],
    ]);
    expect((await storedSession(session.sessionId))!.turnSeq).toBe(2);
  });
});
