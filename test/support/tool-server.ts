import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback, readBody } from "../../dev/loopback";

/**
 * A local target for HTTP tools (Node), on 127.0.0.1 and a free port:
 * - `/echo` and `/echo/*`, any method: JSON `{ method, path, url, query, headers, body }`, where
 *   `url` is the raw request target (as encoded by the client) and `body` the parsed JSON body
 *   (raw text when not JSON, `null` when empty);
 * - `/status/:code`: that status with `{ status, message }`;
 * - `/slow?ms=N`: `{ waitedMs }` after N ms (pending answers are dropped on close); with `&head=1`
 *   the status, headers and a first part of the body go out at once and the rest after N ms;
 * - `/big?bytes=N`: N bytes of `x` as text/plain, chunked, without Content-Length;
 * - `/text?value=V`: V (default `ok`) as text/plain;
 * - `/redirect?to=URL&status=N`: status N (default 302) with `Location: URL`;
 * - `GET /orders/:id`: a small order, the same for the same id;
 * - `/calls/:key`, any method: counts the call, answers `{ key, calls }` (the count so far);
 *   `GET /__calls/:key` reads the count without counting (0 for a key never called).
 * Anything else answers 404.
 */
export interface ToolServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  close(): Promise<void>;
}

/** Upper bounds for `/slow` and `/big`, so a typo cannot hang or flood a test run. */
const MAX_SLOW_MS = 60_000;
const MAX_BIG_BYTES = 64 * 1024 * 1024;
const BIG_CHUNK_BYTES = 64 * 1024;
const ORDER_STATUSES = ["processing", "shipped", "delivered"] as const;

export async function startToolServer(): Promise<ToolServer> {
  const timers = new Set<NodeJS.Timeout>();
  const calls = new Map<string, number>();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: `tool-server: ${String(error)}` });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://tool-server.local");
    const path = url.pathname;
    const match = (pattern: RegExp) => pattern.exec(path)?.[1];

    if (path === "/echo" || path.startsWith("/echo/")) {
      const raw = await readBody(req);
      sendJson(res, 200, {
        method: req.method,
        path,
        url: req.url,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: parseBody(raw, req.headers["content-type"]),
      });
      return;
    }
    const counted = match(/^\/calls\/([\w-]+)$/);
    if (counted !== undefined) {
      calls.set(counted, (calls.get(counted) ?? 0) + 1);
      return sendJson(res, 200, { key: counted, calls: calls.get(counted) });
    }
    const read = match(/^\/__calls\/([\w-]+)$/);
    if (read !== undefined) return sendJson(res, 200, { key: read, calls: calls.get(read) ?? 0 });
    const code = match(/^\/status\/(\d{3})$/);
    if (code !== undefined) {
      const status = Number(code);
      if (status < 200 || status > 599) return sendJson(res, 400, { error: "status must be 200-599" });
      sendJson(res, status, { status, message: `tool-server answered ${status}` });
      return;
    }
    if (path === "/slow") {
      const ms = Math.min(Number(url.searchParams.get("ms") ?? 1000) || 0, MAX_SLOW_MS);
      const body = JSON.stringify({ waitedMs: ms });
      const head = url.searchParams.get("head") === "1";
      if (head) res.writeHead(200, { "content-type": "application/json" }).write(body.slice(0, 1));
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (head) res.end(body.slice(1));
        else sendJson(res, 200, { waitedMs: ms });
      }, ms);
      timers.add(timer);
      res.on("close", () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
      return;
    }
    if (path === "/big") {
      const bytes = Math.min(Number(url.searchParams.get("bytes") ?? 0) || 0, MAX_BIG_BYTES);
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      const chunk = Buffer.alloc(BIG_CHUNK_BYTES, "x");
      for (let sent = 0; sent < bytes && !res.destroyed; sent += BIG_CHUNK_BYTES) {
        const ok = res.write(chunk.subarray(0, Math.min(BIG_CHUNK_BYTES, bytes - sent)));
        if (!ok) await drainedOrClosed(res);
      }
      res.end();
      return;
    }
    if (path === "/redirect") {
      const status = Number(url.searchParams.get("status") ?? 302);
      res.writeHead(status, { location: url.searchParams.get("to") ?? "/" }).end();
      return;
    }
    if (path === "/text") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(url.searchParams.get("value") ?? "ok");
      return;
    }
    const orderId = match(/^\/orders\/([^/]+)$/);
    if (orderId !== undefined && req.method === "GET") {
      sendJson(res, 200, order(decodeURIComponent(orderId)));
      return;
    }
    sendJson(res, 404, { error: `no route for ${req.method} ${path}` });
  }

  const listening = await listenOnLoopback(server);
  return {
    url: listening.origin,
    close: () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return listening.close();
    },
  };
}

/** A deterministic order: the status and quantities follow from the id's characters. */
function order(id: string) {
  const seed = [...id].reduce((sum, char) => sum + (char.codePointAt(0) ?? 0), 0);
  const quantity = (seed % 3) + 1;
  return {
    id,
    status: ORDER_STATUSES[seed % ORDER_STATUSES.length],
    items: [{ sku: "PARLEY-MUG", name: "Parley mug", quantity, unitPrice: 12.5 }],
    total: quantity * 12.5,
    currency: "EUR",
    estimatedDelivery: "2026-12-01",
  };
}

/** Resolves when `res` can take more data or the client went away. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (raw === "") return null;
  if (!contentType?.includes("json")) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
