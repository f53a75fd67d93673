import { markdownToText } from "./markdown";
import type { StreamPart } from "./stream-reader";

/** A piece of a message as the widget shows it: text, or a quiet line for a tool call. */
export type Segment =
  | { kind: "text"; id: string; text: string }
  | { kind: "tool"; id: string; name: string; done: boolean; failed: boolean };

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
      if (segments.some((s) => s.kind === "tool" && s.id === id)) return reply;
      return { ...reply, segments: [...segments, { kind: "tool", id, name: String(part.toolName), done: false, failed: false }] };
    }
    case "tool-output-available":
    case "tool-output-error":
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
      return reply.status === "streaming" ? { ...ended, status: "complete" } : ended;
    }
    default:
      return reply;
  }
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
export function segmentsFromParts(parts: ReadonlyArray<Record<string, unknown>>): Segment[] {
  const segments: Segment[] = [];
  parts.forEach((part, index) => {
    const type = String(part.type);
    if (type === "text") segments.push({ kind: "text", id: `t${index}`, text: String(part.text ?? "") });
    else if (type === "dynamic-tool" || (type.startsWith("tool-") && type !== "tool-")) {
      const name = type === "dynamic-tool" ? String(part.toolName) : type.slice("tool-".length);
      const state = String(part.state ?? "");
      segments.push({ kind: "tool", id: String(part.toolCallId ?? index), name, done: true, failed: state === "output-error" });
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
