import { assembleMessage, type ParleyChunk } from "../../../src/turn/message";

/** The `data:` payloads of an SSE body, in order, up to `[DONE]`. */
export async function readFrames(res: Response): Promise<string[]> {
  const text = await res.text();
  return text.split("\n\n").flatMap((frame) => {
    const data = frameField(frame, "data");
    return data === undefined ? [] : [data];
  });
}

/** One field of an SSE frame (`data`, `id`), or undefined; frames carry `id:` before `data:`. */
export function frameField(frame: string, field: string): string | undefined {
  const line = frame.split("\n").find((l) => l.startsWith(`${field}: `));
  return line?.slice(field.length + 2);
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

/** Reads an SSE body chunk by chunk, so a test can act while the turn is still streaming. */
export class StreamReader {
  readonly chunks: ParleyChunk[] = [];
  /** The SSE event id of each chunk, in order (undefined for a frame without one). */
  readonly ids: Array<string | undefined> = [];
  sawDone = false;
  private buffer = "";
  private ended = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();

  constructor(res: Response) {
    if (!res.body) throw new Error(`the response has no body (status ${res.status})`);
    this.reader = res.body.getReader();
  }

  /** Reads until `predicate` holds for the chunks so far; false if the stream ended first. */
  async until(predicate: (chunks: ParleyChunk[]) => boolean): Promise<boolean> {
    while (!predicate(this.chunks)) {
      if (this.ended) return false;
      const { done, value } = await this.reader.read();
      if (done) {
        this.ended = true;
        this.buffer += this.decoder.decode();
      } else {
        this.buffer += this.decoder.decode(value, { stream: true });
      }
      this.parse();
    }
    return true;
  }

  async toEnd(): Promise<ParleyChunk[]> {
    await this.until(() => false);
    return this.chunks;
  }

  /** Stops reading, as a browser tab that goes away does. */
  cancel(): Promise<void> {
    return this.reader.cancel();
  }

  private parse(): void {
    for (let end = this.buffer.indexOf("\n\n"); end >= 0; end = this.buffer.indexOf("\n\n")) {
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data = frameField(frame, "data");
      if (data === undefined) continue; // keep-alive comments
      if (data === "[DONE]") this.sawDone = true;
      else {
        this.chunks.push(JSON.parse(data) as ParleyChunk);
        this.ids.push(frameField(frame, "id"));
      }
    }
  }
}

/** How many text deltas `chunks` holds. */
export const textDeltas = (chunks: ParleyChunk[]) => chunks.filter((chunk) => chunk.type === "text-delta").length;
