import { toUIMessageChunk, type TextStreamPart, type ToolSet } from "ai";
import type { ParleyChunk, ParleyUIMessage } from "./message";

/**
 * Maps `streamText`'s stream parts to UI message chunks one by one, as the AI SDK's
 * `toUIMessageStream({ stream, sendStart: false, onError })` does, without its three stream
 * stages (a reader wrapper, the mapping transform, a message-id transform) that every delta
 * passed through (measured with `npm run bench`, README "Performance"). The mapping is the
 * SDK's own `toUIMessageChunk` with the same options, and the same bookkeeping around it: the
 * error of a tool call the SDK found invalid is not sent again as a tool output error (its
 * `tool-input-error` already says it). Returns no chunk for parts the UI stream leaves out.
 *
 * Not reproduced: the SDK's console warning when a tool's error text differs from the model's
 * and reasoning follows (it changes no chunk).
 */
export function uiChunkMapper(onError: (error: unknown) => string): (part: TextStreamPart<ToolSet>) => ParleyChunk | undefined {
  const invalidToolCallIds = new Set<string>();
  return (part) => {
    if (part.type === "tool-call" && part.invalid) invalidToolCallIds.add(part.toolCallId);
    if (part.type === "tool-error" && !part.providerExecuted && invalidToolCallIds.delete(part.toolCallId)) return undefined;
    return toUIMessageChunk<ToolSet, ParleyUIMessage>(part, { sendStart: false, onError });
  };
}
