import { createMCPClient, MCPClientError, type CallToolResult, type MCPClient } from "@ai-sdk/mcp";
import type { Redis } from "@upstash/redis/cloudflare";
import { dynamicTool, jsonSchema, type JSONSchema7, type Tool } from "ai";
import { z } from "zod";
import { DEFAULT_REDIS_KEY_PREFIX } from "../key-prefix";
import { DEFAULT_MAX_RESPONSE_BYTES, type McpServer } from "../templates/config";
import { renderText, secretValues } from "../templates/render";
import { abortable } from "./abort";
import { createRedactor, type Redactor } from "./redact";

/** How long discovered tool lists stay in Redis, in seconds. */
export const MCP_TOOLS_CACHE_TTL_S = 300;
/** Per-server limit on connect + list at discovery (and on a lazy connect), in ms. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 3_000;

/** Largest tool result handed to the model, in bytes of JSON; as for HTTP tools' default cap. */
export const MAX_RESULT_BYTES = DEFAULT_MAX_RESPONSE_BYTES;

/** Names model providers accept for functions (OpenAI: `^[a-zA-Z0-9_-]{1,64}$`). */
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export interface McpToolsetOptions {
  /** For the discovery cache. */
  redis: Pick<Redis, "mget" | "set">;
  /** The deployment's Redis key prefix (`config.redisKeyPrefix`). @default "parley" */
  keyPrefix?: string;
  templateId: string;
  servers: McpServer[];
  /** Fill `{secret.NAME}` in header values. */
  secrets: Record<string, string>;
  /** Discovery timeout per server, ms. @default 3000 */
  discoveryTimeoutMs?: number;
}

export interface McpToolset {
  /** AI SDK tools (dynamic), keyed by tool name. */
  tools: Record<string, Tool>;
  /**
   * Closes every MCP client opened for this turn and settles the cache writes; call from
   * `waitUntil` when the turn ends. Never rejects. Tools called afterwards answer an error result.
   */
  close(): Promise<void>;
}

const toolDefinitionSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  inputSchema: z.record(z.string(), z.unknown()),
});
type ToolDefinition = z.infer<typeof toolDefinitionSchema>;
const cachedToolsSchema = z.object({ tools: z.array(toolDefinitionSchema) });

/**
 * Redis key of a server's discovered tools: `<prefix>:mcp:tools:<templateId>:<serverName>:<hash>`,
 * the hash covering the URL and the header templates (not the rendered secrets), so editing
 * either misses the cache.
 */
export async function mcpToolsCacheKey(
  templateId: string,
  server: Pick<McpServer, "name" | "url" | "headers">,
  keyPrefix = DEFAULT_REDIS_KEY_PREFIX,
): Promise<string> {
  const headers = Object.entries(server.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = new TextEncoder().encode(JSON.stringify([server.url, headers]));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hash = Array.from(digest.subarray(0, 6), (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${keyPrefix}:mcp:tools:${templateId}:${server.name}:${hash}`;
}

/**
 * Discovers the tools of a template's MCP servers (from the Redis cache when fresh, else by
 * connecting) and wraps them as AI SDK tools for one turn. A server that cannot be reached in
 * `discoveryTimeoutMs` is left out with a warning; a Redis failure only skips the cache. Never
 * rejects for a server or Redis fault. On a tool-name clash the server listed first wins.
 */
export async function loadMcpTools({
  redis,
  keyPrefix = DEFAULT_REDIS_KEY_PREFIX,
  templateId,
  servers,
  secrets,
  discoveryTimeoutMs = DEFAULT_DISCOVERY_TIMEOUT_MS,
}: McpToolsetOptions): Promise<McpToolset> {
  if (servers.length === 0) return { tools: {}, close: async () => {} };
  // The template's secrets never travel on from an MCP server: not into logs, not to the model.
  const redactor = createRedactor(secrets);
  const connections = await Promise.all(
    servers.map(async (server) => ({
      ...openConnection(server, { secrets, redactor, templateId, timeoutMs: discoveryTimeoutMs }),
      key: await mcpToolsCacheKey(templateId, server, keyPrefix),
    })),
  );
  const cached = await readCache(redis, connections.map((connection) => connection.key));
  const cacheWrites: Promise<void>[] = [];

  const discovered = await Promise.all(
    connections.map(async (connection, i) => {
      const hit = cached[i];
      if (hit) return hit;
      try {
        const definitions = await connection.discover(AbortSignal.timeout(discoveryTimeoutMs));
        cacheWrites.push(writeCache(redis, connection.key, definitions));
        return definitions;
      } catch (error) {
        console.warn("mcp: server unavailable; its tools are left out of this turn", {
          templateId,
          server: connection.server.name,
          error: redactor.text(describeError(error)),
        });
        return [];
      }
    }),
  );

  const tools: Record<string, Tool> = {};
  const owners = new Map<string, string>();
  connections.forEach((connection, i) => {
    const { server } = connection;
    for (const definition of discovered[i] ?? []) {
      if (server.allowedTools && !server.allowedTools.includes(definition.name)) continue;
      const owner = owners.get(definition.name);
      if (owner !== undefined) {
        console.warn("mcp: tool name offered twice; the first server keeps it", { templateId, tool: definition.name, kept: owner, dropped: server.name });
        continue;
      }
      if (!TOOL_NAME.test(definition.name)) {
        console.warn("mcp: tool name not accepted by model providers; left out", { templateId, server: server.name, tool: definition.name });
        continue;
      }
      owners.set(definition.name, server.name);
      const candidate = connection.tool(definition);
      const needsApproval = server.needsApproval === true || (Array.isArray(server.needsApproval) && server.needsApproval.includes(definition.name));
      tools[definition.name] = needsApproval ? { ...candidate, needsApproval: true } : candidate;
    }
  });

  return {
    tools,
    close: async () => {
      await Promise.all([...connections.map((connection) => connection.close()), ...cacheWrites]);
    },
  };
}

interface ConnectionContext {
  secrets: Record<string, string>;
  redactor: Redactor;
  templateId: string;
  /** Limit on a lazy connect, in ms. */
  timeoutMs: number;
}

/** One server for one turn: rendered headers, the lazily opened client, and its tools. */
function openConnection(server: McpServer, { secrets, redactor, templateId, timeoutMs }: ConnectionContext) {
  // Only `{secret.NAME}` is filled in headers: a bare `{NAME}` stays as written.
  const values = secretValues(secrets);
  const headers = Object.fromEntries(Object.entries(server.headers).map(([name, value]) => [name, renderText(value, values)]));

  let opening: Promise<MCPClient> | undefined;
  /** Aborted by close(): a connect still in flight then stops at once. */
  const closing = new AbortController();
  const connect = (signal: AbortSignal) =>
    createMCPClient({
      transport: { type: "http", url: server.url, headers, fetch: fetchRefusingRedirects },
      clientName: "parley",
      initializationOptions: { signal: AbortSignal.any([signal, closing.signal]) },
    });

  /** The shared client of this turn, opened on first use; a failed open is retried by the next call. */
  const client = (): Promise<MCPClient> => {
    if (closing.signal.aborted) return Promise.reject(new ToolsetClosedError());
    opening ??= connect(AbortSignal.timeout(timeoutMs)).catch((error: unknown) => {
      opening = undefined;
      throw error;
    });
    return opening;
  };

  return {
    server,

    async discover(signal: AbortSignal): Promise<ToolDefinition[]> {
      const discovering = await connect(signal);
      try {
        const definitions: ToolDefinition[] = [];
        let cursor: string | undefined;
        do {
          const page = await discovering.listTools({ params: cursor === undefined ? undefined : { cursor }, options: { signal } });
          for (const { name, description, inputSchema } of page.tools) definitions.push({ name, description, inputSchema });
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        if (closing.signal.aborted) throw new ToolsetClosedError();
        opening = Promise.resolve(discovering);
        return definitions;
      } catch (error) {
        await discovering.close().catch(() => {});
        throw error;
      }
    },

    tool(definition: ToolDefinition): Tool {
      return dynamicTool({
        description: definition.description,
        inputSchema: jsonSchema({ ...definition.inputSchema, type: "object", properties: definition.inputSchema.properties ?? {} } as JSONSchema7),
        execute: async (input, { abortSignal }) => {
          abortSignal?.throwIfAborted();
          let result: CallToolResult;
          try {
            const mcp = await abortable(client(), abortSignal);
            result = await mcp.callTool({
              name: definition.name,
              arguments: isRecord(input) ? input : {},
              options: abortSignal ? { signal: abortSignal } : undefined,
            });
          } catch (error) {
            if (abortSignal?.aborted) throw abortSignal.reason;
            // close() may have cut a connect or a request short: report that, not a network fault.
            const failure = closing.signal.aborted ? new ToolsetClosedError() : error;
            console.warn("mcp: tool call failed", { templateId, server: server.name, tool: definition.name, error: redactor.text(describeError(failure)) });
            return { error: redactor.text(callFailureText(server.name, failure)) };
          }
          return redactor.value(capToolResult(modelOutput(result)));
        },
      });
    },

    async close(): Promise<void> {
      closing.abort(new ToolsetClosedError());
      const pending = opening;
      opening = undefined;
      try {
        await (await pending)?.close();
      } catch {
        // Nothing to close: the connect failed and was logged where it was used.
      }
    },
  };
}

/**
 * workerd refuses `redirect: "error"` (the HTTP transport's default since vercel/ai#13561) when it
 * builds the Request, so every MCP request failed. Same policy in a mode workerd supports: fetch
 * with "manual" and refuse any redirect (it could carry the rendered secret headers elsewhere).
 */
const fetchRefusingRedirects: typeof fetch = async (input, init) => {
  const response = await fetch(input, { ...init, redirect: "manual" });
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    throw new TypeError(`the MCP server answered a redirect (HTTP ${response.status}); redirects are refused`);
  }
  return response;
};

class ToolsetClosedError extends Error {
  constructor() {
    super("the MCP toolset of this turn is closed");
  }
}

/** What the model reads: structured content when the server gave it, else the text; errors as `{ error }`. */
function modelOutput(result: CallToolResult): unknown {
  if ("toolResult" in result) return result.toolResult;
  if (result.isError) return { error: contentText(result.content) || "the tool reported an error" };
  if (result.structuredContent !== undefined && result.structuredContent !== null) return result.structuredContent;
  return contentText(result.content);
}

/** The model reads an oversized result as an error, not a flood of tokens. */
export function capToolResult(output: unknown): unknown {
  const bytes = new TextEncoder().encode(JSON.stringify(output) ?? "").length;
  return bytes > MAX_RESULT_BYTES
    ? { error: "response_too_large", message: `the tool's result is larger than ${MAX_RESULT_BYTES} bytes` }
    : output;
}

function contentText(content: ReadonlyArray<{ type: string; [key: string]: unknown }>): string {
  return content
    .map((part) => {
      if (typeof part.text === "string") return part.text;
      if (part.type === "resource" && isRecord(part.resource) && typeof part.resource.text === "string") return part.resource.text;
      if (part.type === "resource_link" && typeof part.uri === "string") return part.uri;
      return `[${part.type} content omitted]`;
    })
    .join("\n");
}

function callFailureText(serverName: string, error: unknown): string {
  if (error instanceof ToolsetClosedError) return "The tool is no longer available: this turn has ended.";
  // A JSON-RPC error answered by the server (bad arguments, unknown tool) is for the model to read.
  if (MCPClientError.isInstance(error) && error.code !== undefined) return error.message;
  return `The "${serverName}" tool server could not be reached.`;
}

function describeError(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  if (MCPClientError.isInstance(error) && error.cause instanceof DOMException && error.cause.name === "TimeoutError") return "timed out";
  return error instanceof Error ? error.message : String(error);
}

/** Cached definitions per key (null: a miss). A Redis fault is logged and read as all misses. */
async function readCache(redis: Pick<Redis, "mget">, keys: string[]): Promise<(ToolDefinition[] | null)[]> {
  try {
    const values = await redis.mget<unknown[]>(...keys);
    return keys.map((key, i) => {
      if (values[i] === null || values[i] === undefined) return null;
      const parsed = cachedToolsSchema.safeParse(values[i]);
      if (!parsed.success) console.warn("mcp: ignoring a malformed tool cache entry", { key });
      return parsed.success ? parsed.data.tools : null;
    });
  } catch (error) {
    console.warn("mcp: reading the tool cache failed; discovering without it", { error: String(error) });
    return keys.map(() => null);
  }
}

async function writeCache(redis: Pick<Redis, "set">, key: string, tools: ToolDefinition[]): Promise<void> {
  try {
    await redis.set(key, { tools }, { ex: MCP_TOOLS_CACHE_TTL_S });
  } catch (error) {
    console.warn("mcp: writing the tool cache failed", { key, error: String(error) });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
