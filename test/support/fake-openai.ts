import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback, readBody } from "../../dev/loopback";

/**
 * A local OpenAI-compatible server for tests (Node). It speaks the streaming wire formats
 * `@ai-sdk/openai` 4 parses:
 * - `POST /v1/chat/completions` with `stream: true`: `chat.completion.chunk` SSE lines, a usage
 *   chunk when `stream_options.include_usage` is set, then `data: [DONE]`;
 * - `POST /v1/responses` with `stream: true`: the Responses API events, from `response.created`
 *   to `response.completed` (with usage).
 *
 * The reply is `Fake OpenAI reply to: <last user text>`, one delta per word. If the last user
 * text starts with `/fail-before` the answer is HTTP 500 with an OpenAI error body; with
 * `/fail-mid` three deltas are streamed, then the connection is dropped. Usage counts words:
 * prompt = words of all message text, completion = deltas.
 *
 * Tools, as OpenAI checks and speaks them: a request whose history holds a tool call without its
 * result (or a result without its call) answers HTTP 400 as OpenAI does ("An assistant message
 * with 'tool_calls' must be followed by tool messages…"), for Chat Completions (`tool_calls` /
 * `role: "tool"`) and Responses (`function_call` / `function_call_output`) alike. On Chat
 * Completions, a last user text `/tool <name> <json args>` makes the reply one call of that tool
 * (finish reason `tool_calls`); once the history ends with a tool message, the reply is
 * `Fake OpenAI reply to tool result: <its content>`.
 *
 * Timing, for the benchmark: the server's options set a time to first token (`ttftMs`), a pause
 * before every later delta (`deltaDelayMs`) and, with `tokens`, a reply of exactly that many
 * deltas (`tok1 tok2 …`) instead of the echo. A last user text starting with
 * `/fake ttft=MS gap=MS tokens=N` (any subset, in any order) overrides them for that request.
 *
 * Every authorised model request is recorded: `GET /__requests` lists them as
 * `[{ path, body }]` (`?contains=<text>` keeps those whose raw body contains the text, so tests
 * running in parallel can pick their own by a unique marker); `DELETE /__requests` clears the list.
 * `GET /__timings` lists the last {@link MAX_TIMINGS} streamed replies as {@link ReplyTiming}s
 * (`?since=<epoch ms>` keeps those that arrived later); `DELETE /__timings` clears them.
 * Model routes need `Authorization: Bearer <non-empty>` (401 otherwise). Non-streaming requests
 * get a 400: parley only streams.
 *
 * `POST /v1/audio/transcriptions` (multipart: `file`, `model`) answers `{ text }`: the audio's
 * bytes after `say:` when they start so, else `Fake transcription of <n> bytes`; audio starting
 * `/fail` gets HTTP 500, `/silence` an empty text. Recorded as `{ path, body: { model, fileName,
 * fileType, bytes } }`, found by `?contains=` on the audio's first bytes.
 */
export interface FakeOpenAIOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** Pause before each delta after the first, in ms. @default 0 */
  deltaDelayMs?: number;
  /** Pause between the request's arrival and the first delta, in ms. @default deltaDelayMs */
  ttftMs?: number;
  /** Reply with exactly this many deltas (`tok1 tok2 …`); unset: echo the user text. */
  tokens?: number;
}

/** When one streamed reply's request arrived and its first and last deltas were written, in epoch ms. */
export interface ReplyTiming {
  path: string;
  /** The last user text, e.g. a benchmark's marker. */
  userText: string;
  arrivedAt: number;
  /** Null when no delta was written (failed or dropped before the first). */
  firstTokenAt: number | null;
  lastTokenAt: number | null;
  deltas: number;
}

export interface FakeOpenAI {
  /** Base URL ending in `/v1`, for `createOpenAI({ baseURL })`. */
  url: string;
  close(): Promise<void>;
}

export interface RecordedRequest {
  path: string;
  body: unknown;
}

/** Deltas streamed by `/fail-mid` before the connection drops. */
const FAIL_MID_DELTAS = 3;
/** Timings kept for `GET /__timings`: enough for a benchmark run, bounded for a long-lived server. */
export const MAX_TIMINGS = 20_000;
const MODEL_ROUTES = new Set(["/v1/chat/completions", "/v1/responses"]);
const TRANSCRIPTION_ROUTE = "/v1/audio/transcriptions";

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const { port = 0 } = options;
  const recorded: { raw: string; request: RecordedRequest }[] = [];
  const timings: ReplyTiming[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, "server_error", `fake-openai: ${String(error)}`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake-openai.local");
    if (url.pathname === "/__requests") {
      if (req.method === "DELETE") {
        recorded.length = 0;
        res.writeHead(204).end();
        return;
      }
      const contains = url.searchParams.get("contains");
      const matching = recorded.filter((r) => contains === null || r.raw.includes(contains)).map((r) => r.request);
      sendJson(res, 200, matching);
      return;
    }
    if (url.pathname === "/__timings") {
      if (req.method === "DELETE") {
        timings.length = 0;
        res.writeHead(204).end();
        return;
      }
      const since = Number(url.searchParams.get("since") ?? 0);
      sendJson(res, 200, timings.filter((t) => t.arrivedAt > since));
      return;
    }
    if (req.method === "POST" && url.pathname === TRANSCRIPTION_ROUTE) {
      await transcription(req, res);
      return;
    }
    if (req.method !== "POST" || !MODEL_ROUTES.has(url.pathname)) {
      sendError(res, 404, "invalid_request_error", `Unknown request URL: ${req.method} ${url.pathname}.`);
      return;
    }
    if (!/^Bearer \S+/.test(req.headers.authorization ?? "")) {
      sendError(res, 401, "invalid_request_error", "You didn't provide an API key.", "invalid_api_key");
      return;
    }
    const arrivedAt = nowMs();
    const raw = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      sendError(res, 400, "invalid_request_error", "We could not parse the JSON body of your request.");
      return;
    }
    recorded.push({ raw, request: { path: url.pathname, body } });
    if (body.stream !== true) {
      sendError(res, 400, "invalid_request_error", "fake-openai only answers streaming requests (stream: true).");
      return;
    }

    const chat = url.pathname === "/v1/chat/completions";
    const messages = chat ? body.messages : body.input;
    const unanswered = unpairedToolCalls(messages);
    if (unanswered) {
      sendError(res, 400, "invalid_request_error", unanswered);
      return;
    }
    const userText = lastUserText(messages);
    if (userText.startsWith("/fail-before")) {
      sendError(res, 500, "server_error", "The server had an error while processing your request. (fake-openai /fail-before)");
      return;
    }
    const pace = paceOf(userText, options);
    const toolResult = chat ? trailingToolResult(messages) : undefined;
    const toolCall = chat && toolResult === undefined ? requestedToolCall(userText) : undefined;
    const text = toolResult === undefined ? `Fake OpenAI reply to: ${userText}` : `Fake OpenAI reply to tool result: ${toolResult}`;
    const reply = {
      model: typeof body.model === "string" ? body.model : "fake-model",
      deltas: toolCall ? [] : pace.tokens === undefined ? toDeltas(text) : numberedDeltas(pace.tokens),
      ...(toolCall ? { toolCall } : {}),
      promptTokens: countWords(messages),
      failMid: userText.startsWith("/fail-mid"),
      includeUsage: (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
    };
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
    const events = chat ? chatEvents(reply) : responsesEvents(reply);
    const timing: ReplyTiming = { path: url.pathname, userText, arrivedAt, firstTokenAt: null, lastTokenAt: null, deltas: 0 };
    if (timings.push(timing) > MAX_TIMINGS) timings.shift();
    for (const event of events) {
      if (event.delta) {
        if (reply.failMid && timing.deltas === FAIL_MID_DELTAS) {
          res.destroy();
          return;
        }
        // The first delta is due `ttftMs` after arrival, however long reading the body took.
        const pause = timing.deltas === 0 ? arrivedAt + pace.ttftMs - nowMs() : pace.deltaDelayMs;
        if (pause > 0) await sleep(pause);
      }
      if (res.destroyed) return;
      await write(res, event.frame);
      if (event.delta) {
        timing.lastTokenAt = nowMs();
        timing.firstTokenAt ??= timing.lastTokenAt;
        timing.deltas++;
      }
    }
    res.end();
  }

  async function transcription(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!/^Bearer \S+/.test(req.headers.authorization ?? "")) {
      sendError(res, 401, "invalid_request_error", "You didn't provide an API key.", "invalid_api_key");
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    let form: FormData;
    try {
      const contentType = req.headers["content-type"] ?? "";
      form = await new Request("http://fake-openai.local", { method: "POST", headers: { "content-type": contentType }, body: Buffer.concat(chunks) }).formData();
    } catch {
      sendError(res, 400, "invalid_request_error", "Could not parse multipart form.");
      return;
    }
    const file = form.get("file");
    const model = form.get("model");
    if (!(file instanceof File) || typeof model !== "string") {
      sendError(res, 400, "invalid_request_error", "Both `file` and `model` are required.");
      return;
    }
    const audio = Buffer.from(await file.arrayBuffer()).toString("latin1");
    recorded.push({
      raw: audio.slice(0, 200),
      request: { path: TRANSCRIPTION_ROUTE, body: { model, fileName: file.name, fileType: file.type, bytes: file.size } },
    });
    if (audio.startsWith("/fail")) {
      sendError(res, 500, "server_error", "The server had an error while processing your request. (fake-openai /fail)");
      return;
    }
    const text = audio.startsWith("/silence") ? "" : audio.startsWith("say:") ? audio.slice(4) : `Fake transcription of ${file.size} bytes`;
    sendJson(res, 200, { text });
  }

  const listening = await listenOnLoopback(server, port);
  return { url: `${listening.origin}/v1`, close: listening.close };
}

interface Reply {
  model: string;
  deltas: string[];
  /** Chat Completions only: the reply is this one tool call instead of text. */
  toolCall?: { id: string; name: string; arguments: string };
  promptTokens: number;
  includeUsage: boolean;
}

interface SseEvent {
  frame: string;
  /** The event carries a text delta (counted by `/fail-mid`, delayed by `deltaDelayMs`). */
  delta?: boolean;
}

function* chatEvents({ model, deltas, promptTokens, includeUsage, toolCall }: Reply): Generator<SseEvent> {
  const base = { id: `chatcmpl-${randomUUID()}`, object: "chat.completion.chunk", created: nowSeconds(), model, system_fingerprint: null };
  const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
  const choice = (delta: object, finish_reason: string | null) => ({ index: 0, delta, logprobs: null, finish_reason });
  if (toolCall) {
    const call = { index: 0, id: toolCall.id, type: "function", function: { name: toolCall.name, arguments: "" } };
    yield { frame: data({ ...base, choices: [choice({ role: "assistant", content: null, tool_calls: [call] }, null)] }) };
    yield { frame: data({ ...base, choices: [choice({ tool_calls: [{ index: 0, function: { arguments: toolCall.arguments } }] }, null)] }), delta: true };
    yield { frame: data({ ...base, choices: [choice({}, "tool_calls")] }) };
  } else {
    yield { frame: data({ ...base, choices: [choice({ role: "assistant", content: "" }, null)] }) };
    for (const content of deltas) yield { frame: data({ ...base, choices: [choice({ content }, null)] }), delta: true };
    yield { frame: data({ ...base, choices: [choice({}, "stop")] }) };
  }
  if (includeUsage) {
    const usage = { prompt_tokens: promptTokens, completion_tokens: deltas.length, total_tokens: promptTokens + deltas.length };
    yield { frame: data({ ...base, choices: [], usage }) };
  }
  yield { frame: "data: [DONE]\n\n" };
}

function* responsesEvents({ model, deltas, promptTokens }: Reply): Generator<SseEvent> {
  let sequence = 0;
  const event = (type: string, fields: object) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`;
  const responseId = `resp_${randomUUID().replaceAll("-", "")}`;
  const itemId = `msg_${randomUUID().replaceAll("-", "")}`;
  const text = deltas.join("");
  const response = { id: responseId, object: "response", created_at: nowSeconds(), model, output: [] as object[], usage: null };
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  const part = { type: "output_text", text, annotations: [] };
  const message = { id: itemId, type: "message", role: "assistant" };

  yield { frame: event("response.created", { response: { ...response, status: "in_progress" } }) };
  yield { frame: event("response.in_progress", { response: { ...response, status: "in_progress" } }) };
  yield { frame: event("response.output_item.added", { output_index: 0, item: { ...message, status: "in_progress", content: [] } }) };
  yield { frame: event("response.content_part.added", { ...at, part: { ...part, text: "" } }) };
  for (const delta of deltas) yield { frame: event("response.output_text.delta", { ...at, delta, logprobs: [] }), delta: true };
  yield { frame: event("response.output_text.done", { ...at, text, logprobs: [] }) };
  yield { frame: event("response.content_part.done", { ...at, part }) };
  const done = { ...message, status: "completed", content: [part] };
  yield { frame: event("response.output_item.done", { output_index: 0, item: done }) };
  const usage = {
    input_tokens: promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: deltas.length,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: promptTokens + deltas.length,
  };
  yield {
    frame: event("response.completed", {
      response: { ...response, status: "completed", output: [done], incomplete_details: null, usage },
    }),
  };
}

/** Text of a chat `content` or Responses `content`: a string or an array of text parts. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: { text?: unknown }) => (typeof part?.text === "string" ? part.text : ""))
    .filter((text) => text !== "")
    .join("\n");
}

function lastUserText(messages: unknown): string {
  if (typeof messages === "string") return messages.trim();
  if (!Array.isArray(messages)) return "";
  const user = messages.findLast((m: { role?: unknown }) => m?.role === "user") as { content?: unknown } | undefined;
  return contentText(user?.content).trim();
}

type WireItem = { role?: unknown; type?: unknown; tool_calls?: Array<{ id?: unknown }>; tool_call_id?: unknown; call_id?: unknown; content?: unknown };

/**
 * OpenAI's own check of a request's history: every tool call answered by a result after it,
 * every result answering an earlier call. The error text when not, else undefined.
 */
function unpairedToolCalls(messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  const open = new Set<string>();
  for (const item of messages as WireItem[]) {
    const calls = item?.role === "assistant" ? (item.tool_calls ?? []).map((call) => String(call?.id)) : item?.type === "function_call" ? [String(item.call_id)] : [];
    calls.forEach((id) => open.add(id));
    const answered = item?.role === "tool" ? String(item.tool_call_id) : item?.type === "function_call_output" ? String(item.call_id) : undefined;
    if (answered !== undefined && !open.delete(answered)) {
      return `Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (tool_call_id ${answered})`;
    }
  }
  if (open.size === 0) return undefined;
  return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...open].join(", ")}`;
}

/** The content of the history's last message when it is a tool result (the step after a tool ran). */
function trailingToolResult(messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  const last = messages.at(-1) as WireItem | undefined;
  return last?.role === "tool" ? contentText(last.content) : undefined;
}

/** `/tool <name> <json args>` → the call to make. */
function requestedToolCall(userText: string): Reply["toolCall"] {
  const match = /^\/tool\s+([\w.-]+)(?:\s+([\s\S]*))?$/.exec(userText);
  if (!match?.[1]) return undefined;
  return { id: `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`, name: match[1], arguments: match[2]?.trim() || "{}" };
}

function countWords(messages: unknown): number {
  const texts = typeof messages === "string" ? [messages] : Array.isArray(messages) ? messages.map((m) => contentText(m?.content)) : [];
  return texts.reduce((sum, text) => sum + (text.trim() === "" ? 0 : text.trim().split(/\s+/).length), 0);
}

interface Pace {
  ttftMs: number;
  deltaDelayMs: number;
  tokens?: number;
}

/** The server's pacing, overridden by a leading `/fake ttft=… gap=… tokens=…` directive. */
function paceOf(userText: string, { deltaDelayMs = 0, ttftMs, tokens }: FakeOpenAIOptions): Pace {
  const pace: Pace = { ttftMs: ttftMs ?? deltaDelayMs, deltaDelayMs, tokens };
  if (!userText.startsWith("/fake ")) return pace;
  for (const [, key, value] of userText.matchAll(/\b(ttft|gap|tokens)=(\d+)/g)) {
    if (key === "ttft") pace.ttftMs = Number(value);
    else if (key === "gap") pace.deltaDelayMs = Number(value);
    else pace.tokens = Number(value);
  }
  return pace;
}

/** `count` deltas `tok1 `, `tok2 `, …, the last without its trailing space. */
function numberedDeltas(count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i < count - 1 ? `tok${i + 1} ` : `tok${i + 1}`));
}

function toDeltas(text: string): string[] {
  const words = text.split(" ");
  return words.map((word, i) => (i < words.length - 1 ? `${word} ` : word));
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(value));
}

function sendError(res: ServerResponse, status: number, type: string, message: string, code: string | null = null): void {
  sendJson(res, status, { error: { message, type, param: null, code } });
}

/** Resolves once the frame is handed to the socket, so a later `destroy()` cannot swallow it. */
function write(res: ServerResponse, frame: string): Promise<void> {
  return new Promise((resolve, reject) => res.write(frame, (error) => (error ? reject(error) : resolve())));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Epoch time with sub-millisecond precision, comparable across processes on one machine. */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
