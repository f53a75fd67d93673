import type { LanguageModelV4StreamPart, LanguageModelV4Usage } from "@ai-sdk/provider";
import { isStepCount, simulateReadableStream, streamText } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { describe, expect, inject, it } from "vitest";
import { httpTool, runHttpTool, type HttpToolContext, type HttpToolResult } from "../../src/agent/http-tool";
import { createRedactor, REDACTED } from "../../src/agent/redact";
import { httpToolSchema, type HttpTool } from "../../src/templates/config";

const BASE = inject("toolServerUrl");
/** Has characters that URL-encoding changes, so the encoded form must be caught too. */
const API_KEY = "sk-live/4f9+Qz 7";
const SECRETS = { API_KEY, EMPTY: "" };
const VARS = { region: "eu-west", customer_id: "cust 42", api_base: `${BASE}/echo/base` };

function context(overrides: Partial<HttpToolContext> = {}): HttpToolContext {
  return { vars: VARS, secrets: SECRETS, redactor: createRedactor(SECRETS), ...overrides };
}

/** A tool definition with the schema's defaults applied. */
function define(request: { url: string } & Partial<HttpTool["request"]>, options: Partial<HttpTool> = {}): HttpTool {
  return httpToolSchema.parse({ name: "test_tool", description: "A tool under test.", ...options, request });
}

interface Echo {
  method: string;
  path: string;
  url: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

function okBody<T>(result: HttpToolResult): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result)}`);
  return result.body as T;
}

describe("runHttpTool: requests", () => {
  it("fills variables, secrets and arguments into the URL, headers and body template", async () => {
    const def = define({
      method: "POST",
      url: `${BASE}/echo/{args.path}?q={args.q}&region={region}&missing={nope}`,
      headers: { authorization: "Bearer {secret.API_KEY}", "x-customer": "{customer_id}" },
      body: { customer: "{customer_id}", note: "order {args.id} for {customer_id}", qty: "{args.qty}", gone: "{args.absent}", tags: ["{region}", 1] },
    });
    const result = await runHttpTool(def, { path: "a b/c", q: "x&y=z", id: "A1", qty: 3 }, context());
    expect(result).toMatchObject({ ok: true, status: 200 });
    const echo = okBody<Echo>(result);
    expect(echo.method).toBe("POST");
    expect(echo.url).toBe("/echo/a%20b%2Fc?q=x%26y%3Dz&region=eu-west&missing={nope}");
    expect(echo.query).toEqual({ q: "x&y=z", region: "eu-west", missing: "{nope}" });
    // The secret was sent (the literal placeholder would not be redacted) and did not come back.
    expect(echo.headers.authorization).toBe(`Bearer ${REDACTED}`);
    expect(echo.headers["x-customer"]).toBe("cust 42");
    expect(echo.headers["content-type"]).toBe("application/json");
    expect(echo.body).toEqual({ customer: "cust 42", note: "order A1 for cust 42", qty: 3, tags: ["eu-west", 1] });
  });

  it("sends the secret's real value to the endpoint", async () => {
    let sent: Request | undefined;
    const spy: typeof fetch = (input, init) => {
      sent = new Request(input, init);
      return fetch(input, init);
    };
    const def = define({ url: `${BASE}/echo?key={secret.API_KEY}`, headers: { "x-api-key": "{secret.API_KEY}" } });
    await runHttpTool(def, {}, context({ fetch: spy }));
    expect(sent?.headers.get("x-api-key")).toBe(API_KEY);
    expect(new URL(sent?.url ?? "").searchParams.get("key")).toBe(API_KEY);
  });

  it("inserts a URL that is one placeholder as written", async () => {
    const result = await runHttpTool(define({ url: "{api_base}" }), {}, context());
    expect(okBody<Echo>(result).path).toBe("/echo/base");
  });

  it("does not expand placeholders that arrive inside arguments", async () => {
    const def = define({ method: "POST", url: `${BASE}/echo?q={args.q}`, body: { text: "{args.q}!" } });
    const result = await runHttpTool(def, { q: "{secret.API_KEY}" }, context());
    const echo = okBody<Echo>(result);
    expect(echo.query.q).toBe("{secret.API_KEY}");
    expect(echo.body).toEqual({ text: "{secret.API_KEY}!" });
  });

  it("sends the arguments as JSON without a body template, and no body on GET or DELETE", async () => {
    const args = { id: "A1", qty: 2 };
    const post = okBody<Echo>(await runHttpTool(define({ method: "POST", url: `${BASE}/echo` }), args, context()));
    expect(post.body).toEqual(args);
    expect(post.headers["content-type"]).toBe("application/json");
    const put = okBody<Echo>(await runHttpTool(define({ method: "PUT", url: `${BASE}/echo` }), args, context()));
    expect(put.body).toEqual(args);
    for (const method of ["GET", "DELETE"] as const) {
      const echo = okBody<Echo>(await runHttpTool(define({ method, url: `${BASE}/echo` }), args, context()));
      expect(echo.method).toBe(method);
      expect(echo.body).toBeNull();
      expect(echo.headers["content-type"]).toBeUndefined();
    }
    const getWithTemplate = okBody<Echo>(await runHttpTool(define({ url: `${BASE}/echo`, body: { a: 1 } }), args, context()));
    expect(getWithTemplate.body).toBeNull();
  });

  it("keeps a content type the template sets", async () => {
    const def = define({ method: "POST", url: `${BASE}/echo`, headers: { "Content-Type": "application/vnd.api+json" } });
    const echo = okBody<Echo>(await runHttpTool(def, { a: 1 }, context()));
    expect(echo.headers["content-type"]).toBe("application/vnd.api+json");
    expect(echo.body).toEqual({ a: 1 });
  });
});

describe("runHttpTool: responses", () => {
  it("parses JSON bodies and returns other bodies as text", async () => {
    const order = await runHttpTool(define({ url: `${BASE}/orders/{args.id}` }), { id: "A1" }, context());
    expect(order).toEqual({ ok: true, status: 200, body: expect.objectContaining({ id: "A1", currency: "EUR" }) });
    const again = await runHttpTool(define({ url: `${BASE}/orders/{args.id}` }), { id: "A1" }, context());
    expect(again).toEqual(order);

    const text = await runHttpTool(define({ url: `${BASE}/text?value={args.v}` }), { v: '{"not":"parsed"}' }, context());
    expect(text).toEqual({ ok: true, status: 200, body: '{"not":"parsed"}' });
  });

  it("reports a non-2xx answer as http_error with its status", async () => {
    const result = await runHttpTool(define({ url: `${BASE}/status/500` }), {}, context());
    expect(result).toMatchObject({ ok: false, error: "http_error", status: 500 });
    expect(!result.ok && result.message).toMatch(/^500 Internal Server Error: .*tool-server answered 500/);
    expect(await runHttpTool(define({ url: `${BASE}/status/404` }), {}, context())).toMatchObject({ error: "http_error", status: 404 });
  });

  it("follows a redirect within the tool's origin, keeping method and body on 307", async () => {
    const to = encodeURIComponent("/echo/moved");
    const result = await runHttpTool(define({ method: "POST", url: `${BASE}/redirect?status=307&to=${to}` }), { a: 1 }, context());
    expect(okBody<Echo>(result)).toMatchObject({ method: "POST", path: "/echo/moved", body: { a: 1 } });
    const seeOther = await runHttpTool(define({ method: "POST", url: `${BASE}/redirect?status=303&to=${to}` }), { a: 1 }, context());
    expect(okBody<Echo>(seeOther)).toMatchObject({ method: "GET", path: "/echo/moved", body: null });
  });

  it("refuses a redirect to another origin, so secret headers never leave for another host", async () => {
    const elsewhere = BASE.replace("127.0.0.1", "localhost");
    const def = define({
      url: `${BASE}/redirect?to=${encodeURIComponent(`${elsewhere}/echo`)}`,
      headers: { "x-api-key": "{secret.API_KEY}" },
    });
    const result = await runHttpTool(def, {}, context());
    expect(result).toMatchObject({ ok: false, error: "http_error", status: 302 });
    expect(!result.ok && result.message).toContain("to another origin");
  });

  it("stops after three redirects", async () => {
    const loop = `${BASE}/redirect?to=${encodeURIComponent(`/redirect?to=${encodeURIComponent("/redirect?to=%2Fredirect%3Fto%3D%252Fecho")}`)}`;
    const result = await runHttpTool(define({ url: loop }), {}, context());
    expect(result).toMatchObject({ ok: false, error: "http_error", status: 302 });
    expect(!result.ok && result.message).toContain("too many times");
  });

  it("gives up after timeoutMs", async () => {
    const started = Date.now();
    const result = await runHttpTool(define({ url: `${BASE}/slow?ms=2000` }, { timeoutMs: 200 }), {}, context());
    expect(result).toEqual({ ok: false, error: "timeout", message: "no complete response within 200 ms" });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("gives up after timeoutMs when the body stalls after the headers", async () => {
    const started = Date.now();
    const result = await runHttpTool(define({ url: `${BASE}/slow?ms=2000&head=1` }, { timeoutMs: 200 }), {}, context());
    expect(result).toMatchObject({ ok: false, error: "timeout" });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("keeps the deadline with a fetch that ignores its signal", async () => {
    const hangs: typeof fetch = () => new Promise<Response>(() => {});
    const result = await runHttpTool(define({ url: `${BASE}/echo` }, { timeoutMs: 100 }), {}, context({ fetch: hangs }));
    expect(result).toMatchObject({ ok: false, error: "timeout" });
  });

  it("answers a response within the timeout", async () => {
    const result = await runHttpTool(define({ url: `${BASE}/slow?ms=50` }, { timeoutMs: 2000 }), {}, context());
    expect(result).toEqual({ ok: true, status: 200, body: { waitedMs: 50 } });
  });

  it("accepts a body of exactly maxResponseBytes and refuses one byte more", async () => {
    const exact = await runHttpTool(define({ url: `${BASE}/big?bytes=1024` }, { maxResponseBytes: 1024 }), {}, context());
    expect(exact).toEqual({ ok: true, status: 200, body: "x".repeat(1024) });
    const over = await runHttpTool(define({ url: `${BASE}/big?bytes=1025` }, { maxResponseBytes: 1024 }), {}, context());
    expect(over).toMatchObject({ ok: false, error: "response_too_large" });
  });

  it("stops reading a huge body once past the cap", async () => {
    const started = Date.now();
    const result = await runHttpTool(define({ url: `${BASE}/big?bytes=50000000` }, { maxResponseBytes: 4096 }), {}, context());
    expect(result).toEqual({ ok: false, error: "response_too_large", status: 200, message: "the response is larger than 4096 bytes" });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("reports an unreachable endpoint as network_error", async () => {
    const result = await runHttpTool(define({ url: "http://127.0.0.1:9/x" }), {}, context());
    expect(result).toMatchObject({ ok: false, error: "network_error" });
  });

  it("reports a URL that cannot be built as network_error, without the secret", async () => {
    const result = await runHttpTool(define({ url: "{nope}/x?key={secret.API_KEY}" }), {}, context());
    expect(result).toMatchObject({ ok: false, error: "network_error", message: expect.stringContaining("could not build the request") });
    expect(JSON.stringify(result)).not.toContain(encodeURIComponent(API_KEY));
  });
});

describe("runHttpTool: secrets and cancellation", () => {
  it("redacts a secret the endpoint echoes, in every form", async () => {
    const def = define({
      method: "POST",
      url: `${BASE}/echo/{secret.API_KEY}?key={secret.API_KEY}`,
      headers: { authorization: "Bearer {secret.API_KEY}" },
      body: { nested: { key: "{secret.API_KEY}" } },
    });
    const result = await runHttpTool(def, {}, context());
    const echo = okBody<Echo>(result);
    expect(echo.query.key).toBe(REDACTED);
    expect(echo.url).toBe(`/echo/${REDACTED}?key=${REDACTED}`);
    expect(echo.body).toEqual({ nested: { key: REDACTED } });
    const serialized = JSON.stringify(result);
    for (const form of [API_KEY, encodeURIComponent(API_KEY), JSON.stringify(API_KEY).slice(1, -1)]) {
      expect(serialized).not.toContain(form);
    }
  });

  it("redacts secrets in error messages", async () => {
    const def = define({ url: `${BASE}/text?value={secret.API_KEY}` });
    const text = await runHttpTool(def, {}, context());
    expect(text).toEqual({ ok: true, status: 200, body: REDACTED });
    const fetchFails: typeof fetch = () => Promise.reject(new TypeError(`connect failed for key ${API_KEY}`));
    const failed = await runHttpTool(def, {}, context({ fetch: fetchFails }));
    expect(failed).toEqual({ ok: false, error: "network_error", message: `connect failed for key ${REDACTED}` });
  });

  it("rejects with the caller's abort, not a timeout result", async () => {
    const controller = new AbortController();
    const pending = runHttpTool(define({ url: `${BASE}/slow?ms=2000` }), {}, context(), controller.signal);
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });

    const midBody = new AbortController();
    const reading = runHttpTool(define({ url: `${BASE}/slow?ms=2000&head=1` }), {}, context(), midBody.signal);
    setTimeout(() => midBody.abort(), 100);
    await expect(reading).rejects.toMatchObject({ name: "AbortError" });

    const reason = new Error("turn cancelled");
    await expect(runHttpTool(define({ url: `${BASE}/echo` }), {}, context(), AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it("logs the tool name, outcome, status and duration only", async () => {
    const lines: unknown[][] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => void lines.push(args);
    try {
      await runHttpTool(define({ url: `${BASE}/echo?key={secret.API_KEY}`, headers: { "x-key": "{secret.API_KEY}" } }), {}, context());
    } finally {
      console.log = original;
    }
    expect(lines).toEqual([["http tool call", { tool: "test_tool", outcome: "ok", status: 200, durationMs: expect.any(Number) }]]);
  });
});

describe("httpTool through streamText", () => {
  const usage: LanguageModelV4Usage = {
    inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 1, text: 1, reasoning: undefined },
  };
  const stream = (chunks: LanguageModelV4StreamPart[]) => ({ stream: simulateReadableStream({ chunks }) });

  it("runs the tool call and hands its results, failures included, to the next model call", async () => {
    const model = new MockLanguageModelV4({
      doStream: [
        stream([
          { type: "stream-start", warnings: [] },
          { type: "tool-call", toolCallId: "call-1", toolName: "lookup_order", input: JSON.stringify({ id: "A1" }) },
          { type: "tool-call", toolCallId: "call-2", toolName: "broken", input: "{}" },
          { type: "finish", usage, finishReason: { unified: "tool-calls", raw: "tool_calls" } },
        ]),
        stream([
          { type: "stream-start", warnings: [] },
          { type: "text-start", id: "t1" },
          { type: "text-delta", id: "t1", delta: "Your order has shipped." },
          { type: "text-end", id: "t1" },
          { type: "finish", usage, finishReason: { unified: "stop", raw: "stop" } },
        ]),
      ],
    });
    const lookupOrder = define(
      { url: `${BASE}/orders/{args.id}`, headers: { authorization: "Bearer {secret.API_KEY}" } },
      { name: "lookup_order", inputSchema: { type: "object", properties: { id: { type: "string" } }, required: ["id"] } },
    );
    const broken = define({ url: `${BASE}/status/503` }, { name: "broken" });

    const result = streamText({
      model,
      prompt: "Where is order A1?",
      tools: { lookup_order: httpTool(lookupOrder, context()), broken: httpTool(broken, context()) },
      stopWhen: isStepCount(5),
      maxRetries: 0,
      onError: () => {},
    });
    const types: string[] = [];
    let text = "";
    for await (const part of result.stream) {
      types.push(part.type);
      if (part.type === "text-delta") text += part.text;
    }

    expect(types).not.toContain("error");
    expect(text).toBe("Your order has shipped.");
    expect(model.doStreamCalls).toHaveLength(2);
    const sentTools = model.doStreamCalls[0]?.tools?.map((t) => t.name);
    expect(sentTools).toEqual(["lookup_order", "broken"]);

    const toolMessage = model.doStreamCalls[1]?.prompt.find((message) => message.role === "tool");
    expect(toolMessage?.content).toEqual([
      expect.objectContaining({
        type: "tool-result",
        toolCallId: "call-1",
        output: { type: "json", value: { ok: true, status: 200, body: expect.objectContaining({ id: "A1" }) } },
      }),
      expect.objectContaining({
        type: "tool-result",
        toolCallId: "call-2",
        output: { type: "json", value: expect.objectContaining({ ok: false, error: "http_error", status: 503 }) },
      }),
    ]);
  });
});
