import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback, readBody } from "./loopback";

/** Request counters a shim exposes at `GET /__stats`. */
export interface ShimStats {
  /** Requests handled on protocol routes (health and stats excluded). */
  requests: number;
  /** Requests per path, e.g. `{ "/pipeline": 3 }`. */
  byPath: Record<string, number>;
}

export interface ShimServerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** Fixed delay added before every protocol request is handled, in ms. @default 0 */
  latencyMs?: number;
}

export interface RunningShim {
  /** Base URL, e.g. `http://127.0.0.1:8079`. */
  url: string;
  port: number;
  stats(): ShimStats;
  resetStats(): void;
  /** Changes the added latency for later requests, in ms. */
  setLatency(ms: number): void;
  /** Stops listening and closes the backend connections. */
  close(): Promise<void>;
}

/** A protocol answer: status and a JSON body. */
export interface ShimReply {
  status: number;
  body: unknown;
}

/** An answer the handler writes itself, such as an event stream that stays open. */
export interface ShimStreamReply {
  /** Takes over the response; `req` and `res` emit `close` when the client goes away. */
  stream(req: IncomingMessage, res: ServerResponse): void;
}

export type ShimHandler = (request: {
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}) => Promise<ShimReply | ShimStreamReply>;


/**
 * Starts a loopback-only HTTP server that answers `GET /healthz`, `GET /__stats`
 * and hands every `POST` with a JSON body to `handle`, after the configured latency.
 */
export async function startShimServer(
  handle: ShimHandler,
  { port = 0, latencyMs = 0 }: ShimServerOptions,
  onClose: () => Promise<void>,
): Promise<RunningShim> {
  let latency = latencyMs;
  let stats: ShimStats = { requests: 0, byPath: {} };

  const server = createServer((req, res) => {
    void route(req, res).catch((error: unknown) => {
      send(res, failure(500, error instanceof Error ? error.message : String(error)));
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://shim").pathname;
    if (req.method === "GET" && path === "/healthz") return send(res, { status: 200, body: { ok: true } });
    if (req.method === "GET" && path === "/__stats") return send(res, { status: 200, body: stats });
    if (req.method !== "POST") return send(res, failure(405, "only POST is supported"));

    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      return send(res, failure(400, `request body is not JSON: ${(error as Error).message}`));
    }
    stats.requests += 1;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
    const reply = await handle({ path, headers: req.headers, body });
    if ("stream" in reply) return reply.stream(req, res);
    send(res, reply);
  }

  const listening = await listenOnLoopback(server, port);
  return {
    url: listening.origin,
    port: listening.port,
    stats: () => structuredClone(stats),
    resetStats: () => {
      stats = { requests: 0, byPath: {} };
    },
    setLatency: (ms) => {
      latency = ms;
    },
    close: async () => {
      await listening.close();
      await onClose();
    },
  };
}

/** An error both clients can read: Upstash's reads `error`, Neon's reads `message`. */
function failure(status: number, message: string): ShimReply {
  return { status, body: { error: message, message } };
}

function send(res: ServerResponse, { status, body }: ShimReply): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
