import { jsonSchema, tool, type JSONSchema7, type Tool } from "ai";
import type { HttpTool } from "../templates/config";
import { renderText, secretValues } from "../templates/render";
import { abortable } from "./abort";
import type { Redactor } from "./redact";

export interface HttpToolContext {
  /** Template variables of the session: `{name}`. */
  vars: Record<string, string>;
  /** Template secrets: `{secret.NAME}`. Filled in here, on the server, and redacted from everything returned. */
  secrets: Record<string, string>;
  redactor: Redactor;
  /** @default the global fetch */
  fetch?: typeof fetch;
}

/** What the model reads back. A failing tool is a result, never a failed turn. */
export type HttpToolResult =
  | { ok: true; status: number; body: unknown }
  | { ok: false; error: "http_error" | "timeout" | "response_too_large" | "network_error"; status?: number; message: string };

/** Bytes of a non-2xx body quoted in the error message. */
const ERROR_SNIPPET_BYTES = 300;
const METHODS_WITH_ARGS_BODY = new Set(["POST", "PUT", "PATCH"]);
/** Same-origin redirects followed per call; more is a loop. */
const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** A URL made of one placeholder only: its value is the whole URL and is inserted as written. */
const WHOLE_PLACEHOLDER = /^\{[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?\}$/;
/** A body string leaf made of one `{args.NAME}` only: the argument's JSON value is inserted as is. */
const WHOLE_ARG = /^\{args\.([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * Wraps a template's HTTP tool as an AI SDK tool; the turn's abort signal cancels the request.
 * @see runHttpTool
 */
export function httpTool(def: HttpTool, ctx: HttpToolContext): Tool {
  return tool({
    description: def.description,
    inputSchema: jsonSchema<Record<string, unknown>>(def.inputSchema as JSONSchema7),
    execute: (args, { abortSignal }) => runHttpTool(def, args, ctx, abortSignal),
  });
}

/**
 * Calls a template's HTTP tool with the model's arguments.
 *
 * Placeholders: `{var}` (template variable), `{secret.NAME}`, `{args.NAME}`; unknown ones stay as
 * written. Values substituted into the URL are URL-encoded, unless the whole URL is one
 * placeholder. A body string leaf that is exactly `{args.NAME}` takes the argument's JSON value
 * (numbers stay numbers; a missing argument drops the key). Without a body template, POST, PUT
 * and PATCH send the arguments as JSON; GET never sends a body.
 *
 * Never rejects for tool failures (non-2xx, timeout after `def.timeoutMs`, a body over
 * `def.maxResponseBytes`, network errors): those are returned for the model to read. It rejects
 * only when `signal` aborts, with the signal's reason. Everything returned passes through
 * `ctx.redactor`.
 */
export async function runHttpTool(
  def: HttpTool,
  args: Record<string, unknown>,
  ctx: HttpToolContext,
  signal?: AbortSignal,
): Promise<HttpToolResult> {
  const startedAt = Date.now();
  const result = ctx.redactor.value(await call(def, args, ctx, signal));
  console.log("http tool call", {
    tool: def.name,
    outcome: result.ok ? "ok" : result.error,
    status: result.status,
    durationMs: Date.now() - startedAt,
  });
  return result;
}

async function call(def: HttpTool, args: Record<string, unknown>, ctx: HttpToolContext, signal?: AbortSignal): Promise<HttpToolResult> {
  signal?.throwIfAborted();
  let request: OutgoingRequest;
  try {
    request = buildRequest(def, args, ctx);
  } catch (error) {
    return { ok: false, error: "network_error", message: `could not build the request: ${errorMessage(error)}` };
  }

  const timeout = AbortSignal.timeout(def.timeoutMs);
  const combined = signal ? AbortSignal.any([timeout, signal]) : timeout;
  // Called unbound: workerd throws "Illegal invocation" when the global fetch gets another `this`.
  const doFetch = ctx.fetch ?? fetch;
  try {
    // workerd's fetch already honours its signal, headers and body alike; abortable keeps the
    // deadline for a `ctx.fetch` that does not.
    let response = await abortable(doFetch(toRequest(request), { signal: combined }), combined);
    // Redirects are followed by hand and only within the tool's origin: the request may carry
    // secrets in its headers, which must not travel to another host.
    for (let hops = 0; REDIRECT_STATUSES.has(response.status); hops += 1) {
      const location = response.headers.get("location");
      const target = location ? new URL(location, request.url) : undefined;
      await response.body?.cancel().catch(() => {});
      if (!target || target.origin !== new URL(request.url).origin || hops === MAX_REDIRECTS) {
        const why = !target ? "without a Location" : hops === MAX_REDIRECTS ? "too many times" : `to another origin (${target.origin})`;
        return { ok: false, error: "http_error", status: response.status, message: `redirected ${why}; not followed` };
      }
      request = redirected(request, target, response.status);
      response = await abortable(doFetch(toRequest(request), { signal: combined }), combined);
    }
    if (!response.ok) {
      const snippet = await readBody(response, ERROR_SNIPPET_BYTES, combined, { truncate: true });
      const text = snippet.text.trim();
      return {
        ok: false,
        error: "http_error",
        status: response.status,
        message: `${response.status} ${response.statusText}`.trim() + (text ? `: ${text}${snippet.truncated ? "…" : ""}` : ""),
      };
    }
    const read = await readBody(response, def.maxResponseBytes, combined, { truncate: false });
    if (read.truncated) {
      return {
        ok: false,
        error: "response_too_large",
        status: response.status,
        message: `the response is larger than ${def.maxResponseBytes} bytes`,
      };
    }
    return { ok: true, status: response.status, body: parseBody(read.text, response.headers.get("content-type")) };
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timeout.aborted) return { ok: false, error: "timeout", message: `no complete response within ${def.timeoutMs} ms` };
    return { ok: false, error: "network_error", message: errorMessage(error) };
  }
}

/** A request that can be sent again (the body is kept as text), for redirects. */
interface OutgoingRequest {
  url: string;
  method: string;
  headers: Headers;
  body?: string;
}

function toRequest({ url, method, headers, body }: OutgoingRequest): Request {
  return new Request(url, { method, headers, body, redirect: "manual" });
}

/** 307/308 repeat the request as it was; 301/302/303 continue as a GET without a body. */
function redirected(request: OutgoingRequest, target: URL, status: number): OutgoingRequest {
  if (status === 307 || status === 308) return { ...request, url: target.href };
  const headers = new Headers(request.headers);
  headers.delete("content-type");
  return { url: target.href, method: "GET", headers };
}

function buildRequest(def: HttpTool, args: Record<string, unknown>, ctx: HttpToolContext): OutgoingRequest {
  const values: Record<string, string> = { ...ctx.vars, ...secretValues(ctx.secrets) };
  for (const [name, value] of Object.entries(args)) {
    if (value !== undefined) values[`args.${name}`] = argText(value);
  }

  const { method, url, headers, body } = def.request;
  const urlValues = WHOLE_PLACEHOLDER.test(url)
    ? values
    : Object.fromEntries(Object.entries(values).map(([name, value]) => [name, encodeURIComponent(value)]));
  const requestHeaders = new Headers();
  for (const [name, value] of Object.entries(headers)) requestHeaders.set(name, renderText(value, values));

  let payload: unknown;
  if (method !== "GET") {
    if (body !== undefined) payload = renderBody(body, values, args);
    else if (METHODS_WITH_ARGS_BODY.has(method)) payload = args;
  }
  if (payload !== undefined && !requestHeaders.has("content-type")) requestHeaders.set("content-type", "application/json");

  const target = renderText(url, urlValues);
  // Parsed here so that a bad URL is reported as such, before anything is sent.
  new URL(target);
  return {
    url: target,
    method,
    headers: requestHeaders,
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
  };
}

function renderBody(template: unknown, values: Record<string, string>, args: Record<string, unknown>): unknown {
  if (typeof template === "string") {
    const whole = WHOLE_ARG.exec(template);
    return whole ? args[whole[1] as string] : renderText(template, values);
  }
  if (Array.isArray(template)) return template.map((item) => renderBody(item, values, args));
  if (typeof template === "object" && template !== null) {
    return Object.fromEntries(Object.entries(template).map(([key, item]) => [key, renderBody(item, values, args)]));
  }
  return template;
}

function argText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * Reads at most `limit` bytes of the body as a stream, cancelling the rest, so an oversized
 * answer is never buffered whole. Rejects when `signal` aborts mid-body.
 */
async function readBody(
  response: Response,
  limit: number,
  signal: AbortSignal,
  { truncate }: { truncate: boolean },
): Promise<{ text: string; truncated: boolean }> {
  const declared = Number(response.headers.get("content-length"));
  if (!truncate && declared > limit) {
    await response.body?.cancel().catch(() => {});
    return { text: "", truncated: true };
  }
  if (!response.body) return { text: "", truncated: false };

  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await abortable(reader.read(), signal);
      if (done) break;
      if (size + value.byteLength > limit) {
        chunks.push(value.subarray(0, limit - size));
        truncated = true;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    // Stops the download: the rest of an oversized body is never read, nor a timed-out one's.
    if (truncated || signal.aborted) reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { text: new TextDecoder().decode(bytes), truncated };
}

/** JSON when the response says so and parses; otherwise the text as is. */
function parseBody(text: string, contentType: string | null): unknown {
  if (!/\bjson\b/i.test(contentType ?? "")) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
