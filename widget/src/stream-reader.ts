/**
 * A reader for parley's UI message stream (AI SDK UI message stream protocol v1 over SSE):
 * `data: <json>` events, `:` comments as keep-alives, `data: [DONE]` at the end.
 * Written for the widget so the browser bundle carries neither the AI SDK nor zod.
 */

/** One part of the stream; `type` says which, the other fields depend on it. */
export interface StreamPart {
  type: string;
  [field: string]: unknown;
}

/**
 * Yields the parts of an SSE body in order. Comments and events without data are skipped,
 * as is an event whose data is not a JSON object with a string `type`; `[DONE]` ends it.
 * Cancelling the iteration (break, return) cancels the body.
 */
export async function* readStreamParts(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamPart> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // Events end at a blank line; CRLF and CR line ends are allowed by the SSE grammar.
      buffer = buffer.replace(/\r\n?/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = eventData(event);
        if (data === undefined) continue;
        if (data === "[DONE]") return;
        const part = parsePart(data);
        if (part) yield part;
      }
      if (done) {
        const data = eventData(buffer);
        if (data !== undefined && data !== "[DONE]") {
          const part = parsePart(data);
          if (part) yield part;
        }
        return;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** The `data` of one SSE event (its `data:` lines joined by newlines), or undefined. */
function eventData(event: string): string | undefined {
  const lines: string[] = [];
  for (const line of event.split("\n")) {
    if (line.startsWith("data:")) lines.push(line.slice(line.startsWith("data: ") ? 6 : 5));
  }
  return lines.length ? lines.join("\n") : undefined;
}

function parsePart(data: string): StreamPart | undefined {
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string") {
      return value as StreamPart;
    }
  } catch {
    // A malformed event is skipped; the turn's own end parts still arrive.
  }
  return undefined;
}
