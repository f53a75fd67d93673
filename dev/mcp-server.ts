import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { CallToolResult, RequestInfo } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { listenOnLoopback } from "./loopback";

export interface DemoMcpServerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
}

export interface RunningDemoMcpServer {
  /** The Streamable HTTP endpoint, e.g. `http://127.0.0.1:8077/mcp`. */
  url: string;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

const ENDPOINT = "/mcp";

const orderStatusSchema = z.object({
  orderId: z.string(),
  status: z.enum(["processing", "shipped", "delivered"]),
  carrier: z.string().nullable(),
  eta: z.string(),
});
type OrderStatus = z.infer<typeof orderStatusSchema>;

/** Order ids the demo knows: letters, an optional dash, digits (A1, A-1001). */
const ORDER_ID = /^[A-Z]{1,3}-?\d{1,9}$/;
const STATUS_BY_LAST_DIGIT_MOD_3: Omit<OrderStatus, "orderId">[] = [
  { status: "delivered", carrier: "UPS", eta: "2026-11-20" },
  { status: "shipped", carrier: "DHL", eta: "2026-12-01" },
  { status: "processing", carrier: null, eta: "2026-12-08" },
];

/** A deterministic status: the id's last digit mod 3 picks it (A1, A-1001 shipped; A-1002 processing; A-1003 delivered). */
function orderStatus(orderId: string): OrderStatus | undefined {
  if (!ORDER_ID.test(orderId)) return undefined;
  const status = STATUS_BY_LAST_DIGIT_MOD_3[Number(orderId.at(-1)) % 3];
  return status && { orderId, ...status };
}

const PRODUCTS = [
  { sku: "P-100", name: "Travel mug", price: "12.50 EUR" },
  { sku: "P-200", name: "Canvas tote", price: "18.00 EUR" },
  { sku: "P-300", name: "Desk lamp", price: "42.00 EUR" },
];

/** A JSON result the way the spec asks for it: structured, plus the same as text for older clients. */
function structured(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value) }], structuredContent: value };
}

/** The request's headers as single strings (repeated headers joined with `, `). */
function flatHeaders(requestInfo: RequestInfo | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(requestInfo?.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

/** A fresh server per request: the SDK's stateless Streamable HTTP pattern. */
function createDemoServer(): McpServer {
  const server = new McpServer({ name: "parley-demo", version: "1.0.0" });

  server.registerTool(
    "get_order_status",
    {
      description: "Looks up the shipping status of an order by its id (for example A-1001).",
      inputSchema: { orderId: z.string().min(1).describe("The order id, e.g. A-1001") },
      outputSchema: orderStatusSchema,
    },
    async ({ orderId }) => {
      const order = orderStatus(orderId);
      if (!order) return { content: [{ type: "text", text: `No order with id "${orderId}".` }], isError: true };
      return structured(order);
    },
  );

  server.registerTool(
    "list_products",
    { description: "Lists the products of the demo shop with their prices." },
    async () => ({
      content: [{ type: "text", text: PRODUCTS.map((p) => `${p.sku} ${p.name}: ${p.price}`).join("\n") }],
    }),
  );

  server.registerTool(
    "echo_headers",
    {
      description: "Returns the HTTP request headers this server received (a debugging aid).",
      outputSchema: z.object({ headers: z.record(z.string(), z.string()) }),
    },
    async (extra) => structured({ headers: flatHeaders(extra.requestInfo) }),
  );

  return server;
}

async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const server = createDemoServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on("close", () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Starts the demo MCP server (Streamable HTTP, stateless) on 127.0.0.1. Tools: `get_order_status`
 * `{ orderId }` (ids like A1 or A-1001 get a status from their last digit; anything else is an
 * `isError` "not found" result), `list_products` and `echo_headers`.
 */
export async function startDemoMcpServer({ port = 0 }: DemoMcpServerOptions = {}): Promise<RunningDemoMcpServer> {
  const httpServer = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://demo").pathname;
    if (path !== ENDPOINT) return sendJson(res, 404, { error: `not found; the MCP endpoint is ${ENDPOINT}` });
    // Stateless: no standalone SSE stream (GET) and no session to end (DELETE). 405 is what
    // clients expect for "not offered"; without it a GET would hold a connection open forever.
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return sendJson(res, 405, { jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed." }, id: null });
    }
    handleMcp(req, res).catch((error: unknown) => {
      console.error("demo MCP server: request failed", error);
      if (!res.headersSent) sendJson(res, 500, { jsonrpc: "2.0", error: { code: -32603, message: "Internal server error" }, id: null });
      else res.end();
    });
  });

  const listening = await listenOnLoopback(httpServer, port);
  return { url: `${listening.origin}${ENDPOINT}`, close: listening.close };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startDemoMcpServer({ port: Number(process.env.MCP_DEMO_PORT ?? "8077") });
  console.log(`demo MCP server on ${server.url}`);
  process.once("SIGINT", () => void server.close());
  process.once("SIGTERM", () => void server.close());
}
