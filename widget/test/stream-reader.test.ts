import { describe, expect, it } from "vitest";
import { readStreamParts, type StreamPart } from "../src/stream-reader";

/** A body that delivers `chunks` as separate reads, like a network does. */
function body(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of readStreamParts(stream)) parts.push(part);
  return parts;
}

describe("readStreamParts", () => {
  it("reads the parts of a turn in order and stops at [DONE]", async () => {
    const sse =
      'data: {"type":"start","messageId":"a"}\n\n' +
      'data: {"type":"text-start","id":"t"}\n\n' +
      'data: {"type":"text-delta","id":"t","delta":"Hi"}\n\n' +
      'data: {"type":"finish"}\n\n' +
      "data: [DONE]\n\n" +
      'data: {"type":"after-done"}\n\n';
    expect((await collect(body([sse]))).map((p) => p.type)).toEqual(["start", "text-start", "text-delta", "finish"]);
  });

  it("joins events split across reads, even inside a multi-byte character", async () => {
    const bytes = new TextEncoder().encode('data: {"type":"text-delta","id":"t","delta":"Grüße — ok"}\n\n');
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });
    expect(await collect(stream)).toEqual([{ type: "text-delta", id: "t", delta: "Grüße — ok" }]);
  });

  it("skips keep-alive comments, CRLF line ends and malformed events", async () => {
    const parts = await collect(
      body([": keep-alive\r\n\r\n", "data: not json\r\n\r\n", 'data: {"no":"type"}\n\n', 'data: {"type":"abort"}\r\n\r\n']),
    );
    expect(parts).toEqual([{ type: "abort" }]);
  });

  it("reads a last event that lacks its blank line when the body ends", async () => {
    expect(await collect(body(['data: {"type":"finish"}']))).toEqual([{ type: "finish" }]);
  });

  it("joins multi-line data with newlines", async () => {
    expect(await collect(body(['data: {"type":\ndata: "error","errorText":"x"}\n\n']))).toEqual([{ type: "error", errorText: "x" }]);
  });
});
