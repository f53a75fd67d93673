import { describe, expect, it } from "vitest";
import { applyPart, emptyReply, finishReply, replyText, segmentsFromParts, type Reply } from "../src/reply";
import type { StreamPart } from "../src/stream-reader";

const fold = (parts: StreamPart[]): Reply => parts.reduce(applyPart, emptyReply());

describe("applyPart", () => {
  it("builds the text of a completed reply from its deltas", () => {
    const reply = fold([
      { type: "start" },
      { type: "text-start", id: "a" },
      { type: "text-delta", id: "a", delta: "Hello " },
      { type: "text-delta", id: "a", delta: "**there**" },
      { type: "text-end", id: "a" },
      { type: "data-turn-end", data: { status: "completed", assistantIdx: 1 }, transient: true },
      { type: "finish" },
    ]);
    expect(reply.status).toBe("complete");
    expect(replyText(reply)).toBe("Hello there");
  });

  it("shows a tool call as running, then done, between the texts of two steps", () => {
    const running = fold([
      { type: "text-start", id: "a" },
      { type: "text-delta", id: "a", delta: "Let me check." },
      { type: "tool-input-start", toolCallId: "c1", toolName: "get_order_status" },
      { type: "tool-input-available", toolCallId: "c1", toolName: "get_order_status", input: { orderId: "A1" } },
    ]);
    expect(running.segments.at(-1)).toEqual({ kind: "tool", id: "c1", name: "get_order_status", done: false, failed: false, input: { orderId: "A1" } });
    const done = [
      { type: "tool-output-available", toolCallId: "c1", output: { status: "shipped" } },
      { type: "text-start", id: "b" },
      { type: "text-delta", id: "b", delta: "It shipped." },
    ].reduce(applyPart, running);
    expect(done.segments.map((s) => s.kind)).toEqual(["text", "tool", "text"]);
    expect(done.segments[1]).toMatchObject({ done: true, failed: false });
    expect(replyText(done)).toBe("Let me check.\nIt shipped.");
  });

  it("marks a canceled turn as stopped and keeps its text", () => {
    const reply = fold([
      { type: "text-start", id: "a" },
      { type: "text-delta", id: "a", delta: "word1 word2" },
      { type: "abort" },
      { type: "data-turn-end", data: { status: "canceled", assistantIdx: 3 } },
    ]);
    expect(reply.status).toBe("stopped");
    expect(replyText(reply)).toBe("word1 word2");
  });

  it("keeps the error text of a failed turn", () => {
    const reply = fold([{ type: "error", errorText: "model_error: The model failed." }, { type: "data-turn-end", data: { status: "failed" } }]);
    expect(reply).toMatchObject({ status: "failed", errorText: "model_error: The model failed." });
  });

  it("calls a stream that ended without data-turn-end cut off", () => {
    const reply = finishReply(fold([{ type: "text-start", id: "a" }, { type: "text-delta", id: "a", delta: "Hel" }]));
    expect(reply.status).toBe("cut");
    expect(finishReply(fold([{ type: "data-turn-end", data: { status: "completed" } }])).status).toBe("complete");
  });
});

describe("segmentsFromParts", () => {
  it("turns stored parts into text and tool segments", () => {
    const segments = segmentsFromParts([
      { type: "text", text: "Checking." },
      { type: "dynamic-tool", toolName: "get_order_status", toolCallId: "c1", state: "output-available" },
      { type: "tool-get_shipment", toolCallId: "c2", state: "output-error" },
      { type: "data-node-transition", data: { from: "greet", to: "order_help" } },
    ]);
    expect(segments).toEqual([
      { kind: "text", id: "t0", text: "Checking." },
      { kind: "tool", id: "c1", name: "get_order_status", done: true, failed: false },
      { kind: "tool", id: "c2", name: "get_shipment", done: true, failed: true },
    ]);
  });

  it("leaves the client calls a stored reply still waits for not done, with their input, for the page to answer", () => {
    const segments = segmentsFromParts(
      [
        { type: "tool-get_cart", toolCallId: "c1", state: "input-available", input: { full: true } },
        { type: "tool-get_order", toolCallId: "c2", state: "input-available", input: {} },
        { type: "tool-get_wishlist", toolCallId: "c3", state: "output-available", input: {}, output: [] },
      ],
      ["c1", "c3"],
    );
    expect(segments).toEqual([
      { kind: "tool", id: "c1", name: "get_cart", done: false, failed: false, input: { full: true } },
      { kind: "tool", id: "c2", name: "get_order", done: true, failed: false, input: {} },
      { kind: "tool", id: "c3", name: "get_wishlist", done: true, failed: false, input: {} },
    ]);
  });
});
