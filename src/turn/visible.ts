import type { ChatMessage, MessageMetadata } from "../db/schema";
import type { ParleyUIMessage } from "./message";
import { toUIMessage } from "./prompt";

type Part = ParleyUIMessage["parts"][number];

/** Parts a widget renders: text, tool calls with their results, and flow moves. */
function isVisible(part: Part): boolean {
  return part.type === "text" || part.type === "dynamic-tool" || part.type.startsWith("tool-") || part.type === "data-node-transition";
}

/** A stored message as `GET /v1/widget/session/:id` shows it. */
export function visibleMessage(sessionId: string, message: ChatMessage) {
  const ui = toUIMessage(sessionId, message);
  const metadata = message.metadata as Partial<MessageMetadata>;
  return {
    id: ui.id,
    idx: message.idx,
    role: message.role,
    text: message.text,
    parts: ui.parts.filter(isVisible),
    status: metadata.status ?? "complete",
    createdAt: message.createdAt,
  };
}
