import type { LanguageModelV4StreamPart } from "@ai-sdk/provider";
import type { LanguageModelMiddleware } from "ai";

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
 * goes out at once, so time to first token is unchanged; later ones wait at most `windowMs`. Any other part
 * (text end, tool call, error, finish) first sends what is gathered, so order and the assembled
 * message are exactly the model's: only the number of deltas changes.
 */
export function coalesceDeltas({ windowMs }: CoalesceOptions): LanguageModelMiddleware {
  return {
    specificationVersion: "v4",
    async wrapStream({ doStream }) {
      const result = await doStream();
      if (windowMs <= 0) return result;
      return { ...result, stream: result.stream.pipeThrough(coalescingTransform(windowMs)) };
    },
  };
}

/** The stream transform behind {@link coalesceDeltas}. */
export function coalescingTransform(windowMs: number): TransformStream<LanguageModelV4StreamPart, LanguageModelV4StreamPart> {
  let held: DeltaPart | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let out: TransformStreamDefaultController<LanguageModelV4StreamPart> | undefined;
  let done = false;

  const release = () => {
    if (held && out && !done) out.enqueue(held);
    held = undefined;
  };
  const closeWindow = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  // While deltas keep coming, the window stays open and sends what it gathered once per period.
  const onWindowEnd = () => {
    timer = undefined;
    if (!held) return;
    try {
      release();
    } catch {
      // The stream was canceled or errored meanwhile: nobody reads what was held.
      return;
    }
    timer = setTimeout(onWindowEnd, windowMs);
  };

  return new TransformStream({
    start(controller) {
      out = controller;
    },
    transform(part, controller) {
      if (part.type !== "text-delta" && part.type !== "reasoning-delta") {
        // Any other part ends the window too: the first delta of the next text part goes out at once.
        closeWindow();
        release();
        controller.enqueue(part);
        return;
      }
      if (timer === undefined) {
        // A quiet spell ended: this delta goes out now, and the window opens behind it.
        release();
        controller.enqueue(part);
        timer = setTimeout(onWindowEnd, windowMs);
        return;
      }
      if (held && canMerge(held, part)) {
        held = { ...held, delta: held.delta + part.delta };
        return;
      }
      release();
      held = part;
    },
    flush() {
      closeWindow();
      release();
      done = true;
    },
  });
}

/** Same kind and part, and nothing per-delta that merging would lose. */
function canMerge(held: DeltaPart, next: DeltaPart): boolean {
  return held.type === next.type && held.id === next.id && held.providerMetadata === undefined && next.providerMetadata === undefined;
}
