import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback, readBody } from "./loopback";

/** Request counters a shim exposes at `GET /__stats`. */
export interface ShimStats {
  /** Requests handled on protocol routes (health and stats excluded). */
  requests: number;
  /** Requests per path, e.g. `{ "/pipeline": 3 }`. */
  byPath: Record<string, number>;
}

/** One protocol request, as `GET /__stats?log` lists it. */
export interface ShimRequestRecord {
  /** Arrival, in epoch ms with sub-millisecond precision (before the added latency). */
  at: number;
  path: string;
  /** Command names (Upstash: `["EVALSHA","SET"]`) or statement verbs (Neon: `["select"]`), in order. */
  commands: string[];
}

/** Requests kept for the log: a few minutes of a benchmark, bounded for a long-lived shim. */
export const MAX_LOGGED_REQUESTS = 100_000;

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
  /** The last {@link MAX_LOGGED_REQUESTS} protocol requests that arrived after `since` (epoch ms), oldest first. */
  requestLog(since?: number): ShimRequestRecord[];
  /** Resets the counters and the request log. */
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
 * `GET /__stats?log` adds `log`, the request log (`&since=<epoch ms>` keeps later arrivals),
 * so a benchmark can tell which requests came before, during or after a model call;
 * `PUT /__latency?ms=N` changes the added latency.
 */
export async function startShimServer(
  handle: ShimHandler,
  { port = 0, latencyMs = 0 }: ShimServerOptions,
  onClose: () => Promise<void>,
): Promise<RunningShim> {
  let latency = latencyMs;
  let stats: ShimStats = { requests: 0, byPath: {} };
  let log: ShimRequestRecord[] = [];
  const requestLog = (since = 0) => log.filter((record) => record.at > since);

  const server = createServer((req, res) => {
    void route(req, res).catch((error: unknown) => {
      send(res, failure(500, error instanceof Error ? error.message : String(error)));
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://shim").pathname;
    if (req.method === "GET" && path === "/healthz") return send(res, { status: 200, body: { ok: true } });
    if (req.method === "GET" && path === "/__stats") {
      const query = new URL(req.url ?? "/", "http://shim").searchParams;
      if (!query.has("log")) return send(res, { status: 200, body: stats });
      return send(res, { status: 200, body: { ...stats, log: requestLog(Number(query.get("since") ?? 0)) } });
    }
    if (req.method === "PUT" && path === "/__latency") {
      const ms = Number(new URL(req.url ?? "/", "http://shim").searchParams.get("ms"));
      if (!Number.isFinite(ms) || ms < 0) return send(res, failure(400, "ms must be a non-negative number"));
      latency = ms;
      return send(res, { status: 200, body: { latencyMs: ms } });
    }
    if (req.method !== "POST") return send(res, failure(405, "only POST is supported"));

    const at = performance.timeOrigin + performance.now();
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      return send(res, failure(400, `request body is not JSON: ${(error as Error).message}`));
    }
    stats.requests += 1;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    log.push({ at, path, commands: commandNames(path, body) });
    // Trimmed in blocks: one copy per thousand requests rather than a shift per request.
    if (log.length > MAX_LOGGED_REQUESTS + 1_000) log = log.slice(-MAX_LOGGED_REQUESTS);
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
    requestLog: (since) => requestLog(since).slice(-MAX_LOGGED_REQUESTS),
    resetStats: () => {
      stats = { requests: 0, byPath: {} };
      log = [];
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

/**
 * What a request asks for, whichever protocol: an Upstash command (`["GET","k"]`) or batch
 * (`[["GET","k"],…]`), or a Neon query (`{query}`) or batch (`{queries:[…]}`).
 */
function commandNames(path: string, body: unknown): string[] {
  // A body-less command names itself in the path (Upstash `/subscribe/<channel>` takes `[]`).
  if (Array.isArray(body) && body.length === 0) return [path.split("/")[1]?.toUpperCase() || "?"];
  const verb = (query: unknown) => (typeof query === "string" ? (/^\s*(\w+)/.exec(query)?.[1]?.toLowerCase() ?? "?") : "?");
  if (Array.isArray(body)) {
    const commands: unknown[] = Array.isArray(body[0]) ? body : [body];
    return commands.map((command) => (Array.isArray(command) ? String(command[0]).toUpperCase() : "?"));
  }
  if (typeof body === "object" && body !== null) {
    const { query, queries } = body as { query?: unknown; queries?: unknown };
    if (Array.isArray(queries)) return queries.map((q: { query?: unknown }) => verb(q?.query));
    return [verb(query)];
  }
  return ["?"];
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
