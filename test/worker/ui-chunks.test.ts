import type { LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { experimental_streamTextLowMemory, isStepCount, tool, toUIMessageStream, type UIMessageChunk } from "ai";
import { MockLanguageModelV4, simulateReadableStream } from "ai/test";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { uiChunkMapper } from "../../src/turn/ui-chunks";

const usage = {
  inputTokens: { total: 3, noCache: 3, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 12, text: 10, reasoning: 2 },
};

/**
 * Two model calls: reasoning, text and three tool calls (one that works, one naming no tool —
 * invalid —, one whose tool throws), then a text answer after the tools ran.
 */
function model(): MockLanguageModelV4 {
  let call = 0;
  const steps: LanguageModelV4StreamPart[][] = [
    [
      { type: "stream-start", warnings: [] },
      { type: "response-metadata", id: "resp-1", modelId: "mock", timestamp: new Date(0) },
      { type: "reasoning-start", id: "r" },
      { type: "reasoning-delta", id: "r", delta: "thinking " },
      { type: "reasoning-delta", id: "r", delta: "hard" },
      { type: "reasoning-end", id: "r" },
      { type: "text-start", id: "a" },
      { type: "text-delta", id: "a", delta: "Looking " },
      { type: "text-delta", id: "a", delta: "that up." },
      { type: "text-end", id: "a" },
      { type: "tool-input-start", id: "c1", toolName: "lookup" },
      { type: "tool-input-delta", id: "c1", delta: '{"q":"x"}' },
      { type: "tool-input-end", id: "c1" },
      { type: "tool-call", toolCallId: "c1", toolName: "lookup", input: '{"q":"x"}' },
      { type: "tool-call", toolCallId: "c2", toolName: "no_such_tool", input: "{}" },
      { type: "tool-call", toolCallId: "c3", toolName: "broken", input: "{}" },
      { type: "finish", finishReason: { unified: "tool-calls", raw: "tool_calls" }, usage },
    ],
    [
      { type: "stream-start", warnings: [] },
      { type: "text-start", id: "b" },
      { type: "text-delta", id: "b", delta: "Found it." },
      { type: "text-end", id: "b" },
      { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage },
    ],
  ];
  return new MockLanguageModelV4({ doStream: async () => ({ stream: simulateReadableStream({ chunks: steps[call++]!, chunkDelayInMs: null }) }) });
}

const tools = {
  lookup: tool({ inputSchema: z.object({ q: z.string() }), execute: async ({ q }) => ({ found: q }) }),
  broken: tool({
    inputSchema: z.object({}),
    execute: async (): Promise<{ ok: true }> => {
      throw new Error("the tool broke");
    },
  }),
};

const onError = () => "model_error: something failed";

function run() {
  return experimental_streamTextLowMemory({ model: model(), prompt: "hi", tools, stopWhen: isStepCount(3), maxRetries: 0, onError: () => {} });
}

async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream as unknown as AsyncIterable<T>) items.push(item);
  return items;
}

describe("mapping the model's stream parts to UI chunks", () => {
  it("gives clients exactly the chunks of the SDK's toUIMessageStream, tool errors and invalid calls included", async () => {
    const expected = await collect<UIMessageChunk>(toUIMessageStream({ stream: run().stream, sendStart: false, onError }));
    const toChunk = uiChunkMapper(onError);
    const mapped = (await collect(run().stream)).map(toChunk).filter((chunk) => chunk !== undefined);

    expect(mapped).toEqual(expected);
    // The run covered what the mapping must get right.
    const types = new Set(mapped.map((chunk) => chunk.type));
    for (const type of ["reasoning-delta", "text-delta", "tool-input-available", "tool-output-available", "tool-input-error", "tool-output-error", "finish-step", "finish"]) {
      expect(types, type).toContain(type);
    }
    // The invalid call's error is reported once, as its input error.
    expect(mapped.filter((chunk) => "toolCallId" in chunk && chunk.toolCallId === "c2").map((chunk) => chunk.type)).toEqual(["tool-input-error"]);
  });
});
