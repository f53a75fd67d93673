import type { LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { readUIMessageStream, streamText, toUIMessageStream, wrapLanguageModel, type UIMessage, type UIMessageChunk } from "ai";
import { MockLanguageModelV4, simulateReadableStream } from "ai/test";
import { describe, expect, it } from "vitest";
import { batchedFetch } from "../../src/model/batched-fetch";
import { coalesceDeltaParts, coalesceDeltas, DEFAULT_COALESCE_WINDOW_MS } from "../../src/model/coalesce";
import { resolveModel } from "../../src/model/provider";

const usage = {
  inputTokens: { total: 3, noCache: 3, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 12, text: 10, reasoning: 2 },
};

/** A reply with reasoning, two text parts around a tool call, as one step. */
function replyParts(): LanguageModelV4StreamPart[] {
  const words = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1} `);
  return [
    { type: "stream-start", warnings: [] },
    { type: "response-metadata", id: "resp-1", modelId: "mock", timestamp: new Date(0) },
    { type: "reasoning-start", id: "r" },
    ...words("think", 4).map((delta): LanguageModelV4StreamPart => ({ type: "reasoning-delta", id: "r", delta })),
    { type: "reasoning-end", id: "r" },
    { type: "text-start", id: "a" },
    ...words("alpha", 6).map((delta): LanguageModelV4StreamPart => ({ type: "text-delta", id: "a", delta })),
    { type: "text-end", id: "a" },
    { type: "text-start", id: "b" },
    ...words("beta", 6).map((delta): LanguageModelV4StreamPart => ({ type: "text-delta", id: "b", delta })),
    { type: "text-end", id: "b" },
    { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage },
  ];
}

function mockModel(parts: LanguageModelV4StreamPart[]): MockLanguageModelV4 {
  // No delay between parts: every delta lands inside one window.
  return new MockLanguageModelV4({ doStream: async () => ({ stream: simulateReadableStream({ chunks: parts, chunkDelayInMs: null }) }) });
}

/** What an AI SDK client assembles, and the UI chunks it was assembled from. */
async function clientView(model: MockLanguageModelV4 | ReturnType<typeof wrapLanguageModel>): Promise<{ message: UIMessage; chunks: UIMessageChunk[] }> {
  const result = streamText({ model, prompt: "hi", maxRetries: 0, onError: () => {} });
  const chunks: UIMessageChunk[] = [];
  const stream = toUIMessageStream({ stream: result.stream, sendReasoning: true }).pipeThrough(
    new TransformStream<UIMessageChunk, UIMessageChunk>({
      transform(chunk, controller) {
        chunks.push(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  let message: UIMessage | undefined;
  for await (const snapshot of readUIMessageStream({ stream })) message = snapshot;
  return { message: message!, chunks };
}

const count = (chunks: UIMessageChunk[], type: UIMessageChunk["type"]) => chunks.filter((chunk) => chunk.type === type).length;

describe("coalescing text deltas at the model", () => {
  it("gives AI SDK clients exactly the same message from fewer deltas", async () => {
    const plain = await clientView(mockModel(replyParts()));
    const coalesced = await clientView(wrapLanguageModel({ model: mockModel(replyParts()), middleware: coalesceDeltas({ windowMs: DEFAULT_COALESCE_WINDOW_MS }) }));

    const { id: _plainId, ...plainMessage } = plain.message;
    const { id: _coalescedId, ...coalescedMessage } = coalesced.message;
    expect(coalescedMessage).toEqual(plainMessage);
    expect(plainMessage.parts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: "reasoning", text: "think1 think2 think3 think4 " }),
        expect.objectContaining({ type: "text", text: "alpha1 alpha2 alpha3 alpha4 alpha5 alpha6 " }),
        expect.objectContaining({ type: "text", text: "beta1 beta2 beta3 beta4 beta5 beta6 " }),
      ]),
    );
    expect(count(plain.chunks, "text-delta")).toBe(12);
    expect(count(coalesced.chunks, "text-delta")).toBeLessThan(12);
    expect(count(coalesced.chunks, "reasoning-delta")).toBeLessThan(4);
  });

  it("sends the first delta of a reply on its own, so the first token is not held back", async () => {
    const { chunks } = await clientView(wrapLanguageModel({ model: mockModel(replyParts()), middleware: coalesceDeltas({ windowMs: 1_000 }) }));
    const firstText = chunks.find((chunk) => chunk.type === "text-delta");
    expect(firstText).toMatchObject({ delta: "alpha1 " });
  });

  it("never merges deltas across parts, and sends what it holds before an error", async () => {
    const parts: LanguageModelV4StreamPart[] = [
      { type: "stream-start", warnings: [] },
      { type: "text-start", id: "a" },
      { type: "text-delta", id: "a", delta: "one " },
      { type: "text-delta", id: "a", delta: "two " },
      { type: "text-delta", id: "a", delta: "three" },
      { type: "error", error: new Error("provider failed mid-stream") },
      { type: "text-end", id: "a" },
      { type: "finish", finishReason: { unified: "error", raw: "error" }, usage },
    ];
    const { chunks, message } = await clientView(wrapLanguageModel({ model: mockModel(parts), middleware: coalesceDeltas({ windowMs: 1_000 }) }));
    const types = chunks.map((chunk) => chunk.type);
    expect(types.lastIndexOf("text-delta")).toBeLessThan(types.indexOf("error"));
    expect(message.parts).toContainEqual(expect.objectContaining({ type: "text", text: "one two three" }));
  });

  it("passes every delta through with a window of 0", async () => {
    const { chunks } = await clientView(wrapLanguageModel({ model: mockModel(replyParts()), middleware: coalesceDeltas({ windowMs: 0 }) }));
    expect(count(chunks, "text-delta")).toBe(12);
  });

  it("is applied by resolveModel to the scripted model, keeping its name", async () => {
    const model = resolveModel({ provider: "scripted", modelId: "parley-dev", api: "chat" }, { environment: "development", devModelDelayMs: 0 });
    expect(model).toMatchObject({ provider: "parley.scripted", modelId: "parley-dev" });
    const result = streamText({ model, prompt: "/words 30", maxRetries: 0 });
    const deltas: string[] = [];
    for await (const part of result.stream) if (part.type === "text-delta") deltas.push(part.text);
    expect(deltas.join("")).toBe(`(parley local dev model) ${Array.from({ length: 30 }, (_, i) => `word${i + 1}`).join(" ")}`);
    expect(deltas.length).toBeLessThan(34);
  });
});

describe("a failing model stream", () => {
  it("still delivers the deltas held in the window, then the failure", async () => {
    const failure = new Error("connection dropped");
    const parts: LanguageModelV4StreamPart[] = [{ type: "text-start", id: "a" }, ...["one ", "two ", "three"].map((delta) => ({ type: "text-delta" as const, id: "a", delta }))];
    // One part per read, then the failure: erroring a stream discards what is still queued in it.
    const source = new ReadableStream<LanguageModelV4StreamPart>({
      pull(controller) {
        const part = parts.shift();
        if (part) controller.enqueue(part);
        else controller.error(failure);
      },
    });
    const reader = coalesceDeltaParts(source, 1_000).getReader();
    let text = "";
    let thrown: unknown;
    try {
      for (let next = await reader.read(); !next.done; next = await reader.read()) if (next.value.type === "text-delta") text += next.value.delta;
    } catch (error) {
      thrown = error;
    }
    expect(text).toBe("one two three");
    expect(thrown).toBe(failure);
  });
});

describe("batchedFetch", () => {
  const events = ["data: {\"n\":1}\n\n", "data: {\"n\":2}\n\n", "data: {\"n\":3}\n\n", "data: [DONE]\n\n"];
  let pending: string[] = [];
  const serve = (type: string, fail?: Error) => async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        // One event per read, as a model sending token by token does.
        pull(controller) {
          const event = pending.shift();
          if (event !== undefined) controller.enqueue(new TextEncoder().encode(event));
          else if (fail) controller.error(fail);
          else controller.close();
        },
        start() {
          pending = [...events];
        },
      }),
      { status: 200, headers: { "content-type": type } },
    );

  async function readAll(res: Response): Promise<{ chunks: number; text: string; thrown?: unknown }> {
    const decoder = new TextDecoder();
    const result: { chunks: number; text: string; thrown?: unknown } = { chunks: 0, text: "" };
    try {
      for await (const chunk of res.body!) {
        result.chunks++;
        result.text += decoder.decode(chunk, { stream: true });
      }
    } catch (error) {
      result.thrown = error;
    }
    return result;
  }

  it("hands on the same SSE bytes in fewer chunks, the first at once", async () => {
    const res = await batchedFetch(1_000, serve("text/event-stream; charset=utf-8"))("http://model.test/v1/chat/completions");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const { chunks, text } = await readAll(res);
    expect(text).toBe(events.join(""));
    expect(chunks).toBe(2);
  });

  it("leaves other bodies alone", async () => {
    const { chunks } = await readAll(await batchedFetch(1_000, serve("application/json"))("http://model.test/v1/models"));
    expect(chunks).toBe(events.length);
  });

  it("delivers what it holds before a body that fails", async () => {
    const failure = new Error("connection dropped");
    const { text, thrown } = await readAll(await batchedFetch(1_000, serve("text/event-stream", failure))("http://model.test/v1/responses"));
    expect(text).toBe(events.join(""));
    expect(thrown).toBe(failure);
  });
});
