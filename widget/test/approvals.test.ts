import { describe, expect, it } from "vitest";
import { applyPart, emptyReply, segmentsFromParts, type Reply } from "../src/reply";
import type { StreamPart } from "../src/stream-reader";

const fold = (parts: StreamPart[], from: Reply = emptyReply()): Reply => parts.reduce(applyPart, from);
const call: StreamPart[] = [
  { type: "tool-input-start", toolCallId: "c1", toolName: "cancel_order" },
  { type: "tool-input-available", toolCallId: "c1", toolName: "cancel_order", input: { orderId: "A1" } },
];
const end = (status: string): StreamPart => ({ type: "data-turn-end", data: { status, assistantIdx: 1 } });

describe("a tool call that waits for the visitor", () => {
  it("asks for approval, then shows the decision and the tool's run in the continued reply", () => {
    const waiting = fold([...call, { type: "tool-approval-request", approvalId: "a1", toolCallId: "c1" }, end("awaiting_approval")]);
    expect(waiting.status).toBe("complete");
    expect(waiting.awaitingTools).toBeUndefined();
    expect(waiting.segments).toEqual([
      { kind: "tool", id: "c1", name: "cancel_order", done: false, failed: false, input: { orderId: "A1" }, approval: { id: "a1", state: "pending" } },
    ]);

    const continued = fold(
      [
        { type: "tool-approval-response", approvalId: "a1", approved: true },
        { type: "tool-output-available", toolCallId: "c1", output: { ok: true } },
        { type: "text-start", id: "t" },
        { type: "text-delta", id: "t", delta: "Cancelled." },
        end("completed"),
      ],
      { ...waiting, status: "streaming", ended: false },
    );
    expect(continued.segments[0]).toMatchObject({ done: true, approval: { id: "a1", state: "approved" } });
    expect(continued.segments.map((s) => s.kind)).toEqual(["tool", "text"]);
  });

  it("records a denial", () => {
    const denied = fold([
      ...call,
      { type: "tool-approval-request", approvalId: "a1", toolCallId: "c1" },
      { type: "tool-approval-response", approvalId: "a1", approved: false, reason: "no" },
      { type: "tool-output-denied", toolCallId: "c1" },
    ]);
    expect(denied.segments[0]).toMatchObject({ done: true, approval: { state: "denied" } });
  });

  it("says when the turn ended waiting for this page's tools", () => {
    expect(fold([...call, end("awaiting_tool_result")]).awaitingTools).toBe(true);
  });

  it("restores a pending approval, and a decided one, from the stored parts", () => {
    const segments = segmentsFromParts([
      { type: "tool-cancel_order", toolCallId: "c1", state: "approval-requested", input: {}, approval: { id: "a1" } },
      { type: "tool-cancel_order", toolCallId: "c2", state: "output-denied", input: {}, approval: { id: "a2", approved: false } },
      { type: "tool-cancel_order", toolCallId: "c3", state: "output-available", input: {}, output: {}, approval: { id: "a3", approved: true } },
    ]);
    expect(segments.map((s) => s.kind === "tool" && s.approval)).toEqual([
      { id: "a1", state: "pending" },
      { id: "a2", state: "denied" },
      { id: "a3", state: "approved" },
    ]);
  });
});
