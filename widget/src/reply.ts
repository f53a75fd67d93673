import { markdownToText } from "./markdown";
import type { StreamPart } from "./stream-reader";

/**
 * The visitor's part in a tool call that needs approval: `pending` shows Approve / Deny. A
 * request the visitor answered by writing instead is denied (the server tells the model so).
 */
export type Approval = { id: string; state: "pending" | "approved" | "denied" };

/** A piece of a message as the widget shows it: text, or a quiet line for a tool call. */
export type Segment =
  | { kind: "text"; id: string; text: string }
  | { kind: "tool"; id: string; name: string; done: boolean; failed: boolean; input?: unknown; approval?: Approval };

/**
 * How a message ended. `streaming` while it arrives; `stopped` after the visitor pressed Stop;
 * `failed` when the stream reported an error; `cut` when the stream ended without its end part
 * (connection lost).
 */
export type ReplyStatus = "streaming" | "complete" | "stopped" | "failed" | "cut";

/** An assistant reply folded from its stream parts. */
export interface Reply {
  segments: Segment[];
  status: ReplyStatus;
  /** The `error` part's text, `"<code>: <message>"`. */
  errorText?: string;
  /** Set once `data-turn-end` arrived: the stream is complete. */
  ended: boolean;
  /** The turn ended waiting for this page's tools (`awaiting_tool_result`). */
  awaitingTools?: boolean;
}

/** A reply with nothing in it yet. */
export function emptyReply(): Reply {
  return { segments: [], status: "streaming", ended: false };
}

/**
 * Folds one stream part into the reply (a new object; the old one is not changed). Parts the
 * widget does not show (steps, metadata, transient data other than the turn's end) leave it as is.
 */
export function applyPart(reply: Reply, part: StreamPart): Reply {
  const segments = reply.segments;
  switch (part.type) {
    case "text-start":
      return { ...reply, segments: [...segments, { kind: "text", id: String(part.id), text: "" }] };
    case "text-delta": {
      const id = String(part.id);
      const delta = typeof part.delta === "string" ? part.delta : "";
      const index = findLastIndex(segments, (s) => s.kind === "text" && s.id === id);
      if (index < 0) return { ...reply, segments: [...segments, { kind: "text", id, text: delta }] };
      const segment = segments[index] as Extract<Segment, { kind: "text" }>;
      return { ...reply, segments: replaceAt(segments, index, { ...segment, text: segment.text + delta }) };
    }
    case "tool-input-start":
    case "tool-input-available": {
      const id = String(part.toolCallId);
      const index = segments.findIndex((s) => s.kind === "tool" && s.id === id);
      if (index >= 0) return withTool(reply, index, { input: part.input });
      return { ...reply, segments: [...segments, { kind: "tool", id, name: String(part.toolName), done: false, failed: false, input: part.input }] };
    }
    case "tool-approval-request":
    case "tool-approval-response": {
      const request = part.type === "tool-approval-request";
      const index = segments.findIndex((s) => s.kind === "tool" && (request ? s.id === part.toolCallId : s.approval?.id === part.approvalId));
      return index < 0 ? reply : withTool(reply, index, { approval: { id: String(part.approvalId), state: request ? "pending" : part.approved ? "approved" : "denied" } });
    }
    case "tool-output-available":
    case "tool-output-error":
    case "tool-output-denied":
    case "tool-input-error": {
      const id = String(part.toolCallId);
      const index = segments.findIndex((s) => s.kind === "tool" && s.id === id);
      if (index < 0) return reply;
      const segment = segments[index] as Extract<Segment, { kind: "tool" }>;
      return { ...reply, segments: replaceAt(segments, index, { ...segment, done: true, failed: part.type !== "tool-output-available" }) };
    }
    case "abort":
      return { ...reply, status: "stopped" };
    case "error":
      return { ...reply, status: "failed", errorText: typeof part.errorText === "string" ? part.errorText : "error" };
    case "data-turn-end": {
      const status = (part.data as { status?: unknown } | undefined)?.status;
      const ended = { ...reply, ended: true };
      if (status === "canceled") return { ...ended, status: "stopped" };
      if (status === "failed") return { ...ended, status: "failed" };
      if (status === "awaiting_tool_result") ended.awaitingTools = true;
      return reply.status === "streaming" ? { ...ended, status: "complete" } : ended;
    }
    default:
      return reply;
  }
}

function withTool(reply: Reply, index: number, change: Partial<Extract<Segment, { kind: "tool" }>>): Reply {
  return { ...reply, segments: replaceAt(reply.segments, index, { ...(reply.segments[index] as Extract<Segment, { kind: "tool" }>), ...change }) };
}

/** The reply once its stream is over: a stream that ended without `data-turn-end` was cut off. */
export function finishReply(reply: Reply): Reply {
  if (reply.ended || reply.status !== "streaming") return reply;
  return { ...reply, status: "cut" };
}

/** The text a reader sees in a reply (markdown removed), for the screen-reader announcement. */
export function replyText(reply: Pick<Reply, "segments">): string {
  return reply.segments
    .flatMap((s) => (s.kind === "text" && s.text.trim() ? [markdownToText(s.text.trim())] : []))
    .join("\n");
}

/** A stored message's parts (`GET /session/:id`) as segments. */
export function segmentsFromParts(parts: ReadonlyArray<Record<string, unknown>>, waiting: readonly string[] = []): Segment[] {
  const segments: Segment[] = [];
  parts.forEach((part, index) => {
    const type = String(part.type);
    if (type === "text") segments.push({ kind: "text", id: `t${index}`, text: String(part.text ?? "") });
    else if (type === "dynamic-tool" || (type.startsWith("tool-") && type !== "tool-")) {
      const name = type === "dynamic-tool" ? String(part.toolName) : type.slice("tool-".length);
      const state = String(part.state ?? "");
      const approval = part.approval as { id?: unknown; approved?: unknown } | undefined;
      segments.push({
        kind: "tool",
        id: String(part.toolCallId ?? index),
        name,
        // A client call the reply still waits for: not done, so the page answers it (with its input).
        done: state !== "input-available" || !waiting.includes(String(part.toolCallId)),
        input: part.input,
        failed: state === "output-error",
        ...(approval ? { approval: { id: String(approval.id), state: state === "approval-requested" ? "pending" : approval.approved ? "approved" : "denied" } } : {}),
      });
    }
  });
  return segments;
}

function replaceAt<T>(items: readonly T[], index: number, item: T): T[] {
  const copy = items.slice();
  copy[index] = item;
  return copy;
}

function findLastIndex<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i]!)) return i;
  return -1;
}
