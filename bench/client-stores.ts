import { neon, neonConfig } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis/cloudflare";
import { and, count, desc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { chatMessages, chatSessions, templates, widgets } from "../src/db/schema";
import { LEASE_MS, TTL_MS, userParts, type ReferenceEnv, type TurnStores } from "./reference-stores";

/**
 * The reference Workers' store requests (bench/reference-stores.ts) through `@upstash/redis` and
 * Drizzle over Neon's HTTP driver, called the plain way their documentation shows.
 */
export function clientStores(env: ReferenceEnv, prefix: string): TurnStores {
  neonConfig.fetchEndpoint = () => env.NEON_LOCAL_ENDPOINT;
  const db = drizzle({ client: neon(env.DATABASE_URL) });
  const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });
  // The buffer's replies are never read: a client that leaves them as they came.
  const buffer = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, automaticDeserialization: false });
  return {
    async wave(sessionId, clientMessageId, lockToken) {
      await Promise.all([
        redis
          .pipeline()
          .incr(`${prefix}:rl:ip:${sessionId}`)
          .pexpire(`${prefix}:rl:ip:${sessionId}`, TTL_MS)
          .incr(`${prefix}:rl:widget`)
          .set(`${prefix}:lock:${sessionId}`, lockToken, { nx: true, px: LEASE_MS })
          .get(`${prefix}:seq:${sessionId}`)
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
            .where(and(eq(chatMessages.sessionId, sessionId), eq(chatMessages.clientMessageId, clientMessageId)))
            .limit(1),
        ]),
      ]);
    },
    async opening(text) {
      await db.execute(sql`select ${text}::text as text, ${userParts(text)}::jsonb as parts`);
    },
    subscribe(sessionId) {
      const subscription = redis.subscribe<string>(`${prefix}:cancel:${sessionId}`);
      return () => subscription.unsubscribe();
    },
    async pushReply(sessionId, frames) {
      await buffer.multi().rpush(`${prefix}:reply:${sessionId}`, ...frames).pexpire(`${prefix}:reply:${sessionId}`, TTL_MS).exec();
    },
    async finish(sessionId, frames) {
      await Promise.all([
        db.execute(sql`select ${JSON.stringify(frames)}::jsonb as parts`),
        redis.pipeline().del(`${prefix}:lock:${sessionId}`).set(`${prefix}:seq:${sessionId}`, "1", { px: TTL_MS }).exec(),
      ]);
    },
  };
}
