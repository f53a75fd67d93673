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
 * Every authorised model request is recorded: `GET /__requests` lists them as
 * `[{ path, body }]` (`?contains=<text>` keeps those whose raw body contains the text, so tests
 * running in parallel can pick their own by a unique marker); `DELETE /__requests` clears the list.
 * Model routes need `Authorization: Bearer <non-empty>` (401 otherwise). Non-streaming requests
 * get a 400: parley only streams.
 */
export interface FakeOpenAIOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** Pause between streamed deltas, in ms. @default 0 */
  deltaDelayMs?: number;
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
const MODEL_ROUTES = new Set(["/v1/chat/completions", "/v1/responses"]);

export async function startFakeOpenAI({ port = 0, deltaDelayMs = 0 }: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const recorded: { raw: string; request: RecordedRequest }[] = [];

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
    if (req.method !== "POST" || !MODEL_ROUTES.has(url.pathname)) {
      sendError(res, 404, "invalid_request_error", `Unknown request URL: ${req.method} ${url.pathname}.`);
      return;
    }
    if (!/^Bearer \S+/.test(req.headers.authorization ?? "")) {
      sendError(res, 401, "invalid_request_error", "You didn't provide an API key.", "invalid_api_key");
      return;
    }
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
    const userText = lastUserText(messages);
    if (userText.startsWith("/fail-before")) {
      sendError(res, 500, "server_error", "The server had an error while processing your request. (fake-openai /fail-before)");
      return;
    }
    const reply = {
      model: typeof body.model === "string" ? body.model : "fake-model",
      deltas: toDeltas(`Fake OpenAI reply to: ${userText}`),
      promptTokens: countWords(messages),
      failMid: userText.startsWith("/fail-mid"),
      includeUsage: (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
    };
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
    const events = chat ? chatEvents(reply) : responsesEvents(reply);
    let deltasSent = 0;
    for (const event of events) {
      if (event.delta) {
        if (reply.failMid && deltasSent === FAIL_MID_DELTAS) {
          res.destroy();
          return;
        }
        deltasSent++;
        if (deltaDelayMs > 0) await sleep(deltaDelayMs);
      }
      if (res.destroyed) return;
      await write(res, event.frame);
    }
    res.end();
  }

  const listening = await listenOnLoopback(server, port);
  return { url: `${listening.origin}/v1`, close: listening.close };
}

interface Reply {
  model: string;
  deltas: string[];
  promptTokens: number;
  includeUsage: boolean;
}

interface SseEvent {
  frame: string;
  /** The event carries a text delta (counted by `/fail-mid`, delayed by `deltaDelayMs`). */
  delta?: boolean;
}

function* chatEvents({ model, deltas, promptTokens, includeUsage }: Reply): Generator<SseEvent> {
  const base = { id: `chatcmpl-${randomUUID()}`, object: "chat.completion.chunk", created: nowSeconds(), model, system_fingerprint: null };
  const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
  const choice = (delta: object, finish_reason: string | null) => ({ index: 0, delta, logprobs: null, finish_reason });
  yield { frame: data({ ...base, choices: [choice({ role: "assistant", content: "" }, null)] }) };
  for (const content of deltas) yield { frame: data({ ...base, choices: [choice({ content }, null)] }), delta: true };
  yield { frame: data({ ...base, choices: [choice({}, "stop")] }) };
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

function countWords(messages: unknown): number {
  const texts = typeof messages === "string" ? [messages] : Array.isArray(messages) ? messages.map((m) => contentText(m?.content)) : [];
  return texts.reduce((sum, text) => sum + (text.trim() === "" ? 0 : text.trim().split(/\s+/).length), 0);
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

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
