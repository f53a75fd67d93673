import { APICallError, type LanguageModelV4, type LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { streamText, type LanguageModel, type ModelMessage, type TextStreamPart, type ToolSet } from "ai";
import { describe, expect, inject, it } from "vitest";
import { ModelUnavailableError, resolveModel, type ModelEnvironment } from "../../src/model/provider";
import { createScriptedModel, DEV_MODEL_PREFIX } from "../../src/model/scripted";
import type { ModelSettings } from "../../src/templates/config";

const DELAY_MS = 2;
// These tests look at single deltas: coalescing (test/worker/coalesce.test.ts) is off here.
const DEV: ModelEnvironment = { environment: "development", devModelDelayMs: DELAY_MS, coalesceWindowMs: 0 };
const SCRIPTED: ModelSettings = { provider: "scripted", modelId: "parley-scripted", api: "chat" };

interface Collected {
  parts: TextStreamPart<ToolSet>[];
  /** Concatenated text deltas. */
  text: string;
  deltas: string[];
  errors: unknown[];
  /** What iterating `result.stream` threw, if it did. */
  thrown?: unknown;
}

/** Runs `streamText` to its end and gathers what it streamed; retries off so failures are immediate. */
async function run(
  model: LanguageModel,
  input: string | ModelMessage[],
  options: { system?: string; abortSignal?: AbortSignal; maxOutputTokens?: number } = {},
) {
  const result = streamText({
    model,
    ...(typeof input === "string" ? { prompt: input } : { messages: input }),
    ...options,
    maxRetries: 0,
    // The default logs every error; the tests assert on the parts instead.
    onError: () => {},
  });
  const collected: Collected = { parts: [], text: "", deltas: [], errors: [] };
  try {
    for await (const part of result.stream) {
      collected.parts.push(part);
      if (part.type === "text-delta") {
        collected.deltas.push(part.text);
        collected.text += part.text;
      }
      if (part.type === "error") collected.errors.push(part.error);
    }
  } catch (error) {
    collected.thrown = error;
  }
  return { result, ...collected };
}

function wordsAfterPrefix(text: string): string[] {
  expect(text.startsWith(`${DEV_MODEL_PREFIX} `) || text === DEV_MODEL_PREFIX).toBe(true);
  const rest = text.slice(DEV_MODEL_PREFIX.length).trim();
  return rest === "" ? [] : rest.split(/\s+/);
}

describe("scripted dev model through streamText", () => {
  const model = () => createScriptedModel({ delayMs: DELAY_MS });

  it("echoes the last user message, marked as the dev model, one word per delta", async () => {
    const { text, deltas, result } = await run(model(), [
      { role: "user", content: "first question" },
      { role: "assistant", content: "first answer" },
      { role: "user", content: "  hello\n  there  " },
    ]);
    expect(text).toBe(`${DEV_MODEL_PREFIX} You said: hello there. This is a scripted reply; no AI provider was called.`);
    expect(deltas).toEqual(text.split(" ").map((word, i, all) => (i < all.length - 1 ? `${word} ` : word)));
    expect(await result.finishReason).toBe("stop");
  });

  it("gives exactly N words after the prefix for /words N, and counts usage in words", async () => {
    const { text, result } = await run(model(), "/words 5", { system: "three word system" });
    expect(wordsAfterPrefix(text)).toEqual(["word1", "word2", "word3", "word4", "word5"]);
    const usage = await result.usage;
    expect(usage.inputTokens).toBe(5); // "three word system" + "/words 5"
    expect(usage.outputTokens).toBe(4 + 5); // prefix words + scripted words
    expect(await result.finishReason).toBe("stop");
  });

  it("handles /words 0 and rejects a bad count with a usage hint", async () => {
    expect(wordsAfterPrefix((await run(model(), "/words 0")).text)).toEqual([]);
    const { text } = await run(model(), "/words many");
    expect(text).toContain("/words needs a whole number");
  });

  it("treats only a known name at the start of the message as a directive", async () => {
    expect((await run(model(), "please /fail-before")).text).toContain("You said: please /fail-before.");
    expect((await run(model(), "/constructor x")).text).toContain("You said: /constructor x.");
    expect((await run(model(), "/fail-beforehand")).text).toContain("You said: /fail-beforehand.");
  });

  it("stops at maxOutputTokens words with finish reason length", async () => {
    const { text, result } = await run(model(), "/words 50", { maxOutputTokens: 6 });
    expect(wordsAfterPrefix(text)).toEqual(["word1", "word2"]);
    expect(await result.finishReason).toBe("length");
  });

  it("/fail-before surfaces an error part and no text", async () => {
    const { parts, deltas, errors, result } = await run(model(), "/fail-before");
    expect(deltas).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(APICallError.isInstance(errors[0])).toBe(true);
    expect((errors[0] as APICallError).statusCode).toBe(500);
    // doStream rejected, like an HTTP error: no step started, and the result has no output.
    expect(parts.map((p) => p.type)).toEqual(["start", "error"]);
    await expect(result.text).rejects.toThrow();
  });

  it("/fail-mid streams the prefix and three words, then an error part", async () => {
    const { parts, text, errors, result } = await run(model(), "/fail-mid");
    expect(wordsAfterPrefix(text)).toHaveLength(3);
    expect(errors).toHaveLength(1);
    const types = parts.map((p) => p.type);
    expect(types.indexOf("error")).toBeGreaterThan(types.lastIndexOf("text-delta"));
    expect(await result.finishReason).toBe("error");
    expect((await result.usage).outputTokens).toBe(7);
  });

  it("greets when there is no user text", async () => {
    const scripted = model();
    const { content } = await scripted.doGenerate({ prompt: [{ role: "system", content: "Be kind." }] });
    expect(content).toEqual([{ type: "text", text: expect.stringMatching(/^\(parley local dev model\) Hello!/) }]);
  });

  it("stops within about one delay tick when aborted, and streamText reports the abort", async () => {
    const delayMs = 20;
    const controller = new AbortController();
    const result = streamText({
      model: createScriptedModel({ delayMs }),
      prompt: "/words 500", // ~10 s if it ran to the end
      abortSignal: controller.signal,
      maxRetries: 0,
    });
    const types: string[] = [];
    let deltas = 0;
    let abortedAt = 0;
    for await (const part of result.stream) {
      types.push(part.type);
      if (part.type === "text-delta" && ++deltas === 3) {
        abortedAt = Date.now();
        controller.abort();
      }
    }
    const stoppedAfterMs = Date.now() - abortedAt;
    expect(deltas).toBe(3);
    expect(types.at(-1)).toBe("abort");
    expect(types).not.toContain("error");
    expect(stoppedAfterMs).toBeLessThan(1_000);
  });
});

describe("scripted dev model (LanguageModelV4 contract)", () => {
  async function readAll(model: LanguageModelV4, text: string): Promise<LanguageModelV4StreamPart[]> {
    const { stream } = await model.doStream({ prompt: [{ role: "user", content: [{ type: "text", text }] }] });
    const parts: LanguageModelV4StreamPart[] = [];
    for await (const part of stream) parts.push(part);
    return parts;
  }

  it("streams text parts between stream-start and a V4 finish part", async () => {
    const parts = await readAll(createScriptedModel({ delayMs: 0, modelId: "dev-x" }), "/words 2");
    expect(parts.map((p) => p.type)).toEqual([
      "stream-start",
      "response-metadata",
      "text-start",
      ...Array(6).fill("text-delta"),
      "text-end",
      "finish",
    ]);
    expect(parts.find((p) => p.type === "response-metadata")).toMatchObject({ modelId: "dev-x" });
    expect(parts.at(-1)).toEqual({
      type: "finish",
      finishReason: { unified: "stop", raw: "stop" },
      usage: {
        inputTokens: { total: 2, noCache: 2, cacheRead: 0, cacheWrite: 0 },
        outputTokens: { total: 6, text: 6, reasoning: 0 },
      },
    });
  });

  it("errors its stream with the signal's reason as soon as the call is aborted", async () => {
    const controller = new AbortController();
    const model = createScriptedModel({ delayMs: 50 });
    const { stream } = await model.doStream({
      prompt: [{ role: "user", content: [{ type: "text", text: "/words 100" }] }],
      abortSignal: controller.signal,
    });
    const reader = stream.getReader();
    while ((await reader.read()).value?.type !== "text-delta");
    const pending = reader.read();
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });

  it("rejects a call whose signal is already aborted", async () => {
    const model = createScriptedModel({ delayMs: 0 });
    await expect(model.doStream({ prompt: [], abortSignal: AbortSignal.abort() })).rejects.toMatchObject({
      name: "AbortError",
    });
  });
});

describe("resolveModel", () => {
  it("gives the scripted model outside production", () => {
    const model = resolveModel(SCRIPTED, { ...DEV, environment: "preview" });
    expect(model).toMatchObject({ specificationVersion: "v4", provider: "parley.scripted", modelId: "parley-scripted" });
  });

  it("refuses the scripted model in production", () => {
    const resolve = () => resolveModel(SCRIPTED, { ...DEV, environment: "production" });
    expect(resolve).toThrow(ModelUnavailableError);
    expect(resolve).toThrow(expect.objectContaining({ reason: "scripted_in_production" }));
  });

  it("refuses openai without an API key", () => {
    const resolve = () => resolveModel({ provider: "openai", modelId: "gpt-x", api: "chat" }, DEV);
    expect(resolve).toThrow(expect.objectContaining({ name: "ModelUnavailableError", reason: "openai_key_missing" }));
  });

  it("picks the Responses or Chat Completions API", () => {
    const env = { ...DEV, environment: "production" as const, openaiApiKey: "sk-test" };
    expect(resolveModel({ provider: "openai", modelId: "gpt-x", api: "responses" }, env)).toMatchObject({
      provider: "openai.responses",
      modelId: "gpt-x",
    });
    expect(resolveModel({ provider: "openai", modelId: "gpt-x", api: "chat" }, env)).toMatchObject({
      provider: "openai.chat",
      modelId: "gpt-x",
    });
  });
});

describe.each(["responses", "chat"] as const)("openai provider against the fake server (%s API)", (api) => {
  const baseUrl = inject("openaiBaseUrl");
  const model = () =>
    resolveModel({ provider: "openai", modelId: "gpt-fake", api }, { ...DEV, openaiApiKey: "sk-fake", openaiBaseUrl: baseUrl });

  async function recordedRequests(marker: string): Promise<{ path: string; body: Record<string, unknown> }[]> {
    const res = await fetch(`${baseUrl.replace(/\/v1$/, "")}/__requests?contains=${encodeURIComponent(marker)}`);
    return res.json();
  }

  it("streams the full reply with usage, and sends the system prompt and history", async () => {
    const marker = crypto.randomUUID();
    const { text, deltas, errors, result } = await run(
      model(),
      [
        { role: "user", content: "Hi there" },
        { role: "assistant", content: "Hello, how can I help?" },
        { role: "user", content: `What is ${marker}?` },
      ],
      { system: "You are the parley test agent." },
    );
    expect(errors).toEqual([]);
    expect(text).toBe(`Fake OpenAI reply to: What is ${marker}?`);
    expect(deltas.length).toBeGreaterThan(1);
    const usage = await result.usage;
    expect(usage.inputTokens).toBe(6 + 2 + 5 + 3); // words of the system prompt and the three messages
    expect(usage.outputTokens).toBe(deltas.length);
    expect(await result.finishReason).toBe("stop");

    const [request, ...more] = await recordedRequests(marker);
    expect(more).toEqual([]);
    expect(request?.path).toBe(api === "chat" ? "/v1/chat/completions" : "/v1/responses");
    const sent = api === "chat" ? request?.body.messages : request?.body.input;
    expect(sent).toEqual([
      { role: "system", content: "You are the parley test agent." },
      api === "chat" ? { role: "user", content: "Hi there" } : { role: "user", content: [{ type: "input_text", text: "Hi there" }] },
      { role: "assistant", content: "Hello, how can I help?" },
      api === "chat"
        ? { role: "user", content: `What is ${marker}?` }
        : { role: "user", content: [{ type: "input_text", text: `What is ${marker}?` }] },
    ]);
  });

  it("surfaces a provider 500 as an error part with no text", async () => {
    const { deltas, errors } = await run(model(), `/fail-before ${crypto.randomUUID()}`);
    expect(deltas).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ statusCode: 500 });
  });

  it("makes result.stream throw, with no error part, when the connection drops mid-stream", async () => {
    // Unlike an in-band error event, a dropped connection errors the provider's stream, and
    // streamText passes that on as a thrown error: callers must catch around the stream.
    const { deltas, errors, thrown } = await run(model(), `/fail-mid ${crypto.randomUUID()}`);
    expect(deltas).toEqual(["Fake ", "OpenAI ", "reply "]);
    expect(errors).toEqual([]);
    expect(thrown).toMatchObject({ name: "AI_APICallError" });
  });
});
