import { readUIMessageStream, type UIMessage, type UIMessageChunk } from "ai";

/** How the model's part of a turn ended. */
export type ModelTurnStatus = "completed" | "failed" | "canceled";
/** How a turn ended, as the stream's `data-turn-end` reports it: also waiting for the visitor. */
export type TurnStatus = ModelTurnStatus | "awaiting_approval" | "awaiting_tool_result";

/** The custom `data-*` parts of parley's stream (docs/architecture.md, "The stream"). */
export type TurnDataParts = {
  "user-committed": { idx: number };
  "node-transition": { from: string; to: string };
  "turn-end": { status: TurnStatus; assistantIdx: number | null };
};

/** Metadata on every assistant message parley streams. */
export interface AssistantMetadata {
  sessionId: string;
  idx: number;
}

export type ParleyUIMessage = UIMessage<AssistantMetadata, TurnDataParts>;
export type ParleyChunk = UIMessageChunk<AssistantMetadata, TurnDataParts>;

/** The id an assistant message carries in streams and in `GET /session/:id`. */
export function messageId(sessionId: string, idx: number): string {
  return `${sessionId}:${idx}`;
}

/**
 * The message an AI SDK client assembles from `chunks` (its own reader): what parley stores;
 * `continued` is the stored message a continued turn goes on with.
 * Consecutive deltas of one text or reasoning part are joined first — the same message, but the
 * reader clones the whole message at every chunk, so a reply of N deltas would cost N clones.
 */
export async function assembleMessage(chunks: ParleyChunk[], continued?: ParleyUIMessage): Promise<ParleyUIMessage> {
  const joined = joinDeltas(chunks);
  const stream = new ReadableStream<ParleyChunk>({
    start(controller) {
      for (const chunk of joined) controller.enqueue(chunk);
      controller.close();
    },
  });
  let last: ParleyUIMessage | undefined;
  // A continued reply (after an approval or a client tool's result) grows the stored message.
  for await (const message of readUIMessageStream<ParleyUIMessage>({ stream, onError: () => {}, ...(continued ? { message: continued } : {}) })) last = message;
  return last ?? continued ?? { id: "", role: "assistant", parts: [] };
}

/** `chunks` with each run of consecutive text (or reasoning) deltas of one part made one delta. */
export function joinDeltas(chunks: ParleyChunk[]): ParleyChunk[] {
  const joined: ParleyChunk[] = [];
  for (const chunk of chunks) {
    const last = joined.at(-1);
    if (
      last &&
      (chunk.type === "text-delta" || chunk.type === "reasoning-delta") &&
      last.type === chunk.type &&
      last.id === chunk.id &&
      last.providerMetadata === undefined &&
      chunk.providerMetadata === undefined
    ) {
      joined[joined.length - 1] = { ...last, delta: last.delta + chunk.delta };
    } else {
      joined.push(chunk);
    }
  }
  return joined;
}
