/**
 * The benchmark's plain app (`npm run bench -- --plain`): the I/O of `floor-worker.ts`, made
 * through the libraries parley must use — Hono, `@upstash/redis` and Drizzle over Neon's HTTP
 * driver (bench/client-stores.ts), `streamText` with `@ai-sdk/openai` and the SDK's UI message
 * stream — each called the plain way its documentation shows, with none of parley's own code but
 * its tables. It is what a straightforward app on the same stack costs for a turn: between it and
 * the floors, the bench shows what the libraries cost when used as documented and what parley's
 * way of using them saves. Like the floor it checks nothing and stores nothing real.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { createUIMessageStream, createUIMessageStreamResponse, streamText, type UIMessageChunk } from "ai";
import { Hono } from "hono";
import { clientStores } from "./client-stores";
import type { ReferenceEnv } from "./reference-stores";

const BUFFER_INTERVAL_MS = 250;

const app = new Hono<{ Bindings: ReferenceEnv }>();

app.get("/readyz", (c) => c.text("ok"));

app.post("/v1/widget/session", (c) => {
  const sessionId = crypto.randomUUID();
  return c.json({ sessionId, token: sessionId }, 201);
});

app.post("/v1/widget/session/:id/message", async (c) => {
  const sessionId = c.req.param("id");
  const message = await c.req.json<{ id: string; text: string }>();
  const stores = clientStores(c.env, "plain");
  await stores.wave(sessionId, message.id, crypto.randomUUID());
  const openai = createOpenAI({ apiKey: "sk-floor", baseURL: c.env.OPENAI_BASE_URL });
  const result = streamText({
    model: openai.chat("fake-bench"),
    system: "You are the benchmark's assistant.",
    messages: [{ role: "user", content: message.text }],
  });
  const opening = stores.opening(message.text);
  const unsubscribe = stores.subscribe(sessionId);
  await opening;

  const frames: string[] = [];
  let pushed = 0;
  const pushReply = async () => {
    const batch = frames.slice(pushed);
    pushed = frames.length;
    if (batch.length > 0) await stores.pushReply(sessionId, batch);
  };
  const buffering = setInterval(() => void pushReply(), BUFFER_INTERVAL_MS);
  const record = (chunk: UIMessageChunk) => {
    frames.push(JSON.stringify(chunk));
    return chunk;
  };

  const stream = createUIMessageStream({
    async execute({ writer }) {
      writer.write(record({ type: "data-user-committed", data: { idx: 0 }, transient: true }));
      const reader = result.toUIMessageStream({ sendFinish: false }).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        writer.write(record(value));
      }
      clearInterval(buffering);
      // After the last token: the stored reply and the lock's release, one round trip.
      await stores.finish(sessionId, frames);
      writer.write(record({ type: "data-turn-end", data: { status: "completed", assistantIdx: 1 }, transient: true }));
      writer.write(record({ type: "finish", finishReason: "stop" }));
      c.executionCtx.waitUntil(Promise.all([pushReply(), unsubscribe()]));
    },
  });
  return createUIMessageStreamResponse({ stream });
});

export default app;
