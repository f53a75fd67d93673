import type { LanguageModelV4StreamPart } from "@ai-sdk/provider";
import type { LanguageModelMiddleware } from "ai";
import { gatherWithin } from "./time-window";

/**
 * Default coalescing window, in ms: below what a reader can see, and about two tokens of a fast
 * model, so every stage after the model (the SDK's transforms, redaction, SSE encoding, the
 * network) handles about half as many chunks.
 */
export const DEFAULT_COALESCE_WINDOW_MS = 20;

type DeltaPart = Extract<LanguageModelV4StreamPart, { type: "text-delta" | "reasoning-delta" }>;

export interface CoalesceOptions {
  /** How long deltas are gathered after one was sent, in ms; 0 passes every part through. */
  windowMs: number;
}

/**
 * A language-model middleware that merges text (and reasoning) deltas arriving within
 * `windowMs` of each other into one delta. The first delta of a part, or after a quiet spell,
 * goes out at once, so time to first token is unchanged; later ones wait at most `windowMs`. Any
 * other part (text end, tool call, error, finish) first sends what is gathered, and so does a
 * failing stream, so order and the assembled message are exactly the model's: only the number of
 * deltas changes.
 */
export function coalesceDeltas({ windowMs }: CoalesceOptions): LanguageModelMiddleware {
  return {
    specificationVersion: "v4",
    async wrapStream({ doStream }) {
      const result = await doStream();
      if (windowMs <= 0) return result;
      return { ...result, stream: coalesceDeltaParts(result.stream, windowMs) };
    },
  };
}

/** The stream behind {@link coalesceDeltas}. */
export function coalesceDeltaParts(parts: ReadableStream<LanguageModelV4StreamPart>, windowMs: number): ReadableStream<LanguageModelV4StreamPart> {
  return gatherWithin(parts, {
    windowMs,
    passesThrough: (part) => !isDelta(part),
    merge: (held, next) => (isDelta(held) && isDelta(next) && canMerge(held, next) ? { ...held, delta: held.delta + next.delta } : undefined),
  });
}

function isDelta(part: LanguageModelV4StreamPart): part is DeltaPart {
  return part.type === "text-delta" || part.type === "reasoning-delta";
}

/** Same kind and part, and nothing per-delta that merging would lose. */
function canMerge(held: DeltaPart, next: DeltaPart): boolean {
  return held.type === next.type && held.id === next.id && held.providerMetadata === undefined && next.providerMetadata === undefined;
}
