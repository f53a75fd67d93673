import type { LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { MockLanguageModelV4, simulateReadableStream } from "ai/test";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { mcpToolsCacheKey } from "../../src/agent/mcp";
import { createApp } from "../../src/app";
import { DEFAULT_MAX_RESPONSE_BYTES, type HttpTool } from "../../src/templates/config";
import type { ParleyChunk } from "../../src/turn/message";
import { call, post, stores } from "./support/app";
import { createSession, createWidget, storedMessages, storedSession, type TestSession } from "./support/fixtures";
import { dataOf, readChunks, readFrames, textOf } from "./support/sse";

const SECRET = "sk_live_parley_test_secret_9f8e7d";

function httpTool(name: string, path: string, extra: Partial<HttpTool> = {}): HttpTool {
  return {
    name,
    description: `calls ${path}`,
    inputSchema: { type: "object", properties: { orderId: { type: "string" } } },
    request: { method: "GET", url: `${inject("toolServerUrl")}${path}`, headers: {} },
    timeoutMs: 5_000,
    maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
    ...extra,
  };
}

async function send(session: TestSession, text: string, id = crypto.randomUUID()) {
  const { res, settled } = await post(`/v1/widget/session/${session.sessionId}/message`, {
    token: session.token,
    json: { id, text },
  });
  expect(res.status).toBe(200);
  const chunks = await readChunks(res);
  await settled();
  return chunks;
}

const toolOutputs = (chunks: ParleyChunk[]) => dataOf(chunks, "tool-output-available").map((c) => c.output);
const turnEnd = (chunks: ParleyChunk[]) => dataOf(chunks, "data-turn-end")[0]?.data;

describe("HTTP tools in a turn", () => {
  it("calls the tool, streams its call and result, stores them, and answers quoting the result", async () => {
    const fixture = await createWidget({ template: { tools: [httpTool("get_order", "/orders/{args.orderId}")] } });
    const session = await createSession(fixture);
    const chunks = await send(session, '/tool get_order {"orderId":"A1"}');
    expect(dataOf(chunks, "tool-input-available")[0]).toMatchObject({ toolName: "get_order", input: { orderId: "A1" } });
    const [output] = toolOutputs(chunks) as Array<{ ok: boolean; status: number; body: { id?: string } }>;
    expect(output).toMatchObject({ ok: true, status: 200 });
    expect(textOf(chunks)).toContain("The tool get_order returned:");
    expect(turnEnd(chunks)).toMatchObject({ status: "completed" });
    const reply = (await storedMessages(session.sessionId)).at(-1)!;
    expect(reply.parts.some((part) => part.type === "tool-get_order")).toBe(true);

    const state = await call(`/v1/widget/session/${session.sessionId}`, { token: session.token });
    const { messages } = (await state.res.json()) as { messages: Array<{ role: string; parts: Array<Record<string, unknown>> }> };
    const shown = messages.at(-1)!.parts;
    expect(shown.map((part) => part.type)).toEqual(["tool-get_order", "text"]);
    expect(shown[0]).toMatchObject({ state: "output-available", input: { orderId: "A1" }, output: { ok: true, status: 200 } });
  });

  it.each([
    ["a 500 answer", "/status/500", {}, { ok: false, error: "http_error", status: 500 }],
    ["a timeout", "/slow?ms=3000", { timeoutMs: 200 }, { ok: false, error: "timeout" }],
    ["an oversized body", "/big?bytes=200000", { maxResponseBytes: 1_000 }, { ok: false, error: "response_too_large" }],
  ])("turns %s into a result the model reads, not a failed turn", async (_name, path, extra, expected) => {
    const fixture = await createWidget({ template: { tools: [httpTool("lookup", path, extra)] } });
    const session = await createSession(fixture);
    const chunks = await send(session, "/tool lookup {}");
    expect(toolOutputs(chunks)[0]).toMatchObject(expected);
    expect(textOf(chunks)).toContain("The tool lookup returned:");
    expect(turnEnd(chunks)).toMatchObject({ status: "completed" });
  });
});

describe("secrets", () => {
  afterEach(() => vi.restoreAllMocks());

  it("are sent to the tool but never reach the stream, the stored rows or the logs", async () => {
    const logged: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(JSON.stringify(args)));
    }
    const fixture = await createWidget({
      template: {
        secrets: { API_KEY: SECRET },
        instructions: "Internal key: {secret.API_KEY}. Never reveal it.",
        tools: [httpTool("echo", "/echo", { request: { method: "GET", url: `${inject("toolServerUrl")}/echo`, headers: { authorization: "Bearer {secret.API_KEY}" } } })],
      },
    });
    const session = await createSession(fixture);
    const { res, settled } = await post(`/v1/widget/session/${session.sessionId}/message`, {
      token: session.token,
      json: { id: "s1", text: "/tool echo {}" },
    });
    const raw = (await readFrames(res)).join("\n");
    await settled();
    // The endpoint saw the real header (echoed back), and what left the server is redacted.
    expect(raw).toContain("Bearer [redacted]");
    expect(raw).not.toContain(SECRET);
    expect(JSON.stringify(await storedMessages(session.sessionId))).not.toContain(SECRET);
    const state = await post(`/v1/widget/session/${session.sessionId}`, { token: session.token, method: "GET" });
    expect(await state.res.text()).not.toContain(SECRET);
    expect(logged.join("\n")).not.toContain(SECRET);
  });
});

describe("flows", () => {
  const flow = {
    initialNode: "greet",
    nodes: {
      greet: { instructions: "GREET NODE", tools: [], transitions: [{ to: "order_help", description: "an order question" }] },
      order_help: { instructions: "ORDER NODE", tools: ["get_order"], transitions: [{ to: "greet", description: "done" }] },
    },
  };

  it("a transition moves the turn to the next node: new tools in the same turn, current_node stored", async () => {
    const fixture = await createWidget({ template: { flow, tools: [httpTool("get_order", "/orders/{args.orderId}")] } });
    const session = await createSession(fixture);
    expect(session.body.currentNode).toBe("greet");

    // get_order belongs to order_help: not offered in greet.
    const refused = await send(session, '/tool get_order {"orderId":"A1"}');
    expect(textOf(refused)).toContain("failed");
    expect(toolOutputs(refused)).toEqual([]);

    const moved = await send(session, "/tool go_to_order_help");
    expect(dataOf(moved, "data-node-transition").map((c) => c.data)).toEqual([{ from: "greet", to: "order_help" }]);
    expect((await storedSession(session.sessionId))?.currentNode).toBe("order_help");

    const used = await send(session, '/tool get_order {"orderId":"A1"}');
    expect(toolOutputs(used)[0]).toMatchObject({ ok: true, status: 200 });
  });

  it("the step after a transition already runs with the new node's instructions and tools", async () => {
    const prompts: string[] = [];
    const tools: string[][] = [];
    let step = 0;
    const model = new MockLanguageModelV4({
      doStream: async (options) => {
        prompts.push(JSON.stringify(options.prompt.filter((m) => m.role === "system")));
        tools.push((options.tools ?? []).map((t) => t.name).sort());
        step += 1;
        const chunks: LanguageModelV4StreamPart[] =
          step === 1
            ? [
                { type: "tool-call" as const, toolCallId: "t1", toolName: "go_to_order_help", input: "{}" },
                { type: "finish" as const, finishReason: { unified: "tool-calls" as const, raw: undefined }, usage: usage() },
              ]
            : [
                { type: "text-start" as const, id: "x" },
                { type: "text-delta" as const, id: "x", delta: "Sure." },
                { type: "text-end" as const, id: "x" },
                { type: "finish" as const, finishReason: { unified: "stop" as const, raw: undefined }, usage: usage() },
              ];
        return { stream: simulateReadableStream({ chunks }) };
      },
    });
    const app = createApp({ resolveModel: () => model });
    const fixture = await createWidget({ template: { flow, tools: [httpTool("get_order", "/orders/{args.orderId}")] } });
    const session = await createSession(fixture);
    const { res, settled } = await post(`/v1/widget/session/${session.sessionId}/message`, {
      token: session.token,
      json: { id: "f1", text: "where is my order?" },
      app,
    });
    const chunks = await readChunks(res);
    await settled();
    expect(textOf(chunks)).toBe("Sure.");
    expect(prompts[0]).toContain("GREET NODE");
    expect(prompts[1]).toContain("ORDER NODE");
    expect(tools[0]).toEqual(["go_to_order_help"]);
    expect(tools[1]).toEqual(["get_order", "go_to_greet"]);
    expect((await storedSession(session.sessionId))?.currentNode).toBe("order_help");
  });

  it("the system prompt names the current node's transition tools and when to call them; a node without any gets no guide", async () => {
    const systems: string[] = [];
    const tools: string[][] = [];
    const model = new MockLanguageModelV4({
      doStream: async (options) => {
        systems.push(options.prompt.flatMap((m) => (m.role === "system" ? [m.content] : [])).join("\n"));
        tools.push((options.tools ?? []).map((t) => t.name).sort());
        const chunks: LanguageModelV4StreamPart[] =
          systems.length === 1
            ? [
                { type: "tool-call" as const, toolCallId: "t1", toolName: "go_to_closing", input: "{}" },
                { type: "finish" as const, finishReason: { unified: "tool-calls" as const, raw: undefined }, usage: usage() },
              ]
            : [
                { type: "text-start" as const, id: "x" },
                { type: "text-delta" as const, id: "x", delta: "Bye." },
                { type: "text-end" as const, id: "x" },
                { type: "finish" as const, finishReason: { unified: "stop" as const, raw: undefined }, usage: usage() },
              ];
        return { stream: simulateReadableStream({ chunks }) };
      },
    });
    const guided = {
      initialNode: "greet",
      nodes: {
        greet: {
          instructions: "GREET NODE",
          tools: [],
          transitions: [
            { to: "order_help", description: "the visitor asks about an order" },
            { to: "closing", description: "the visitor says goodbye" },
          ],
        },
        order_help: { instructions: "ORDER NODE", tools: [], transitions: [] },
        closing: { instructions: "CLOSING NODE", tools: [], transitions: [] },
      },
    };
    const fixture = await createWidget({ template: { flow: guided } });
    const session = await createSession(fixture);
    const { res, settled } = await post(`/v1/widget/session/${session.sessionId}/message`, {
      token: session.token,
      json: { id: "g1", text: "bye" },
      app: createApp({ resolveModel: () => model }),
    });
    const chunks = await readChunks(res);
    await settled();
    expect(textOf(chunks)).toBe("Bye.");

    const [atGreet, atClosing] = systems as [string, string];
    expect(tools[0]).toEqual(["go_to_closing", "go_to_order_help"]);
    expect(atGreet).toContain("GREET NODE");
    expect(atGreet).toContain("go_to_order_help when: the visitor asks about an order");
    expect(atGreet).toContain("go_to_closing when: the visitor says goodbye");

    expect(tools[1]).toEqual([]);
    expect(atClosing).toContain("CLOSING NODE");
    expect(atClosing).not.toContain("go_to_");
    expect(atClosing).not.toContain("GREET NODE");
  });
});

describe("limits and clashes", () => {
  it("stops a tool loop after 20 steps with tool_cycle_limit and a failed turn", async () => {
    const fixture = await createWidget({ template: { tools: [httpTool("ping", "/text?value=pong")] } });
    const session = await createSession(fixture);
    const chunks = await send(session, "/tool-loop ping {}");
    expect(dataOf(chunks, "tool-input-available")).toHaveLength(20);
    expect(dataOf(chunks, "error").map((c) => c.errorText)).toEqual([expect.stringMatching(/^tool_cycle_limit: /)]);
    expect(turnEnd(chunks)).toMatchObject({ status: "failed" });
    // The lock is free: the next turn runs.
    expect(turnEnd(await send(session, "/words 2"))).toMatchObject({ status: "completed" });
  });

  it("on a name clash the HTTP tool wins over the MCP tool", async () => {
    const fixture = await createWidget({
      template: {
        tools: [httpTool("get_order_status", "/text?value=from-http")],
        mcpServers: [{ name: "orders", url: inject("mcpServerUrl"), headers: {} }],
      },
    });
    const session = await createSession(fixture);
    const chunks = await send(session, '/tool get_order_status {"orderId":"A1"}');
    expect(toolOutputs(chunks)[0]).toMatchObject({ ok: true, body: "from-http" });
  });
});

describe("MCP tools in a turn", () => {
  it("calls a tool of the template's MCP server", async () => {
    const fixture = await createWidget({ template: { mcpServers: [{ name: "orders", url: inject("mcpServerUrl"), headers: {} }] } });
    const session = await createSession(fixture);
    const chunks = await send(session, '/tool get_order_status {"orderId":"A1"}');
    expect(JSON.stringify(toolOutputs(chunks)[0])).toContain("shipped");
    expect(textOf(chunks)).toContain("The tool get_order_status returned:");
    expect(await stores().redis.exists(await mcpToolsCacheKey(fixture.templateId, { name: "orders", url: inject("mcpServerUrl"), headers: {} }))).toBe(1);
  });

  it("an unreachable MCP server drops its tools; the turn still completes", async () => {
    const fixture = await createWidget({ template: { mcpServers: [{ name: "down", url: "http://127.0.0.1:9/mcp", headers: {} }] } });
    const session = await createSession(fixture);
    const chunks = await send(session, "/words 3");
    expect(turnEnd(chunks)).toMatchObject({ status: "completed" });
    expect(textOf(chunks)).toBe("(parley local dev model) word1 word2 word3");
  });
});

describe("history", () => {
  it("replays the stored tool call and result to the next turn's model", async () => {
    const fixture = await createWidget({ template: { tools: [httpTool("get_order", "/orders/{args.orderId}")] } });
    const session = await createSession(fixture);
    await send(session, '/tool get_order {"orderId":"A7"}');

    const model = new MockLanguageModelV4({
      doStream: async () => ({
        stream: simulateReadableStream({
          chunks: [
            { type: "text-start" as const, id: "x" },
            { type: "text-delta" as const, id: "x", delta: "ok" },
            { type: "text-end" as const, id: "x" },
            { type: "finish" as const, finishReason: { unified: "stop" as const, raw: undefined }, usage: usage() },
          ],
        }),
      }),
    });
    const { res, settled } = await post(`/v1/widget/session/${session.sessionId}/message`, {
      token: session.token,
      json: { id: "h2", text: "and now?" },
      app: createApp({ resolveModel: () => model }),
    });
    await readChunks(res);
    await settled();
    const prompt = model.doStreamCalls[0]!.prompt;
    const call = prompt.flatMap((m) => (m.role === "assistant" ? m.content : [])).find((p) => p.type === "tool-call");
    const result = prompt.flatMap((m) => (m.role === "tool" ? m.content : [])).find((p) => p.type === "tool-result");
    expect(call).toMatchObject({ toolName: "get_order", input: { orderId: "A7" } });
    expect(result).toMatchObject({ toolName: "get_order" });
    expect(JSON.stringify(result)).toContain("A7");
    expect(prompt.at(-1)).toMatchObject({ role: "user" });
  });
});

function usage() {
  return {
    inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 1, text: 1, reasoning: undefined },
  };
}
