import { gatherWithin } from "./time-window";

/**
 * A `fetch` for model providers whose streamed (SSE) response bodies arrive in batches: bytes
 * read within `windowMs` of the first one are handed on as one chunk. A provider parses its
 * stream in several stages (decode, split events, parse JSON, map to parts), each a stream hop
 * per network read; a model sending one token per read then costs all of them per token.
 * Batched, the hops run once per batch. The bytes are the same, so every event is too.
 *
 * The first read after a quiet spell goes on at once (time to first token is unchanged); later
 * ones wait at most `windowMs`. Only `text/event-stream` bodies are batched.
 */
export function batchedFetch(windowMs: number, inner: typeof fetch = (input, init) => fetch(input, init)): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const type = response.headers.get("content-type") ?? "";
    if (windowMs <= 0 || !response.body || !type.startsWith("text/event-stream")) return response;
    const body = gatherWithin(response.body, { windowMs, merge: concat, passesThrough: () => false });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

function concat(held: Uint8Array, next: Uint8Array): Uint8Array {
  const joined = new Uint8Array(held.byteLength + next.byteLength);
  joined.set(held, 0);
  joined.set(next, held.byteLength);
  return joined;
}
