import {
  APICallError,
  type LanguageModelV4,
  type LanguageModelV4CallOptions,
  type LanguageModelV4FinishReason,
  type LanguageModelV4Prompt,
  type LanguageModelV4StreamPart,
  type LanguageModelV4ToolCall,
  type LanguageModelV4Usage,
} from "@ai-sdk/provider";
import { DEV_MODEL_PREFIX, quoteToolOutput, scriptFor, wordCount } from "./scripts";

export { DEV_MODEL_PREFIX };

const PROVIDER = "parley.scripted";
/** Pseudo endpoint named in the errors this model raises, as HTTP providers name theirs. */
const ERROR_URL = "scripted://parley.local/generate";

export interface ScriptedModelOptions {
  /** Pause before each streamed word, in ms. */
  delayMs: number;
  /** @default "parley-scripted" */
  modelId?: string;
}

/**
 * A deterministic model for local development: no key, no network, and every reply starts with
 * {@link DEV_MODEL_PREFIX}.
 *
 * It answers the last user message: "You said: <text>." (whitespace collapsed, at most 40 words),
 * or a greeting when there is no user text. A directive at the start of that message steers it:
 * - `/words N` — the prefix, then exactly N words `word1 … wordN` (0 ≤ N ≤ 5000; anything else
 *   gets a one-line usage hint);
 * - `/fail-before` — after one delay the call rejects, as a provider answering HTTP 500 does:
 *   no text, and `streamText` emits an `error` part;
 * - `/fail-mid` — streams the prefix and three more words, then an `error` part and a `finish`
 *   with reason `error`, as OpenAI's in-band `error` event does;
 * - `/tool <name> <json args>` — calls tool `<name>` with `<json args>` (a JSON object, default
 *   `{}`): no text, one tool call, finish reason `tool-calls`. When the prompt ends with the
 *   tool's result (the next step, after `streamText` ran the tool), it answers in one sentence
 *   quoting the result: "The tool <name> returned: <result>." (JSON compact, text as is) or
 *   "The tool <name> failed: <error>.", or for a call the visitor denied "The tool <name> was not
 *   run: <reason>.". With a tool that needs approval or a client tool the turn ends waiting, and
 *   the answer's turn (the prompt then ends with the call's result) gets that sentence: this is
 *   how the dev model drives approvals and client tools. A name outside `[A-Za-z0-9_.-]` or
 *   arguments that are not a JSON object get a one-line usage hint and no call;
 * - `/tool-loop <name> <json args>` — same grammar, but calls the tool in every step and never
 *   answers, to show the per-turn step limit at work: the turn engine stops after `MAX_STEPS`
 *   (20) steps and reports `tool_cycle_limit` (`src/turn/run.ts`).
 * - `/context <key>` — reads the page context block the turn rendered into the prompt
 *   (`src/page-context/render.ts`) and answers "The page context says <key> is <JSON value>.",
 *   "The page context has no <key>." or "The page sent no context.": what a browser test needs to
 *   see a pushed context change the reply.
 * A directive needs a known name right after the `/`; any other text gets the default reply.
 *
 * Streaming emits one text-delta per word, trailing space included (the last word has none),
 * waiting `delayMs` before each. A tool call streams as `tool-input-start`, one
 * `tool-input-delta` holding the whole input (after one delay), `tool-input-end` and `tool-call`,
 * as OpenAI's provider does. When the call's signal aborts, the pending wait stops and the
 * stream errors with the signal's reason, as an aborted `fetch` body does. Failures are
 * non-retryable {@link APICallError}s (status 500), so `streamText` does not back off and retry.
 * Usage counts words: input = whitespace-separated words of all prompt text, tool inputs and
 * quoted tool results; output = deltas emitted (text deltas, plus one per tool call).
 * `maxOutputTokens` caps the deltas emitted (finish reason `length`, and no tool call if cut).
 */
export function createScriptedModel({ delayMs, modelId = "parley-scripted" }: ScriptedModelOptions): LanguageModelV4 {
  return {
    specificationVersion: "v4",
    provider: PROVIDER,
    modelId,
    supportedUrls: {},

    async doGenerate(options) {
      options.abortSignal?.throwIfAborted();
      const plan = planCall(options);
      if (plan.failAfterWords !== undefined) throw scriptedFailure(plan.failAfterWords, options);
      return {
        content: [
          ...(plan.words.length > 0 || !plan.toolCall ? [{ type: "text" as const, text: plan.words.join("") }] : []),
          ...(plan.toolCall ? [plan.toolCall] : []),
        ],
        finishReason: plan.finishReason,
        usage: usageOf(plan),
        warnings: [],
        response: { modelId, timestamp: new Date() },
      };
    },

    async doStream(options) {
      const signal = options.abortSignal;
      // Like fetch: an already-aborted signal rejects the call itself.
      signal?.throwIfAborted();
      const plan = planCall(options);
      if (plan.failAfterWords === 0) {
        // Like a provider answering the request with an error status: the call rejects, no stream.
        await sleep(delayMs, signal).catch(() => signal?.throwIfAborted());
        throw scriptedFailure(0, options);
      }
      const parts = streamParts(plan, modelId, options);
      const canceled = new AbortController();

      const stream = new ReadableStream<LanguageModelV4StreamPart>({
        async pull(controller) {
          const next = parts.next();
          if (next.done) return controller.close();
          const { part, delayed } = next.value;
          if (delayed) {
            try {
              await sleep(delayMs, signal, canceled.signal);
            } catch {
              // Canceled by the consumer: nobody is listening. Aborted: error like an aborted fetch's body.
              if (signal?.aborted) controller.error(signal.reason);
              return;
            }
          }
          controller.enqueue(part);
        },
        cancel() {
          canceled.abort();
        },
      });
      return { stream, request: { body: { model: modelId, prompt: options.prompt } } };
    },
  };
}

interface Plan {
  /** Text deltas to emit, in order. */
  words: string[];
  /** Emitted after the text, with a fresh id. */
  toolCall?: LanguageModelV4ToolCall;
  inputTokens: number;
  finishReason: LanguageModelV4FinishReason;
  /** Fail after emitting `words` (already cut to this length). */
  failAfterWords?: number;
}

function planCall(options: LanguageModelV4CallOptions): Plan {
  const script = scriptFor(options.prompt);
  let words = toDeltas(script.text);
  if (script.failAfterWords !== undefined) words = words.slice(0, script.failAfterWords);
  const inputTokens = countPromptWords(options.prompt);
  const cap = options.maxOutputTokens;
  if (cap !== undefined && words.length + (script.toolCall ? 1 : 0) > cap) {
    // A real model cut off at its token limit finishes normally with `length`, whatever it meant to do next.
    return { words: words.slice(0, cap), inputTokens, finishReason: { unified: "length", raw: "length" } };
  }
  if (script.toolCall) {
    const toolCall: LanguageModelV4ToolCall = { type: "tool-call", toolCallId: `call_${crypto.randomUUID()}`, ...script.toolCall };
    return { words, toolCall, inputTokens, finishReason: { unified: "tool-calls", raw: "tool_calls" } };
  }
  return {
    words,
    inputTokens,
    finishReason: { unified: "stop", raw: "stop" },
    ...(script.failAfterWords === undefined ? {} : { failAfterWords: words.length }),
  };
}

function* streamParts(
  plan: Plan,
  modelId: string,
  options: LanguageModelV4CallOptions,
): Generator<{ part: LanguageModelV4StreamPart; delayed?: boolean }> {
  const textId = "0";
  yield { part: { type: "stream-start", warnings: [] } };
  yield { part: { type: "response-metadata", id: `scripted-${crypto.randomUUID()}`, timestamp: new Date(), modelId } };
  if (plan.words.length > 0) yield { part: { type: "text-start", id: textId } };
  for (const delta of plan.words) yield { part: { type: "text-delta", id: textId, delta }, delayed: true };
  let finishReason = plan.finishReason;
  if (plan.failAfterWords !== undefined) {
    // Like OpenAI's in-band `error` event: an error part, then the stream finishes with reason `error`.
    yield { part: { type: "error", error: scriptedFailure(plan.failAfterWords, options) }, delayed: true };
    finishReason = { unified: "error", raw: "error" };
  }
  if (plan.words.length > 0) yield { part: { type: "text-end", id: textId } };
  const call = plan.toolCall;
  if (call) {
    yield { part: { type: "tool-input-start", id: call.toolCallId, toolName: call.toolName } };
    yield { part: { type: "tool-input-delta", id: call.toolCallId, delta: call.input }, delayed: true };
    yield { part: { type: "tool-input-end", id: call.toolCallId } };
    yield { part: call };
  }
  yield { part: { type: "finish", finishReason, usage: usageOf(plan) } };
}

/** Splits on single spaces so each delta is a word plus its trailing space; the last has none. */
function toDeltas(text: string): string[] {
  if (text === "") return [];
  const words = text.split(" ");
  return words.map((word, i) => (i < words.length - 1 ? `${word} ` : word));
}

function countPromptWords(prompt: LanguageModelV4Prompt): number {
  let count = 0;
  for (const message of prompt) {
    if (message.role === "system") {
      count += wordCount(message.content);
      continue;
    }
    for (const part of message.content) {
      if (part.type === "text") count += wordCount(part.text);
      else if (part.type === "tool-call") count += wordCount(JSON.stringify(part.input) ?? "");
      else if (part.type === "tool-result") count += wordCount(quoteToolOutput(part.output));
    }
  }
  return count;
}

/** Output counts the deltas a plan emits: one per word, one per tool call. */
function usageOf({ inputTokens, words, toolCall }: Plan): LanguageModelV4Usage {
  return {
    inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: words.length + (toolCall ? 1 : 0), text: words.length, reasoning: 0 },
  };
}

function scriptedFailure(afterWords: number, options: LanguageModelV4CallOptions): APICallError {
  const where = afterWords === 0 ? "before the first token" : `after ${afterWords} words`;
  return new APICallError({
    message: `The scripted dev model failed ${where}, as requested by a /fail directive.`,
    url: ERROR_URL,
    requestBodyValues: { prompt: options.prompt },
    statusCode: 500,
    // Retrying a scripted failure would only fail again, slower.
    isRetryable: false,
  });
}

/** Resolves after `ms`; rejects as soon as either signal aborts. */
function sleep(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const active = signals.filter((s): s is AbortSignal => s !== undefined);
    const onAbort = () => {
      clearTimeout(timer);
      for (const s of active) s.removeEventListener("abort", onAbort);
      reject(new Error("aborted"));
    };
    const timer = setTimeout(() => {
      for (const s of active) s.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    for (const s of active) s.addEventListener("abort", onAbort, { once: true });
    if (active.some((s) => s.aborted)) onAbort();
  });
}
