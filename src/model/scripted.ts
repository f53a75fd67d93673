import {
  APICallError,
  type LanguageModelV4,
  type LanguageModelV4CallOptions,
  type LanguageModelV4FinishReason,
  type LanguageModelV4Prompt,
  type LanguageModelV4StreamPart,
  type LanguageModelV4ToolCall,
  type LanguageModelV4ToolResultOutput,
  type LanguageModelV4ToolResultPart,
  type LanguageModelV4Usage,
} from "@ai-sdk/provider";

/** Every reply starts with this, so nobody mistakes the dev model for a real one. Four words. */
export const DEV_MODEL_PREFIX = "(parley local dev model)";

const PROVIDER = "parley.scripted";
/** Pseudo endpoint named in the errors this model raises, as HTTP providers name theirs. */
const ERROR_URL = "scripted://parley.local/generate";
/** `/words N` accepts 0 to this many words. */
const MAX_SCRIPTED_WORDS = 5000;
/** `/fail-mid` emits the prefix and this many more words before failing. */
const FAIL_MID_WORDS = 3;
/** The default reply echoes at most this many words of the user's message. */
const MAX_ECHOED_WORDS = 40;
/** The answer after a tool ran quotes at most this many characters of its result. */
const MAX_QUOTED_CHARS = 1000;
/** `/tool` arguments: a tool name, then optionally a JSON object. */
const TOOL_ARGS = /^([\w.-]+)(?:\s+([\s\S]*))?$/;

export interface ScriptedModelOptions {
  /** Pause before each streamed word, in ms. */
  delayMs: number;
  /** @default "parley-scripted" */
  modelId?: string;
}

/** What the model will do for one call: the words it emits and, optionally, where it fails. */
interface Script {
  /** The whole reply, prefix included; streamed one whitespace-separated word per text-delta. */
  text: string;
  /** Fail after emitting this many words (0: before the first token). Absent: finish normally. */
  failAfterWords?: number;
  /** A tool call emitted after the text; the call then finishes with reason `tool-calls`. */
  toolCall?: ScriptedToolCall;
}

interface ScriptedToolCall {
  toolName: string;
  /** JSON-encoded arguments, as `LanguageModelV4ToolCall.input` wants them. */
  input: string;
}

interface DirectiveContext {
  /** Text after the directive name, trimmed. */
  args: string;
  prompt: LanguageModelV4Prompt;
}

/** Directives recognised at the very start of the last user message, as `/name args`. */
const DIRECTIVES: Record<string, (context: DirectiveContext) => Script> = {
  words({ args }) {
    const count = /^\d+$/.test(args) ? Number(args) : Number.NaN;
    if (!(count <= MAX_SCRIPTED_WORDS)) {
      return reply(`/words needs a whole number from 0 to ${MAX_SCRIPTED_WORDS}, e.g. /words 20.`);
    }
    return reply(Array.from({ length: count }, (_, i) => `word${i + 1}`).join(" "));
  },
  "fail-before": () => ({ text: DEV_MODEL_PREFIX, failAfterWords: 0 }),
  "fail-mid": () => ({
    text: `${DEV_MODEL_PREFIX} This reply breaks off here`,
    failAfterWords: wordCount(DEV_MODEL_PREFIX) + FAIL_MID_WORDS,
  }),
  tool({ args, prompt }) {
    const call = parseToolCall(args);
    if (call === undefined) return toolUsage("tool");
    // The step after the tool ran: the prompt ends with its result.
    const result = trailingToolResult(prompt);
    return result === undefined ? { text: "", toolCall: call } : reply(describeToolResult(result));
  },
  "tool-loop": ({ args }) => {
    const call = parseToolCall(args);
    return call === undefined ? toolUsage("tool-loop") : { text: "", toolCall: call };
  },
};

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
 *   "The tool <name> failed: <error>.". A name outside `[A-Za-z0-9_.-]` or arguments that are not
 *   a JSON object get a one-line usage hint and no call;
 * - `/tool-loop <name> <json args>` — same grammar, but calls the tool in every step and never
 *   answers, to show the per-turn step limit at work: the turn engine stops after `MAX_STEPS`
 *   (20) steps and reports `tool_cycle_limit` (`src/turn/run.ts`).
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

function scriptFor(prompt: LanguageModelV4Prompt): Script {
  const text = lastUserText(prompt).trim();
  const directive = /^\/([a-z][a-z-]*)(?:\s+([\s\S]*))?$/.exec(text);
  const name = directive?.[1];
  // Own keys only: `/constructor` must not reach Object.prototype.
  if (name !== undefined && Object.hasOwn(DIRECTIVES, name)) {
    return DIRECTIVES[name]!({ args: (directive?.[2] ?? "").trim(), prompt });
  }
  if (text === "") {
    return reply(
      "Hello! I am the scripted model for local development. Try /words 20, /fail-before, /fail-mid or /tool <name> <json args>.",
    );
  }
  const words = text.split(/\s+/);
  const echoed = words.length > MAX_ECHOED_WORDS ? `${words.slice(0, MAX_ECHOED_WORDS).join(" ")} …` : words.join(" ");
  const stop = /[.!?…]$/.test(echoed) ? "" : ".";
  return reply(`You said: ${echoed}${stop} This is a scripted reply; no AI provider was called.`);
}

function reply(body: string): Script {
  return { text: body === "" ? DEV_MODEL_PREFIX : `${DEV_MODEL_PREFIX} ${body}` };
}

/** `<name> <json object>` → the call to make; `undefined` when malformed. */
function parseToolCall(args: string): ScriptedToolCall | undefined {
  const match = TOOL_ARGS.exec(args);
  if (!match?.[1]) return undefined;
  let input: unknown;
  try {
    input = JSON.parse(match[2] ?? "{}");
  } catch {
    return undefined;
  }
  // Providers send tool arguments as an object, and the SDK validates them against an object schema.
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  return { toolName: match[1], input: JSON.stringify(input) };
}

function toolUsage(name: "tool" | "tool-loop"): Script {
  return reply(
    `/${name} needs a tool name, then optionally its arguments as a JSON object, e.g. /${name} get_order_status {"orderId":"A1"}.`,
  );
}

/** The last tool result, when the prompt ends with a `tool` message (the step after a tool ran). */
function trailingToolResult(prompt: LanguageModelV4Prompt): LanguageModelV4ToolResultPart | undefined {
  const last = prompt.at(-1);
  if (last?.role !== "tool") return undefined;
  return last.content.findLast((part) => part.type === "tool-result");
}

/** The verb of the sentence answering each kind of tool output. */
const TOOL_OUTCOME: Record<LanguageModelV4ToolResultOutput["type"], string> = {
  text: "returned",
  json: "returned",
  content: "returned",
  "error-text": "failed",
  "error-json": "failed",
  "execution-denied": "was not run",
};

function describeToolResult({ toolName, output }: LanguageModelV4ToolResultPart): string {
  const quoted = quoteToolOutput(output).replace(/\s+/g, " ").trim();
  const cut = quoted.length > MAX_QUOTED_CHARS ? `${quoted.slice(0, MAX_QUOTED_CHARS)} …` : quoted;
  const sentence = `The tool ${toolName} ${TOOL_OUTCOME[output.type]}${cut === "" ? "" : `: ${cut}`}`;
  return /[.!?…]$/.test(sentence) ? sentence : `${sentence}.`;
}

function quoteToolOutput(output: LanguageModelV4ToolResultOutput): string {
  switch (output.type) {
    case "text":
    case "error-text":
      return output.value;
    case "json":
    case "error-json":
      return JSON.stringify(output.value);
    case "execution-denied":
      return output.reason ?? "";
    case "content":
      return output.value
        .map((part) => (part.type === "text" ? part.text : `[${part.type === "file" ? part.mediaType : "custom"} content]`))
        .join(" ");
  }
}

function lastUserText(prompt: LanguageModelV4Prompt): string {
  const message = prompt.findLast((m) => m.role === "user");
  if (message?.role !== "user") return "";
  return message.content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("\n");
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

function wordCount(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
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
