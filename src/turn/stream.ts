import type { ParleyChunk } from "./message";

/** SSE comment interval that keeps proxies from closing a quiet stream (long tool calls), in ms. */
export const KEEP_ALIVE_MS = 15_000;

/** The headers of the AI SDK's UI message stream, protocol v1, plus no proxy transformation. */
const STREAM_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  "x-vercel-ai-ui-message-stream": "v1",
  "x-accel-buffering": "no",
} as const;

const STREAM_OPEN = ": stream-open\n\n";
const KEEP_ALIVE = ": keep-alive\n\n";
const DONE = "data: [DONE]\n\n";

/**
 * SSE event ids for a turn's stream, `<turnId>-<n>` with n the chunk's index in the turn (0 is
 * its `start`), so a client can resume with `Last-Event-ID` (src/turn/resume-stream.ts).
 */
export interface TurnEventIds {
  turnId: string;
  /** The index of the first chunk written. @default 0 */
  next?: number;
}

export interface TurnStream {
  /** The SSE Response: AI SDK UI message stream v1. */
  response: Response;
  /** Sends a chunk; once the client is gone, chunks are dropped. Returns the chunk's JSON, as framed. */
  write(chunk: ParleyChunk): string;
  /** Ends the stream; safe to call more than once. */
  close(): void;
  /** Aborts when the client stops reading (disconnect or cancelled body). */
  clientGone: AbortSignal;
}

/**
 * Opens the response stream of a turn. The turn writes into it from `waitUntil` work, so the
 * generation does not depend on the client staying: a disconnect only stops delivery.
 *
 * The wire format is exactly what the AI SDK's `createUIMessageStreamResponse` writes (`: stream-
 * open`, `data: <json>` frames, `: keep-alive` comments, `data: [DONE]`), but as one stream whose
 * `write` encodes the frame at once: the SDK's chain of JSON→SSE, keep-alive and text-encoder
 * streams costs three stream stages and a timer reset per chunk (measured with `npm run bench`).
 */
export function openTurnStream(requestSignal?: AbortSignal, eventIds?: TurnEventIds): TurnStream {
  const gone = new AbortController();
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let wroteSinceTick = true;
  let nextEventIndex = eventIds?.next ?? 0;

  const enqueue = (text: string) => {
    if (closed || gone.signal.aborted) return;
    wroteSinceTick = true;
    try {
      controller.enqueue(encoder.encode(text));
    } catch {
      gone.abort();
    }
  };
  // One timer for the whole stream: a comment only after a quiet interval.
  const keepAlive = setInterval(() => {
    if (!wroteSinceTick) enqueue(KEEP_ALIVE);
    wroteSinceTick = false;
  }, KEEP_ALIVE_MS);
  const finish = () => {
    clearInterval(keepAlive);
    closed = true;
  };

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      finish();
      gone.abort();
    },
  });
  enqueue(STREAM_OPEN);
  requestSignal?.addEventListener("abort", () => gone.abort(), { once: true });
  gone.signal.addEventListener("abort", () => clearInterval(keepAlive), { once: true });

  return {
    response: new Response(body, { headers: STREAM_HEADERS }),
    write(chunk) {
      const id = eventIds ? `id: ${eventIds.turnId}-${nextEventIndex++}\n` : "";
      const json = JSON.stringify(chunk);
      enqueue(`${id}data: ${json}\n\n`);
      return json;
    },
    close() {
      if (closed) return;
      enqueue(DONE);
      finish();
      if (!gone.signal.aborted) controller.close();
    },
    clientGone: gone.signal,
  };
}

/** A finished stream from chunks known in advance (replays). */
export function completedStreamResponse(chunks: ParleyChunk[]): Response {
  const stream = openTurnStream();
  for (const chunk of chunks) stream.write(chunk);
  stream.close();
  return stream.response;
}
