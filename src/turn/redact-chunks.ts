import type { Redactor } from "../agent/redact";
import type { ParleyChunk } from "./message";

/**
 * Redacts secrets from outgoing chunks. Text is redacted as a stream (a secret split across
 * deltas is still caught), so a text part's held-back tail is flushed before its end.
 */
export function chunkRedactor(redactor: Redactor): (chunk: ParleyChunk) => ParleyChunk[] {
  const texts = new Map<string, ReturnType<Redactor["stream"]>>();
  return (chunk) => {
    switch (chunk.type) {
      case "text-delta": {
        let text = texts.get(chunk.id);
        if (!text) texts.set(chunk.id, (text = redactor.stream()));
        const delta = text.push(chunk.delta);
        return delta ? [{ ...chunk, delta }] : [];
      }
      case "text-end": {
        const rest = texts.get(chunk.id)?.flush();
        texts.delete(chunk.id);
        return rest ? [{ type: "text-delta", id: chunk.id, delta: rest }, chunk] : [chunk];
      }
      case "tool-input-delta":
        // Partial JSON cannot be redacted reliably; the complete input follows as tool-input-available.
        return [];
      case "tool-input-available":
      case "tool-input-error":
      case "tool-output-available":
      case "tool-output-error":
        return [redactor.value(chunk)];
      default:
        return [chunk];
    }
  };
}
