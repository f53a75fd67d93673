import { assembleMessage, type ParleyChunk } from "../../../src/turn/message";

/** The `data:` payloads of an SSE body, in order, up to `[DONE]`. */
export async function readFrames(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((frame) => frame.startsWith("data: "))
    .map((frame) => frame.slice("data: ".length));
}

/** The UI message chunks of a turn's stream. */
export async function readChunks(res: Response): Promise<ParleyChunk[]> {
  const frames = await readFrames(res);
  if (frames.at(-1) !== "[DONE]") throw new Error(`stream did not end with [DONE]: ${frames.slice(-3).join(" | ")}`);
  return frames.slice(0, -1).map((frame) => JSON.parse(frame) as ParleyChunk);
}

/** The message the AI SDK's own client-side reader assembles from `chunks`. */
export const assemble = assembleMessage;

export function textOf(chunks: ParleyChunk[]): string {
  return chunks.flatMap((chunk) => (chunk.type === "text-delta" ? [chunk.delta] : [])).join("");
}

export function dataOf<T extends ParleyChunk["type"]>(chunks: ParleyChunk[], type: T) {
  return chunks.filter((chunk): chunk is Extract<ParleyChunk, { type: T }> => chunk.type === type);
}
