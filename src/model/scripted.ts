import {
  APICallError,
  type LanguageModelV4,
  type LanguageModelV4CallOptions,
  type LanguageModelV4FinishReason,
  type LanguageModelV4Prompt,
  type LanguageModelV4StreamPart,
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
}

interface DirectiveContext {
  /** Text after the directive name, trimmed. */
  args: string;
  prompt: LanguageModelV4Prompt;
}

/**
 * Directives recognised at the very start of the last user message, as `/name args`.
 * Adding one (e.g. `/tool <name> <json args>`, which will also need `Script` to carry a tool
 * call and the handler to look for the tool result in `prompt`) is one entry here.
 */
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
 *   with reason `error`, as OpenAI's in-band `error` event does.
 * A directive needs a known name right after the `/`; any other text gets the default reply.
 *
 * Streaming emits one text-delta per word, trailing space included (the last word has none),
 * waiting `delayMs` before each. When the call's signal aborts, the pending wait stops and the
 * stream errors with the signal's reason, as an aborted `fetch` body does. Failures are
 * non-retryable {@link APICallError}s (status 500), so `streamText` does not back off and retry.
 * Usage counts words: input = whitespace-separated words of all prompt text, output = text
 * deltas emitted. `maxOutputTokens` caps the deltas emitted (finish reason `length`).
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
        content: [{ type: "text", text: plan.words.join("") }],
        finishReason: plan.finishReason,
        usage: usageOf(plan.inputTokens, plan.words.length),
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
  if (cap !== undefined && words.length > cap) {
    // A real model cut off at its token limit finishes normally with `length`, whatever it meant to do next.
    return { words: words.slice(0, cap), inputTokens, finishReason: { unified: "length", raw: "length" } };
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
  yield { part: { type: "finish", finishReason, usage: usageOf(plan.inputTokens, plan.words.length) } };
}

function scriptFor(prompt: LanguageModelV4Prompt): Script {
  const text = lastUserText(prompt).trim();
  const directive = /^\/([a-z][a-z-]*)(?:\s+([\s\S]*))?$/.exec(text);
  const handler = directive?.[1] === undefined ? undefined : DIRECTIVES[directive[1]];
  if (directive && handler) return handler({ args: (directive[2] ?? "").trim(), prompt });
  if (text === "") {
    return reply("Hello! I am the scripted model for local development. Try /words 20, /fail-before or /fail-mid.");
  }
  const words = text.split(/\s+/);
  const echoed = words.length > MAX_ECHOED_WORDS ? `${words.slice(0, MAX_ECHOED_WORDS).join(" ")} …` : words.join(" ");
  const stop = /[.!?…]$/.test(echoed) ? "" : ".";
  return reply(`You said: ${echoed}${stop} This is a scripted reply; no AI provider was called.`);
}

function reply(body: string): Script {
  return { text: body === "" ? DEV_MODEL_PREFIX : `${DEV_MODEL_PREFIX} ${body}` };
}

function lastUserText(prompt: LanguageModelV4Prompt): string {
  const message = prompt.findLast((m) => m.role === "user");
  if (message?.role !== "user") return "";
  return message.content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("\n");
}

/** Splits on single spaces so each delta is a word plus its trailing space; the last has none. */
function toDeltas(text: string): string[] {
  const words = text.split(" ");
  return words.map((word, i) => (i < words.length - 1 ? `${word} ` : word));
}

function countPromptWords(prompt: LanguageModelV4Prompt): number {
  let count = 0;
  for (const message of prompt) {
    if (message.role === "system") count += wordCount(message.content);
    else for (const part of message.content) if (part.type === "text") count += wordCount(part.text);
  }
  return count;
}

function wordCount(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
}

function usageOf(inputTokens: number, outputTokens: number): LanguageModelV4Usage {
  return {
    inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: outputTokens, text: outputTokens, reasoning: 0 },
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
