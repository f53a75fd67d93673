import type {
  LanguageModelV4Prompt,
  LanguageModelV4ToolResultOutput,
  LanguageModelV4ToolResultPart,
} from "@ai-sdk/provider";

import { readRenderedPageContext } from "../page-context/render";

// What the scripted dev model says: the directive table and its reading of the prompt. The
// streaming is in `scripted.ts`.

/** Every reply starts with this, so nobody mistakes the dev model for a real one. Four words. */
export const DEV_MODEL_PREFIX = "(parley local dev model)";

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

/** What the model will do for one call: the words it emits and, optionally, where it fails. */
export interface Script {
  /** The whole reply, prefix included; streamed one whitespace-separated word per text-delta. */
  text: string;
  /** Fail after emitting this many words (0: before the first token). Absent: finish normally. */
  failAfterWords?: number;
  /** A tool call emitted after the text; the call then finishes with reason `tool-calls`. */
  toolCall?: ScriptedToolCall;
}

export interface ScriptedToolCall {
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
  context({ args, prompt }) {
    if (!/^[\w.-]+$/.test(args)) return reply("/context needs a page context key, e.g. /context cart.");
    const context = pageContextIn(prompt);
    if (context === null) return reply("The page sent no context.");
    if (!Object.hasOwn(context, args)) return reply(`The page context has no ${args}.`);
    return reply(`The page context says ${args} is ${JSON.stringify(context[args])}.`);
  },
};

/** The page context block the turn rendered into the prompt (a user message of its own), if any. */
function pageContextIn(prompt: LanguageModelV4Prompt): Record<string, unknown> | null {
  for (const message of prompt) {
    if (message.role !== "user") continue;
    for (const part of message.content) {
      const context = part.type === "text" ? readRenderedPageContext(part.text) : null;
      if (context) return context;
    }
  }
  return null;
}

export function scriptFor(prompt: LanguageModelV4Prompt): Script {
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

export function quoteToolOutput(output: LanguageModelV4ToolResultOutput): string {
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

export function wordCount(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
}
