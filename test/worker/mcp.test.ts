import type { LanguageModelV4StreamPart, LanguageModelV4Usage } from "@ai-sdk/provider";
import type { Redis } from "@upstash/redis/cloudflare";
import { isStepCount, simulateReadableStream, streamText, type Tool } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { capToolResult, loadMcpTools, MAX_RESULT_BYTES, MCP_TOOLS_CACHE_TTL_S, mcpToolsCacheKey, type McpToolset } from "../../src/agent/mcp";
import { createRedis } from "../../src/redis";
import type { McpServer } from "../../src/templates/config";

/** Nothing listens on the discard port. */
const UNREACHABLE_URL = "http://127.0.0.1:9/mcp";
const DEMO_TOOLS = ["echo_headers", "get_order_status", "list_products"];
const SHIPPED = { orderId: "A-1001", status: "shipped", carrier: "DHL", eta: "2026-12-01" };
/** A cache entry as discovery writes it, for servers the tests never let discovery reach. */
const CACHED_ORDER_TOOL = {
  name: "get_order_status",
  description: "Order status.",
  inputSchema: { type: "object", properties: { orderId: { type: "string" } } },
};

function redisClient(): Redis {
  return createRedis({ redisUrl: inject("upstashUrl"), redisToken: inject("upstashToken") });
}

function demoServer(overrides: Partial<McpServer> = {}): McpServer {
  return { name: "demo", url: inject("mcpServerUrl"), headers: {}, ...overrides };
}

const freshTemplateId = () => `tpl-${crypto.randomUUID()}`;

/** Every toolset a test opens, closed after it so no client outlives its test. */
const opened: McpToolset[] = [];
async function load(options: Partial<Parameters<typeof loadMcpTools>[0]> & { servers: McpServer[] }): Promise<McpToolset> {
  const toolset = await loadMcpTools({ redis: redisClient(), templateId: freshTemplateId(), secrets: {}, ...options });
  opened.push(toolset);
  return toolset;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((toolset) => toolset.close()));
  vi.restoreAllMocks();
});

/** Calls a tool the way `streamText` does. */
async function call(toolset: McpToolset, name: string, input: unknown, abortSignal?: AbortSignal): Promise<unknown> {
  const tool: Tool | undefined = toolset.tools[name];
  if (!tool?.execute) throw new Error(`no executable tool "${name}"`);
  return tool.execute(input, { toolCallId: `call-${crypto.randomUUID()}`, messages: [], context: {}, abortSignal });
}

describe("loadMcpTools: discovery", () => {
  it("offers the server's tools with their descriptions and JSON schemas", async () => {
    const { tools } = await load({ servers: [demoServer()] });
    expect(Object.keys(tools).sort()).toEqual(DEMO_TOOLS);
    expect(tools.get_order_status).toMatchObject({ type: "dynamic", description: expect.stringContaining("shipping status") });
  });

  it("offers nothing and resolves when there are no servers", async () => {
    const toolset = await load({ servers: [], redis: createRedis({ redisUrl: "http://127.0.0.1:9", redisToken: "unused" }) });
    expect(toolset.tools).toEqual({});
  });

  it("offers only allowedTools", async () => {
    const { tools } = await load({ servers: [demoServer({ allowedTools: ["get_order_status", "not_offered"] })] });
    expect(Object.keys(tools)).toEqual(["get_order_status"]);
  });

  it("gives a clashing tool name to the first server listed", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const toolset = await load({
      servers: [
        demoServer({ name: "first", headers: { "x-origin-server": "first" }, allowedTools: ["echo_headers"] }),
        demoServer({ name: "second", headers: { "x-origin-server": "second" } }),
      ],
    });
    expect(Object.keys(toolset.tools).sort()).toEqual(DEMO_TOOLS);
    const echoed = (await call(toolset, "echo_headers", {})) as { headers: Record<string, string> };
    expect(echoed.headers["x-origin-server"]).toBe("first");
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("offered twice"), expect.objectContaining({ tool: "echo_headers", kept: "first", dropped: "second" }));
  });
});

describe("loadMcpTools: calling tools", () => {
  it("returns the structured status of get_order_status", async () => {
    const toolset = await load({ servers: [demoServer()] });
    expect(await call(toolset, "get_order_status", { orderId: "A-1001" })).toEqual(SHIPPED);
  });

  it("returns text content as a string", async () => {
    const toolset = await load({ servers: [demoServer()] });
    expect(await call(toolset, "list_products", {})).toBe("P-100 Travel mug: 12.50 EUR\nP-200 Canvas tote: 18.00 EUR\nP-300 Desk lamp: 42.00 EUR");
  });

  it("turns an isError result into an { error } output instead of throwing", async () => {
    const toolset = await load({ servers: [demoServer()] });
    expect(await call(toolset, "get_order_status", { orderId: "no-such-order" })).toEqual({ error: 'No order with id "no-such-order".' });
  });

  it("runs concurrent calls on one client", async () => {
    const toolset = await load({ servers: [demoServer()] });
    const outputs = await Promise.all(["A-1001", "A-1002", "A-1003"].map((orderId) => call(toolset, "get_order_status", { orderId })));
    expect(outputs.map((output) => (output as { status: string }).status)).toEqual(["shipped", "processing", "delivered"]);
  });

  it("rejects with the signal's reason when the call is already aborted", async () => {
    const toolset = await load({ servers: [demoServer()] });
    const reason = new Error("turn canceled");
    await expect(call(toolset, "get_order_status", { orderId: "A-1001" }, AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it("stops waiting for a lazy connect when the call's signal aborts", async () => {
    const redis = redisClient();
    const templateId = freshTemplateId();
    // A cache hit for a server that holds every request 300 ms: the call has to connect first.
    const slow = demoServer({ name: "slow", url: inject("slowUpstashUrl") });
    await redis.set(await mcpToolsCacheKey(templateId, slow), { tools: [CACHED_ORDER_TOOL] }, { ex: MCP_TOOLS_CACHE_TTL_S });
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const toolset = await load({ redis, templateId, servers: [slow] });
    const reason = new Error("turn canceled");
    const abort = new AbortController();
    setTimeout(() => abort.abort(reason), 50);
    const started = Date.now();
    await expect(call(toolset, "get_order_status", { orderId: "A-1001" }, abort.signal)).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(300);
  });

  it("sends rendered header secrets and redacts them from what the model reads", async () => {
    const secret = `s3cr3t-${crypto.randomUUID()}`;
    const toolset = await load({
      servers: [demoServer({ headers: { authorization: "Bearer {secret.DEMO_TOKEN}", "x-tenant": "acme", "x-missing": "{secret.NOPE}" } })],
      secrets: { DEMO_TOKEN: secret, UNUSED: "not-sent" },
    });
    const echoed = (await call(toolset, "echo_headers", {})) as { headers: Record<string, string> };
    // The server saw the secret in place (the exact value is what got redacted) and the plain header as written.
    expect(echoed.headers.authorization).toBe("Bearer [redacted]");
    expect(echoed.headers["x-tenant"]).toBe("acme");
    expect(echoed.headers["x-missing"]).toBe("{secret.NOPE}");
    expect(JSON.stringify(echoed)).not.toContain(secret);
  });

  it("answers an error output once the toolset is closed, and close() is idempotent", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const toolset = await load({ servers: [demoServer()] });
    expect(await call(toolset, "get_order_status", { orderId: "A-1001" })).toEqual(SHIPPED);
    await toolset.close();
    await expect(toolset.close()).resolves.toBeUndefined();
    expect(await call(toolset, "get_order_status", { orderId: "A-1001" })).toEqual({
      error: "The tool is no longer available: this turn has ended.",
    });
  });
});

describe("capToolResult", () => {
  it("passes results up to MAX_RESULT_BYTES and turns bigger ones into an error the model reads", () => {
    const fits = "x".repeat(MAX_RESULT_BYTES - 2);
    expect(capToolResult(fits)).toBe(fits);
    expect(capToolResult(`${fits}x`)).toMatchObject({ error: "response_too_large" });
  });
});

describe("loadMcpTools: failures", () => {
  it("leaves out an unreachable server without throwing, and logs its name but no header value", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const secret = `s3cr3t-${crypto.randomUUID()}`;
    const toolset = await load({
      servers: [demoServer({ name: "down", url: UNREACHABLE_URL, headers: { authorization: "Bearer {secret.KEY}" } }), demoServer()],
      secrets: { KEY: secret },
    });
    expect(Object.keys(toolset.tools).sort()).toEqual(DEMO_TOOLS);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("server unavailable"), expect.objectContaining({ server: "down" }));
    expect(JSON.stringify(warn.mock.calls)).not.toContain(secret);
  });

  it("gives up on a server that does not answer within discoveryTimeoutMs", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    // The slow Upstash shim holds every POST for 300 ms before answering.
    const started = Date.now();
    const toolset = await load({ servers: [demoServer({ name: "slow", url: inject("slowUpstashUrl") })], discoveryTimeoutMs: 100 });
    expect(Date.now() - started).toBeLessThan(300);
    expect(toolset.tools).toEqual({});
    expect(warn).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ server: "slow", error: "timed out" }));
  });

  it("discovers without the cache when Redis is down", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const redis = createRedis({ redisUrl: "http://127.0.0.1:9", redisToken: "unused" });
    const toolset = await load({ servers: [demoServer()], redis });
    expect(Object.keys(toolset.tools).sort()).toEqual(DEMO_TOOLS);
    expect(await call(toolset, "get_order_status", { orderId: "A-1001" })).toEqual(SHIPPED);
    await toolset.close();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("reading the tool cache failed"), expect.anything());
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("writing the tool cache failed"), expect.anything());
  });
});

describe("loadMcpTools: discovery cache", () => {
  it("stores the discovered tools for 300 s under a key naming template, server and a hash", async () => {
    const redis = redisClient();
    const templateId = freshTemplateId();
    const server = demoServer();
    const toolset = await load({ redis, templateId, servers: [server] });
    await toolset.close(); // settles the cache write
    const key = await mcpToolsCacheKey(templateId, server);
    expect(key).toMatch(new RegExp(`^parley:mcp:tools:${templateId}:demo:[0-9a-f]{12}$`));
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(MCP_TOOLS_CACHE_TTL_S - 10);
    expect(ttl).toBeLessThanOrEqual(MCP_TOOLS_CACHE_TTL_S);
    const entry = await redis.get<{ tools: { name: string }[] }>(key);
    expect(entry?.tools.map((tool) => tool.name).sort()).toEqual(DEMO_TOOLS);
  });

  it("reads a second load of the template from Redis", async () => {
    const redis = redisClient();
    const templateId = freshTemplateId();
    const server = demoServer();
    await (await load({ redis, templateId, servers: [server] })).close();
    // Mark the cached entry: only a load that read it can show the mark.
    const key = await mcpToolsCacheKey(templateId, server);
    const entry = await redis.get<{ tools: { name: string; description?: string }[] }>(key);
    for (const tool of entry?.tools ?? []) tool.description = `cached: ${tool.description}`;
    await redis.set(key, entry, { ex: MCP_TOOLS_CACHE_TTL_S });

    const second = await load({ redis, templateId, servers: [server] });
    expect(second.tools.get_order_status?.description).toMatch(/^cached: /);
    // Connected lazily on the first call.
    expect(await call(second, "get_order_status", { orderId: "A-1001" })).toEqual(SHIPPED);
  });

  it("misses when the URL or the headers change", async () => {
    const templateId = freshTemplateId();
    const base = await mcpToolsCacheKey(templateId, demoServer());
    expect(await mcpToolsCacheKey(templateId, demoServer({ url: UNREACHABLE_URL }))).not.toBe(base);
    expect(await mcpToolsCacheKey(templateId, demoServer({ headers: { "x-api-key": "{secret.KEY}" } }))).not.toBe(base);
    expect(await mcpToolsCacheKey(templateId, demoServer({ allowedTools: ["echo_headers"] }))).toBe(base);
  });

  it("on a hit, offers tools without contacting the server, which is reached only by a call", async () => {
    const redis = redisClient();
    const templateId = freshTemplateId();
    const down = demoServer({ name: "down", url: UNREACHABLE_URL });
    await redis.set(await mcpToolsCacheKey(templateId, down), { tools: [CACHED_ORDER_TOOL] }, { ex: MCP_TOOLS_CACHE_TTL_S });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});

    const toolset = await load({ redis, templateId, servers: [down] });
    expect(Object.keys(toolset.tools)).toEqual(["get_order_status"]);
    expect(warn).not.toHaveBeenCalled();
    expect(await call(toolset, "get_order_status", { orderId: "A-1001" })).toEqual({ error: 'The "down" tool server could not be reached.' });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("tool call failed"), expect.objectContaining({ server: "down", tool: "get_order_status" }));
  });

  it("ignores a malformed cache entry and discovers", async () => {
    const redis = redisClient();
    const templateId = freshTemplateId();
    const server = demoServer();
    await redis.set(await mcpToolsCacheKey(templateId, server), { tools: "nonsense" }, { ex: MCP_TOOLS_CACHE_TTL_S });
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const toolset = await load({ redis, templateId, servers: [server] });
    expect(Object.keys(toolset.tools).sort()).toEqual(DEMO_TOOLS);
  });
});

describe("MCP tools in streamText", () => {
  const USAGE: LanguageModelV4Usage = {
    inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 5, text: 5, reasoning: undefined },
  };
  const stream = (chunks: LanguageModelV4StreamPart[]) => ({ stream: simulateReadableStream({ chunks }) });

  it("runs a model's MCP tool call and feeds the result into the next step", async () => {
    const toolset = await load({ servers: [demoServer()] });
    const model = new MockLanguageModelV4({
      doStream: [
        stream([
          { type: "stream-start", warnings: [] },
          { type: "tool-call", toolCallId: "call-1", toolName: "get_order_status", input: JSON.stringify({ orderId: "A-1001" }) },
          { type: "finish", finishReason: { unified: "tool-calls", raw: "tool_calls" }, usage: USAGE },
        ]),
        stream([
          { type: "stream-start", warnings: [] },
          { type: "text-start", id: "t1" },
          { type: "text-delta", id: "t1", delta: "It shipped with DHL." },
          { type: "text-end", id: "t1" },
          { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: USAGE },
        ]),
      ],
    });

    const result = streamText({ model, prompt: "Where is order A-1001?", tools: toolset.tools, stopWhen: isStepCount(5), maxRetries: 0 });
    const parts = [];
    for await (const part of result.stream) parts.push(part);

    expect(parts.find((part) => part.type === "tool-result")).toMatchObject({ toolName: "get_order_status", dynamic: true, output: SHIPPED });
    expect(await result.text).toBe("It shipped with DHL.");
    const toolMessage = model.doStreamCalls[1]?.prompt.find((message) => message.role === "tool");
    expect(toolMessage?.content).toEqual([
      expect.objectContaining({ type: "tool-result", toolCallId: "call-1", output: { type: "json", value: SHIPPED } }),
    ]);
  });
});
