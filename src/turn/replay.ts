import type { ChatMessage, MessageMetadata } from "../db/schema";
import { messageId, type ParleyChunk, type ParleyUIMessage, type TurnStatus } from "./message";
import { awaitingStatus } from "./pending";

const STATUS_OF: Record<MessageMetadata["status"], TurnStatus> = {
  complete: "completed",
  canceled: "canceled",
  interrupted: "failed",
};

/**
 * The chunks that rebuild a stored reply: what the original stream would have produced, for a
 * client retrying a message it already sent (gate 12). With no reply — the message was never
 * answered and is no longer the last one — an empty stream ending `failed`.
 */
export function replayChunks({
  sessionId,
  userIdx,
  reply,
}: {
  sessionId: string;
  userIdx: number;
  reply: ChatMessage | null;
}): ParleyChunk[] {
  const metadata = { sessionId, idx: reply?.idx ?? userIdx + 1 };
  const parts = (reply?.parts ?? []) as ParleyUIMessage["parts"];
  const status = reply ? (awaitingStatus(reply) ?? STATUS_OF[(reply.metadata as Partial<MessageMetadata>).status ?? "complete"]) : "failed";
  return [
    { type: "start", messageId: messageId(sessionId, metadata.idx), messageMetadata: metadata },
    { type: "data-user-committed", data: { idx: userIdx }, transient: true },
    ...parts.flatMap((part, i) => partChunks(part, `r${i}`)),
    { type: "data-turn-end", data: { status, assistantIdx: reply?.idx ?? null }, transient: true },
    { type: "finish", messageMetadata: metadata },
  ];
}

function partChunks(part: ParleyUIMessage["parts"][number], id: string): ParleyChunk[] {
  if (part.type === "text") {
    return [
      { type: "text-start", id },
      { type: "text-delta", id, delta: part.text },
      { type: "text-end", id },
    ];
  }
  if (part.type === "step-start") return [{ type: "start-step" }, { type: "finish-step" }];
  if (part.type === "data-node-transition") return [{ type: "data-node-transition", data: part.data }];
  if (part.type === "dynamic-tool" || part.type.startsWith("tool-")) {
    const tool = part as Extract<ParleyUIMessage["parts"][number], { toolCallId: string }>;
    const toolName = part.type === "dynamic-tool" ? (part as { toolName: string }).toolName : part.type.slice(5);
    const dynamic = part.type === "dynamic-tool" ? { dynamic: true as const } : {};
    const chunks: ParleyChunk[] = [
      { type: "tool-input-available", toolCallId: tool.toolCallId, toolName, input: tool.input, ...dynamic },
    ];
    const approval = (tool as { approval?: { id: string; approved?: boolean; reason?: string } }).approval;
    if (approval) chunks.push({ type: "tool-approval-request", approvalId: approval.id, toolCallId: tool.toolCallId });
    if (approval?.approved !== undefined) {
      chunks.push({ type: "tool-approval-response", approvalId: approval.id, approved: approval.approved, ...(approval.reason === undefined ? {} : { reason: approval.reason }) });
    }
    if (tool.state === "output-denied") chunks.push({ type: "tool-output-denied", toolCallId: tool.toolCallId });
    if (tool.state === "output-available") {
      chunks.push({ type: "tool-output-available", toolCallId: tool.toolCallId, output: tool.output, ...dynamic });
    } else if (tool.state === "output-error") {
      chunks.push({ type: "tool-output-error", toolCallId: tool.toolCallId, errorText: tool.errorText, ...dynamic });
    }
    return chunks;
  }
  return [];
}
