/**
 * The benchmark's floor (`npm run bench -- --floor`): a Worker with none of parley's libraries
 * that makes a message turn's store and model requests by hand — the same requests, in the same
 * waves, to the same shims and fake model (bench/reference-stores.ts) — and streams the same
 * parts the bench client checks. Run in place of parley, the bench's figures become what one
 * workerd on this machine costs for that I/O alone: the floor under any figure parley can reach
 * here. It stores nothing real; it checks nothing a client could get wrong.
 *
 * The SDK floor and the libraries floor are this Worker with the model's stream read through the
 * AI SDK (bench/sdk-floor-worker.ts), and with the store requests made through the clients too
 * (bench/libraries-floor-worker.ts).
 */
import { handStores, type ReferenceEnv, type TurnStores, type WaitUntil } from "./reference-stores";
import { sseData } from "./sse";

const encoder = new TextEncoder();
const BUFFER_INTERVAL_MS = 250;
const SYSTEM_PROMPT = "You are the benchmark's assistant.";

/**
 * Where a turn's text deltas come from. Called where the floor starts the model request — in
 * parallel with the opening write — so the request is under way before the deltas are read.
 */
export type DeltaSource = (env: ReferenceEnv, prompt: { system: string; text: string }) => AsyncIterable<string>;

export interface FloorOptions {
  /** The turn's store requests, made per request. */
  stores: (env: ReferenceEnv) => TurnStores;
  deltas: DeltaSource;
}

/** A floor Worker: routes, turns and streaming of its own, stores and deltas from `options`. */
export function floorWorker(options: FloorOptions) {
  return {
    async fetch(request: Request, env: ReferenceEnv, ctx: WaitUntil): Promise<Response> {
      const url = new URL(request.url);
      if (url.pathname === "/readyz") return new Response("ok");
      if (request.method === "POST" && url.pathname === "/v1/widget/session") return openSession();
      const turn = /^\/v1\/widget\/session\/([^/]+)\/message$/.exec(url.pathname);
      if (request.method === "POST" && turn) return messageTurn(turn[1]!, (await request.json()) as TurnMessage, env, ctx, options);
      return new Response("not found", { status: 404 });
    },
  };
}

export default floorWorker({ stores: (env) => handStores(env, "floor"), deltas: parsedDeltas });

export interface TurnMessage {
  id: string;
  text: string;
}

/** A session needs no state here: its id is its token. */
export function openSession(): Response {
  const sessionId = crypto.randomUUID();
  return Response.json({ sessionId, token: sessionId }, { status: 201 });
}

/** One message turn: the wave, the model alongside the opening write, the reply streamed and buffered, then the final write and release. */
export async function messageTurn(sessionId: string, message: TurnMessage, env: ReferenceEnv, ctx: WaitUntil, { stores: storesFor, deltas }: FloorOptions): Promise<Response> {
  const stores = storesFor(env);
  try {
    await stores.wave(sessionId, message.id, crypto.randomUUID());
  } catch {
    return new Response("wave failed", { status: 503 });
  }
  const modelDeltas = deltas(env, { system: SYSTEM_PROMPT, text: message.text });
  const opening = stores.opening(message.text);
  const unsubscribe = stores.subscribe(sessionId);
  await opening;

  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const reply: string[] = [];
  const send = (part: unknown) => {
    const frame = `data: ${JSON.stringify(part)}\n\n`;
    reply.push(frame);
    void writer.write(encoder.encode(frame));
  };
  const stream = async () => {
    let pushed = 0;
    const pushReply = () => {
      const frames = reply.slice(pushed);
      pushed = reply.length;
      return frames.length === 0 ? Promise.resolve() : stores.pushReply(sessionId, frames);
    };
    const buffering = setInterval(() => void pushReply(), BUFFER_INTERVAL_MS);
    void writer.write(encoder.encode(": stream-open\n\n"));
    send({ type: "start", messageId: `${sessionId}-1` });
    send({ type: "data-user-committed", data: { idx: 0 }, transient: true });
    send({ type: "start-step" });
    send({ type: "text-start", id: "txt-0" });
    for await (const delta of modelDeltas) send({ type: "text-delta", id: "txt-0", delta });
    send({ type: "text-end", id: "txt-0" });
    send({ type: "finish-step" });
    clearInterval(buffering);
    // After the last token: the stored reply and the lock's release, one round trip.
    await stores.finish(sessionId, reply);
    send({ type: "data-turn-end", data: { status: "completed", assistantIdx: 1 }, transient: true });
    send({ type: "finish", finishReason: "stop" });
    await writer.write(encoder.encode("data: [DONE]\n\n"));
    await writer.close();
    await Promise.all([pushReply(), unsubscribe()]);
  };
  ctx.waitUntil(stream());
  return new Response(readable, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

/**
 * The model request by hand, its stream parsed event by event: one `JSON.parse` per event, the
 * least a client of an OpenAI-compatible stream can do.
 */
function parsedDeltas(env: ReferenceEnv, prompt: { system: string; text: string }): AsyncIterable<string> {
  const response = fetch(`${env.OPENAI_BASE_URL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-floor" },
    body: JSON.stringify({
      model: "fake-bench",
      messages: [
        { role: "system", content: prompt.system },
        { role: "user", content: prompt.text },
      ],
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  return eventDeltas(response);
}

async function* eventDeltas(response: Promise<Response>): AsyncIterable<string> {
  for await (const data of sseData((await response).body!)) {
    const chunk = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string | null } }> };
    const delta = chunk.choices?.[0]?.delta?.content;
    if (delta) yield delta;
  }
}
