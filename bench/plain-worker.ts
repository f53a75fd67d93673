/**
 * The benchmark's plain app (`npm run bench -- --plain`): the I/O of `floor-worker.ts`, made
 * through the libraries parley must use — Hono, `@upstash/redis`, Drizzle over Neon's HTTP
 * driver, `streamText` with `@ai-sdk/openai` and the SDK's UI message stream — each called the
 * plain way its documentation shows, with none of parley's own code but its tables. It is what a
 * straightforward app on the same stack costs for a turn: between it and the floor, the bench
 * shows what the libraries cost when used as documented and what parley's way of using them
 * saves. Like the floor it checks nothing and stores nothing real (its writes are `select`s of
 * the same size).
 */
import { createOpenAI } from "@ai-sdk/openai";
import { neon, neonConfig } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis/cloudflare";
import { createUIMessageStream, createUIMessageStreamResponse, streamText, type UIMessageChunk } from "ai";
import { and, count, desc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { Hono } from "hono";
import { chatMessages, chatSessions, templates, widgets } from "../src/db/schema";

interface PlainEnv {
  DATABASE_URL: string;
  NEON_LOCAL_ENDPOINT: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  OPENAI_BASE_URL: string;
}

const BUFFER_INTERVAL_MS = 250;

const app = new Hono<{ Bindings: PlainEnv }>();

app.get("/readyz", (c) => c.text("ok"));

app.post("/v1/widget/session", (c) => {
  const sessionId = crypto.randomUUID();
  return c.json({ sessionId, token: sessionId }, 201);
});

app.post("/v1/widget/session/:id/message", async (c) => {
  const sessionId = c.req.param("id");
  const message = await c.req.json<{ id: string; text: string }>();
  const env = c.env;
  neonConfig.fetchEndpoint = () => env.NEON_LOCAL_ENDPOINT;
  const db = drizzle({ client: neon(env.DATABASE_URL) });
  const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });
  const lockToken = crypto.randomUUID();

  await Promise.all([
    redis
      .pipeline()
      .incr(`plain:rl:ip:${sessionId}`)
      .pexpire(`plain:rl:ip:${sessionId}`, 300_000)
      .incr("plain:rl:widget")
      .set(`plain:lock:${sessionId}`, lockToken, { nx: true, px: 15_000 })
      .get(`plain:seq:${sessionId}`)
      .exec(),
    db.batch([
      db.select().from(widgets).where(eq(widgets.publicKey, "pk_bench")).limit(1),
      db.select().from(chatSessions).where(eq(chatSessions.id, sessionId)).limit(1),
      db.select().from(templates).limit(1),
      db.select().from(chatMessages).where(eq(chatMessages.sessionId, sessionId)).orderBy(desc(chatMessages.idx)).limit(100),
      db.select({ count: count() }).from(chatMessages).where(eq(chatMessages.sessionId, sessionId)),
      db
        .select()
        .from(chatMessages)
        .where(and(eq(chatMessages.sessionId, sessionId), eq(chatMessages.clientMessageId, message.id)))
        .limit(1),
    ]),
  ]);
  const openai = createOpenAI({ apiKey: "sk-floor", baseURL: env.OPENAI_BASE_URL });
  const result = streamText({
    model: openai.chat("fake-bench"),
    system: "You are the benchmark's assistant.",
    messages: [{ role: "user", content: message.text }],
  });
  const userParts = JSON.stringify([{ type: "text", text: message.text }]);
  const opening = db.execute(sql`select ${message.text}::text as text, ${userParts}::jsonb as parts`);
  const subscription = redis.subscribe<string>(`plain:cancel:${sessionId}`);
  await opening;

  const frames: string[] = [];
  let pushed = 0;
  const buffer = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });
  const pushReply = async () => {
    const batch = frames.slice(pushed);
    pushed = frames.length;
    if (batch.length > 0) await buffer.multi().rpush(`plain:reply:${sessionId}`, ...batch).pexpire(`plain:reply:${sessionId}`, 300_000).exec();
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
      await Promise.all([
        db.execute(sql`select ${JSON.stringify(frames)}::jsonb as parts`),
        redis.pipeline().del(`plain:lock:${sessionId}`).set(`plain:seq:${sessionId}`, "1", { px: 300_000 }).exec(),
      ]);
      writer.write(record({ type: "data-turn-end", data: { status: "completed", assistantIdx: 1 }, transient: true }));
      writer.write(record({ type: "finish", finishReason: "stop" }));
      c.executionCtx.waitUntil(Promise.all([pushReply(), subscription.unsubscribe()]));
    },
  });
  return createUIMessageStreamResponse({ stream });
});

export default app;
