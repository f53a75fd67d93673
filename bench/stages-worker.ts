/**
 * The stream stages of a reply, one by one, with no I/O (`npm run bench -- --stages`): a Worker
 * whose `GET /stages?case=…&tokens=…&turns=…` runs `turns` replies of `tokens` tokens through
 * one case, entirely in memory, so the workerd's CPU around the request is the case's own cost.
 * The bench runs each case at two lengths: the difference, divided by the extra tokens, is the
 * cost of a token.
 *
 * - `parse`: the model's stream (OpenAI chat completion chunks, two events per read, as parley's
 *   20 ms window hands them on at 10 ms a token) decoded and parsed with one `JSON.parse` per
 *   event: what the floor does;
 * - `provider`: the same bytes through `@ai-sdk/openai`'s `doStream`;
 * - `stream-text`: `streamText` (the single-consumer variant parley uses) over the SDK's mock
 *   model, one text delta per token: the SDK's engine alone;
 * - `sdk`: provider and `streamText` together, as a reply without parley's windows passes them;
 * - `stages-0`, `stages-10`: the chunks through 0 or 10 identity `TransformStream`s: the
 *   runtime's cost of one stream stage.
 */
import { createOpenAI } from "@ai-sdk/openai";
import type { LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { experimental_streamTextLowMemory as streamTextSingleConsumer } from "ai";
import { convertArrayToReadableStream, MockLanguageModelV4 } from "ai/test";
import { sseData } from "./sse";
import type { StageCase } from "./stage-cases";

const encoder = new TextEncoder();
const EVENTS_PER_READ = 2;

const CASES: Record<StageCase, (tokens: number) => Promise<number>> = {
  parse: (tokens) => drain(parsedEvents(modelBody(tokens))),
  provider: async (tokens) => {
    const { stream } = await openai(tokens).doStream({ prompt: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });
    return drain(stream);
  },
  "stream-text": (tokens) => drain(streamTextSingleConsumer({ model: mockModel(tokens), prompt: "hi" }).stream),
  sdk: (tokens) => drain(streamTextSingleConsumer({ model: openai(tokens), prompt: "hi" }).stream),
  "stages-0": (tokens) => drain(throughStages(modelBody(tokens), 0)),
  "stages-10": (tokens) => drain(throughStages(modelBody(tokens), 10)),
};

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/readyz") return new Response("ok");
    const name = url.searchParams.get("case") ?? "";
    if (url.pathname !== "/stages" || !(name in CASES)) return new Response(`GET /stages?case=${Object.keys(CASES).join("|")}&tokens=N&turns=N`, { status: 404 });
    const run = CASES[name as StageCase];
    const tokens = Number(url.searchParams.get("tokens") ?? 50);
    const turns = Number(url.searchParams.get("turns") ?? 100);
    // Ten replies at a time, as concurrent turns interleave in one isolate.
    let chunks = 0;
    for (let done = 0; done < turns; done += 10) {
      const counts = await Promise.all(Array.from({ length: Math.min(10, turns - done) }, () => run(tokens)));
      chunks += counts.reduce((a, b) => a + b, 0);
    }
    return Response.json({ chunksPerTurn: chunks / turns });
  },
};

/** A chat completion stream of `tokens` one-word deltas, as the fake model sends it. */
function modelBody(tokens: number): ReadableStream<Uint8Array> {
  const event = (fields: object) => `data: ${JSON.stringify({ id: "chatcmpl-stages", object: "chat.completion.chunk", created: 1, model: "fake", ...fields })}\n\n`;
  const choice = (delta: object, finish_reason: string | null = null) => event({ choices: [{ index: 0, delta, finish_reason }] });
  const reads = [choice({ role: "assistant", content: "" })];
  for (let i = 0; i < tokens; i += EVENTS_PER_READ) {
    let read = "";
    for (let k = i; k < Math.min(tokens, i + EVENTS_PER_READ); k++) read += choice({ content: ` word${k}` });
    reads.push(read);
  }
  reads.push(choice({}, "stop") + event({ choices: [], usage: { prompt_tokens: 10, completion_tokens: tokens, total_tokens: 10 + tokens } }) + "data: [DONE]\n\n");
  return convertArrayToReadableStream(reads.map((read) => encoder.encode(read)));
}

function openai(tokens: number) {
  const fetch = async () => new Response(modelBody(tokens), { headers: { "content-type": "text/event-stream" } });
  return createOpenAI({ apiKey: "sk-stages", baseURL: "http://model.invalid/v1", fetch }).chat("fake");
}

function mockModel(tokens: number): MockLanguageModelV4 {
  const parts: LanguageModelV4StreamPart[] = [{ type: "stream-start", warnings: [] }, { type: "text-start", id: "t" }];
  for (let i = 0; i < tokens; i++) parts.push({ type: "text-delta", id: "t", delta: ` word${i}` });
  parts.push(
    { type: "text-end", id: "t" },
    {
      type: "finish",
      finishReason: { unified: "stop", raw: "stop" },
      usage: { inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: tokens, text: tokens, reasoning: 0 } },
    },
  );
  return new MockLanguageModelV4({ doStream: async () => ({ stream: convertArrayToReadableStream(parts) }) });
}

async function* parsedEvents(body: ReadableStream<Uint8Array>): AsyncIterable<unknown> {
  for await (const data of sseData(body)) yield JSON.parse(data);
}

function throughStages(body: ReadableStream<Uint8Array>, stages: number): ReadableStream<Uint8Array> {
  let stream = body;
  for (let i = 0; i < stages; i++) stream = stream.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (chunk, controller) => controller.enqueue(chunk) }));
  return stream;
}

/** Reads to the end; the number of chunks read. */
async function drain(source: ReadableStream<unknown> | AsyncIterable<unknown>): Promise<number> {
  let chunks = 0;
  for await (const _ of source as AsyncIterable<unknown>) chunks++;
  return chunks;
}
