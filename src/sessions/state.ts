import type { ChatMessage, ChatSession, MessageMetadata, Template } from "../db/schema";
import type { ParleyUIMessage } from "../turn/message";
import { toUIMessage } from "../turn/prompt";

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
    // A reply still waiting for the visitor: a reloaded widget answers its client calls.
    ...(metadata.awaiting ? { awaiting: metadata.awaiting } : {}),
    createdAt: message.createdAt,
  };
}

/** The body of `GET /v1/widget/session/:id`: state, presentation and visible messages in order. */
export function sessionState({ session, template, messages }: { session: ChatSession; template: Template | null; messages: ChatMessage[] }) {
  return {
    sessionId: session.id,
    status: session.status,
    channel: session.channel,
    currentNode: session.currentNode,
    createdAt: session.createdAt,
    lastActivityAt: session.lastActivityAt,
    endedAt: session.endedAt,
    endedReason: session.endedReason,
    quickReplies: template?.presentation.quickReplies ?? [],
    textInput: template?.presentation.textInput ?? true,
    voiceInput: template?.presentation.voiceInput ?? false,
    messages: messages.map((message) => visibleMessage(session.id, message)),
  };
}
