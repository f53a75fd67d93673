import type { LanguageModelV4Prompt, LanguageModelV4StreamPart, LanguageModelV4ToolResultOutput } from "@ai-sdk/provider";
import {
  generateText,
  isStepCount,
  NoSuchToolError,
  streamText,
  tool,
  type StopCondition,
  type TextStreamPart,
  type ToolSet,
} from "ai";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createScriptedModel, DEV_MODEL_PREFIX } from "../../src/model/scripted";

const DELAY_MS = 2;
const ORDER = { orderId: "A1", status: "shipped" };

/** `get_order_status` and `list_orders`, with spies on their `execute`. */
function orderTools(getOrderStatus: (input: { orderId: string }) => Promise<unknown> = async () => ORDER) {
  const getSpy = vi.fn(getOrderStatus);
  const listSpy = vi.fn(async (_input: Record<string, never>) => [ORDER]);
  const tools = {
    get_order_status: tool({ inputSchema: z.object({ orderId: z.string() }), execute: getSpy }),
    list_orders: tool({ inputSchema: z.object({}), execute: listSpy }),
  };
  return { tools, getSpy, listSpy };
}

/** Runs `streamText` with tools to its end; retries off so failures are immediate. */
async function run(prompt: string, tools: ToolSet, stopWhen: StopCondition<ToolSet> = isStepCount(5)) {
  const result = streamText({
    model: createScriptedModel({ delayMs: DELAY_MS }),
    prompt,
    tools,
    stopWhen,
    maxRetries: 0,
    // The default logs every error; the tests assert on the parts instead.
    onError: () => {},
  });
  const parts: TextStreamPart<ToolSet>[] = [];
  for await (const part of result.stream) parts.push(part);
  const types = parts.map((p) => p.type);
  return { result, parts, types, steps: await result.steps };
}

describe("/tool through streamText", () => {
  it("calls the tool with the parsed args, then quotes its result word by word, in two steps", async () => {
    const { tools, getSpy } = orderTools();
    const { result, parts, steps } = await run('/tool get_order_status {"orderId": "A1"}', tools);

    expect(getSpy).toHaveBeenCalledTimes(1);
    expect(getSpy.mock.calls[0]?.[0]).toEqual({ orderId: "A1" });
    const text = `${DEV_MODEL_PREFIX} The tool get_order_status returned: {"orderId":"A1","status":"shipped"}.`;
    expect(await result.text).toBe(text);
    const deltas = parts.flatMap((p) => (p.type === "text-delta" ? [p.text] : []));
    expect(deltas).toEqual(text.split(" ").map((word, i, all) => (i < all.length - 1 ? `${word} ` : word)));

    expect(steps.map((s) => s.finishReason)).toEqual(["tool-calls", "stop"]);
    expect(steps[0]?.text).toBe("");
    expect(steps[0]?.toolCalls).toMatchObject([{ toolName: "get_order_status", input: { orderId: "A1" } }]);
    expect(steps[0]?.toolCalls[0]?.toolCallId).toMatch(/^call_/);
    expect(steps[0]?.toolResults).toMatchObject([{ toolName: "get_order_status", output: ORDER }]);
    // Words: step 1 reads the user's 4 words and emits one tool call; step 2 also reads the
    // call's compact input (1) and the quoted result (1), and emits the sentence's words.
    expect(steps.map((s) => [s.usage.inputTokens, s.usage.outputTokens])).toEqual([
      [4, 1],
      [6, deltas.length],
    ]);
    expect(await result.finishReason).toBe("stop");
  });

  it("streams the tool call's input before the call, as real providers do", async () => {
    const { tools } = orderTools();
    const { types } = await run('/tool get_order_status {"orderId":"A1"}', tools);
    expect(types.slice(0, types.indexOf("finish-step") + 1)).toEqual([
      "start",
      "start-step",
      "tool-input-start",
      "tool-input-delta",
      "tool-input-end",
      "tool-call",
      "tool-result",
      "finish-step",
    ]);
  });

  it("passes {} when /tool has no args", async () => {
    const { tools, listSpy } = orderTools();
    const { result, steps } = await run("/tool list_orders", tools);
    expect(listSpy).toHaveBeenCalledTimes(1);
    expect(listSpy.mock.calls[0]?.[0]).toEqual({});
    expect(await result.text).toBe(`${DEV_MODEL_PREFIX} The tool list_orders returned: [{"orderId":"A1","status":"shipped"}].`);
    expect(steps).toHaveLength(2);
  });

  it("quotes the error when the tool throws", async () => {
    const { tools } = orderTools(async () => {
      throw new Error("Order service is down.");
    });
    const { result, types, steps } = await run('/tool get_order_status {"orderId":"A1"}', tools);
    expect(types).toContain("tool-error");
    expect(types).not.toContain("tool-result");
    // The SDK sends the model `error-text` with the error's text; the sentence does not double the period.
    expect(await result.text).toMatch(/^\(parley local dev model\) The tool get_order_status failed: .*Order service is down\.$/);
    expect(steps.map((s) => s.finishReason)).toEqual(["tool-calls", "stop"]);
  });

  it.each([
    ["invalid JSON", "/tool get_order_status {orderId: A1}", "tool"],
    ["a JSON array", "/tool get_order_status [1]", "tool"],
    ["no tool name", '/tool {"orderId":"A1"}', "tool"],
    ["invalid JSON for /tool-loop", "/tool-loop get_order_status {", "tool-loop"],
  ])("answers %s with a usage reply and no call", async (_, prompt, name) => {
    const { tools, getSpy } = orderTools();
    const { result, types, steps } = await run(prompt, tools);
    expect(await result.text).toBe(
      `${DEV_MODEL_PREFIX} /${name} needs a tool name, then optionally its arguments as a JSON object, e.g. /${name} get_order_status {"orderId":"A1"}.`,
    );
    expect(types).not.toContain("tool-call");
    expect(getSpy).not.toHaveBeenCalled();
    expect(steps).toHaveLength(1);
    expect(await result.finishReason).toBe("stop");
  });

  it("/tool-loop calls the tool in every step until the step limit, never answering", async () => {
    const { tools, getSpy } = orderTools();
    const { result, parts, steps } = await run('/tool-loop get_order_status {"orderId":"A1"}', tools, isStepCount(3));
    const calls = parts.flatMap((p) => (p.type === "tool-call" ? [p.toolCallId] : []));
    expect(calls).toHaveLength(3);
    expect(new Set(calls).size).toBe(3);
    expect(getSpy).toHaveBeenCalledTimes(3);
    expect(steps.map((s) => s.finishReason)).toEqual(["tool-calls", "tool-calls", "tool-calls"]);
    expect(await result.text).toBe("");
    expect(await result.finishReason).toBe("tool-calls");
  });

  it("reports an unknown tool as a tool-error part, then answers with that error", async () => {
    const { tools, getSpy, listSpy } = orderTools();
    const { result, parts, steps } = await run('/tool cancel_order {"orderId":"A1"}', tools);
    const errors = parts.flatMap((p) => (p.type === "tool-error" ? [p] : []));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ toolName: "cancel_order", input: { orderId: "A1" } });
    // The tool-call part carries the NoSuchToolError; the tool-error part has only its text.
    const call = parts.find((p) => p.type === "tool-call");
    expect(call).toMatchObject({ toolName: "cancel_order", invalid: true });
    expect(NoSuchToolError.isInstance(call?.type === "tool-call" && "error" in call ? call.error : undefined)).toBe(true);
    expect(getSpy).not.toHaveBeenCalled();
    expect(listSpy).not.toHaveBeenCalled();
    // The SDK still runs the next step, sending the error as the tool's result.
    expect(steps.map((s) => s.finishReason)).toEqual(["tool-calls", "stop"]);
    expect(await result.text).toMatch(
      /^\(parley local dev model\) The tool cancel_order failed: .*unavailable tool 'cancel_order'\. Available tools: get_order_status, list_orders\.$/,
    );
  });

  it("stops within about one delay tick when aborted mid-loop, and streamText reports the abort", async () => {
    const controller = new AbortController();
    const { tools } = orderTools();
    const result = streamText({
      model: createScriptedModel({ delayMs: 20 }),
      prompt: '/tool-loop get_order_status {"orderId":"A1"}',
      tools,
      stopWhen: isStepCount(20),
      abortSignal: controller.signal,
      maxRetries: 0,
    });
    const types: string[] = [];
    let abortedAt = 0;
    for await (const part of result.stream) {
      types.push(part.type);
      // The second step's call has started; its input delta is one delay away.
      if (part.type === "tool-input-start" && types.filter((t) => t === "tool-input-start").length === 2) {
        abortedAt = Date.now();
        controller.abort();
      }
    }
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
    expect(types.filter((t) => t === "tool-call")).toHaveLength(1);
    expect(types.at(-1)).toBe("abort");
    expect(types).not.toContain("error");
  });

  it("works through generateText (doGenerate) too", async () => {
    const { tools, getSpy } = orderTools();
    const result = await generateText({
      model: createScriptedModel({ delayMs: 0 }),
      prompt: '/tool get_order_status {"orderId":"A1"}',
      tools,
      stopWhen: isStepCount(5),
      maxRetries: 0,
    });
    expect(getSpy).toHaveBeenCalledTimes(1);
    expect(result.steps.map((s) => s.finishReason)).toEqual(["tool-calls", "stop"]);
    expect(result.text).toBe(`${DEV_MODEL_PREFIX} The tool get_order_status returned: {"orderId":"A1","status":"shipped"}.`);
  });
});

describe("/tool (LanguageModelV4 contract)", () => {
  const USER: LanguageModelV4Prompt[number] = {
    role: "user",
    content: [{ type: "text", text: '/tool get_order_status {"orderId":"A1"}' }],
  };

  async function readAll(prompt: LanguageModelV4Prompt, maxOutputTokens?: number): Promise<LanguageModelV4StreamPart[]> {
    const model = createScriptedModel({ delayMs: 0 });
    const { stream } = await model.doStream({ prompt, ...(maxOutputTokens === undefined ? {} : { maxOutputTokens }) });
    const parts: LanguageModelV4StreamPart[] = [];
    for await (const part of stream) parts.push(part);
    return parts;
  }

  function afterResult(output: LanguageModelV4ToolResultOutput): LanguageModelV4Prompt {
    return [
      USER,
      { role: "assistant", content: [{ type: "tool-call", toolCallId: "call_1", toolName: "get_order_status", input: { orderId: "A1" } }] },
      { role: "tool", content: [{ type: "tool-result", toolCallId: "call_1", toolName: "get_order_status", output }] },
    ];
  }

  async function answerTo(output: LanguageModelV4ToolResultOutput): Promise<string> {
    const parts = await readAll(afterResult(output));
    return parts.flatMap((p) => (p.type === "text-delta" ? [p.delta] : [])).join("");
  }

  it("emits the input as a JSON string and finishes with tool-calls", async () => {
    const parts = await readAll([USER]);
    const id = parts.find((p) => p.type === "tool-call")?.toolCallId;
    expect(parts.slice(2)).toEqual([
      { type: "tool-input-start", id, toolName: "get_order_status" },
      { type: "tool-input-delta", id, delta: '{"orderId":"A1"}' },
      { type: "tool-input-end", id },
      { type: "tool-call", toolCallId: id, toolName: "get_order_status", input: '{"orderId":"A1"}' },
      {
        type: "finish",
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage: {
          inputTokens: { total: 3, noCache: 3, cacheRead: 0, cacheWrite: 0 },
          outputTokens: { total: 1, text: 0, reasoning: 0 },
        },
      },
    ]);
  });

  it("gives a fresh toolCallId in each call", async () => {
    const ids = await Promise.all([readAll([USER]), readAll([USER])]).then((runs) =>
      runs.map((parts) => parts.find((p) => p.type === "tool-call")?.toolCallId),
    );
    expect(ids[0]).toBeDefined();
    expect(ids[0]).not.toBe(ids[1]);
  });

  it.each<[string, LanguageModelV4ToolResultOutput, string]>([
    ["json", { type: "json", value: { ok: true, items: [1, 2] } }, 'returned: {"ok":true,"items":[1,2]}.'],
    ["text", { type: "text", value: "Shipped\n  yesterday" }, "returned: Shipped yesterday."],
    ["error-text", { type: "error-text", value: "Order service is down." }, "failed: Order service is down."],
    ["error-json", { type: "error-json", value: { code: 503 } }, 'failed: {"code":503}.'],
    ["execution-denied with a reason", { type: "execution-denied", reason: "User said no" }, "was not run: User said no."],
    ["execution-denied", { type: "execution-denied" }, "was not run."],
    [
      "content",
      { type: "content", value: [{ type: "text", text: "A chart:" }, { type: "file", data: { type: "url", url: new URL("https://x.test/c.png") }, mediaType: "image/png" }] },
      "returned: A chart: [image/png content].",
    ],
  ])("quotes a %s result", async (_, output, ending) => {
    expect(await answerTo(output)).toBe(`${DEV_MODEL_PREFIX} The tool get_order_status ${ending}`);
  });

  it("cuts a long result at 1000 characters", async () => {
    const text = await answerTo({ type: "text", value: "x".repeat(1500) });
    expect(text).toBe(`${DEV_MODEL_PREFIX} The tool get_order_status returned: ${"x".repeat(1000)} …`);
  });

  it("answers a result only for /tool; /tool-loop calls again", async () => {
    const prompt = afterResult({ type: "json", value: ORDER });
    prompt[0] = { role: "user", content: [{ type: "text", text: '/tool-loop get_order_status {"orderId":"A1"}' }] };
    const parts = await readAll(prompt);
    expect(parts.map((p) => p.type)).not.toContain("text-delta");
    expect(parts.at(-1)).toMatchObject({ type: "finish", finishReason: { unified: "tool-calls" } });
  });

  it("finishes with length and no call when maxOutputTokens leaves no room", async () => {
    const parts = await readAll([USER], 0);
    expect(parts.map((p) => p.type)).toEqual(["stream-start", "response-metadata", "finish"]);
    expect(parts.at(-1)).toMatchObject({ finishReason: { unified: "length" } });
  });
});
