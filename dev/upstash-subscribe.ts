import type { ServerResponse } from "node:http";
import { Redis } from "ioredis";
import type { ShimReply, ShimStreamReply } from "./shim-server";

/** `subscribe` takes a channel name, `psubscribe` a glob pattern. */
export type SubscribeKind = "subscribe" | "psubscribe";

/** Faults a test can ask of `/subscribe`; a normal shim has none. */
export interface SubscribeFaults {
  /**
   * Wait before subscribing in Redis, and so before confirming, in ms. A message published in
   * that window reaches nobody, as when the subscribe request is slow on a real network.
   * @default 0
   */
  subscribeDelayMs?: number;
  /**
   * Answer `/subscribe` with 200 and end the stream at once, never confirming, as a proxy that
   * cuts long-lived responses would.
   * @default false
   */
  hangUpSubscriptions?: boolean;
}

/** The name subscriber connections carry in `CLIENT LIST`. */
const SUBSCRIBER_CONNECTION_NAME = "upstash-shim-subscriber";

/**
 * The server side of `@upstash/redis`' `subscribe()` / `psubscribe()`: one dedicated Redis
 * connection per request (a subscribed connection can run nothing else), relayed as the
 * event stream the client parses line by line:
 *
 *     data: subscribe,<channel>,<count>
 *     data: message,<channel>,<payload>
 *     data: pmessage,<pattern>,<channel>,<payload>
 *
 * Payloads go out as Redis holds them, never base64: the client JSON-parses each one (keeping
 * the text when that fails) and ignores `Upstash-Encoding` on this route. A payload with a
 * line break cannot be carried, since the client splits on `\n` and reads one line per event.
 */
export class SubscriptionRelay {
  private readonly connections = new Set<Redis>();

  constructor(
    private readonly redisUrl: string,
    private readonly faults: SubscribeFaults = {},
  ) {}

  /** Subscriber connections not closed yet. */
  get openConnections(): number {
    return this.connections.size;
  }

  /**
   * Opens the subscriber connection, then answers with the event stream; a 503 when Redis
   * cannot be reached. The stream ends, UNSUBSCRIBE and QUIT sent, when the client goes away,
   * and ends when Redis drops the connection.
   */
  async open(kind: SubscribeKind, channel: string): Promise<ShimReply | ShimStreamReply> {
    if (this.faults.hangUpSubscriptions) {
      return { stream: (_req, res) => openEventStream(res).end() };
    }
    const connection = new Redis(this.redisUrl, {
      lazyConnect: true,
      connectionName: SUBSCRIBER_CONNECTION_NAME,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // A lost subscriber connection ends its stream; the client subscribes again if it wants.
      retryStrategy: () => null,
      autoResubscribe: false,
    });
    let connectionError: unknown;
    connection.on("error", (error: unknown) => {
      connectionError = error;
    });
    try {
      await connection.connect();
    } catch (error) {
      connection.disconnect();
      return { status: 503, body: { error: `Redis unavailable: ${messageOf(connectionError ?? error)}` } };
    }
    this.connections.add(connection);
    connection.once("end", () => this.connections.delete(connection));
    return { stream: (_req, res) => this.relay(kind, channel, connection, res) };
  }

  /** Drops every subscriber connection at once (the shim is stopping). */
  closeAll(): void {
    for (const connection of this.connections) connection.disconnect();
    this.connections.clear();
  }

  private relay(kind: SubscribeKind, channel: string, connection: Redis, res: ServerResponse): void {
    openEventStream(res);
    let closed = false;
    let confirmed = false;
    // ioredis may emit a message that arrived with the SUBSCRIBE reply before the promise of
    // `subscribe()` continues; held back so the confirmation is always the first event.
    const early: string[] = [];
    const send = (event: string) => {
      if (closed) return;
      if (!confirmed) early.push(event);
      else res.write(`data: ${event}\n\n`);
    };
    const close = () => {
      if (closed) return;
      closed = true;
      if (!res.writableEnded) res.end();
      const unsubscribe = kind === "subscribe" ? connection.unsubscribe() : connection.punsubscribe();
      void unsubscribe
        .then(() => connection.quit())
        .catch(() => connection.disconnect());
    };

    connection.on("message", (from: string, payload: string) => send(`message,${from},${payload}`));
    connection.on("pmessage", (pattern: string, from: string, payload: string) => send(`pmessage,${pattern},${from},${payload}`));
    connection.once("end", close);
    // `close` on the response, not the request: a request emits it once its body is read.
    res.once("close", close);

    void (async () => {
      const delayMs = this.faults.subscribeDelayMs ?? 0;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (closed) return;
      try {
        const count = kind === "subscribe" ? await connection.subscribe(channel) : await connection.psubscribe(channel);
        if (closed) return;
        res.write(`data: ${kind},${channel},${count}\n\n`);
        confirmed = true;
        for (const event of early.splice(0)) res.write(`data: ${event}\n\n`);
      } catch {
        close();
      }
    })();
  }
}

function openEventStream(res: ServerResponse): ServerResponse {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  res.flushHeaders();
  return res;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
