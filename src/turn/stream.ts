import { createUIMessageStreamResponse } from "ai";
import type { ParleyChunk } from "./message";

/** SSE comment interval that keeps proxies from closing a quiet stream (long tool calls), in ms. */
export const KEEP_ALIVE_MS = 15_000;

export interface TurnStream {
  /** The SSE Response: AI SDK UI message stream v1. */
  response: Response;
  /** Sends a chunk; once the client is gone, chunks are dropped. */
  write(chunk: ParleyChunk): void;
  /** Ends the stream; safe to call more than once. */
  close(): void;
  /** Aborts when the client stops reading (disconnect or cancelled body). */
  clientGone: AbortSignal;
}

/**
 * Opens the response stream of a turn. The turn writes into it from `waitUntil` work, so the
 * generation does not depend on the client staying: a disconnect only stops delivery.
 */
export function openTurnStream(requestSignal?: AbortSignal): TurnStream {
  const gone = new AbortController();
  const { readable, writable } = new TransformStream<ParleyChunk, ParleyChunk>();
  const writer = writable.getWriter();
  // A cancelled response body errors the writable side.
  writer.closed.catch(() => gone.abort());
  requestSignal?.addEventListener("abort", () => gone.abort(), { once: true });
  let closed = false;

  return {
    response: createUIMessageStreamResponse({
      stream: readable,
      keepAliveMs: KEEP_ALIVE_MS,
      headers: { "cache-control": "no-cache, no-transform" },
    }),
    write(chunk) {
      if (closed || gone.signal.aborted) return;
      writer.write(chunk).catch(() => gone.abort());
    },
    close() {
      if (closed) return;
      closed = true;
      writer.close().catch(() => {});
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
