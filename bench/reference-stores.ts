/**
 * A message turn's store requests as the bench's reference Workers make them (floor, SDK floor,
 * libraries floor, plain app): the same requests parley makes, in the same waves, to the same
 * shims — made by hand here (`handStores`, no library), or through the clients
 * (bench/client-stores.ts). They store nothing real: the writes are `select`s of the same size,
 * on parley's tables.
 */

/** The bindings bench/stack.ts gives every Worker it runs. */
export interface ReferenceEnv {
  DATABASE_URL: string;
  NEON_LOCAL_ENDPOINT: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  OPENAI_BASE_URL: string;
}

/** What the reference Workers use of the Workers `ExecutionContext` (bench/ is typed for Node). */
export interface WaitUntil {
  waitUntil(work: Promise<unknown>): void;
}

/** A turn's store requests; each rejects when its store fails. */
export interface TurnStores {
  /** One Upstash pipeline (two rate-limit counters, the lock, the turn sequence) alongside one Neon batch of the snapshot's six selects. */
  wave(sessionId: string, clientMessageId: string, lockToken: string): Promise<void>;
  /** The user message's write. */
  opening(text: string): Promise<void>;
  /** Opens the turn's cancel channel; the returned function closes it. */
  subscribe(sessionId: string): () => Promise<void>;
  /** Appends frames to the reply buffer (one transaction, with its expiry). */
  pushReply(sessionId: string, frames: string[]): Promise<void>;
  /** After the last token: the reply's write and the lock's release, in parallel. */
  finish(sessionId: string, frames: string[]): Promise<void>;
}

export const LEASE_MS = 15_000;
export const TTL_MS = 300_000;

/** The requests by hand: `fetch` and `JSON.stringify`, nothing else. Keys start with `prefix:`. */
export function handStores(env: ReferenceEnv, prefix: string): TurnStores {
  const upstash = async (path: string, commands: string[][]) => {
    const res = await fetch(`${env.UPSTASH_REDIS_REST_URL}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(commands),
    });
    if (!res.ok) throw new Error(`Upstash ${path}: ${res.status}`);
    await res.json();
  };
  const query = async (queries: Array<{ query: string; params: unknown[] }>) => {
    const res = await fetch(env.NEON_LOCAL_ENDPOINT, {
      method: "POST",
      headers: { "content-type": "application/json", "neon-connection-string": env.DATABASE_URL, "neon-batch-isolation-level": "ReadCommitted" },
      body: JSON.stringify(queries.length === 1 ? queries[0] : { queries }),
    });
    if (!res.ok) throw new Error(`Neon: ${res.status}`);
    await res.json();
  };
  return {
    async wave(sessionId, clientMessageId, lockToken) {
      await Promise.all([
        upstash("/pipeline", [
          ["INCR", `${prefix}:rl:ip:${sessionId}`],
          ["PEXPIRE", `${prefix}:rl:ip:${sessionId}`, String(TTL_MS)],
          ["INCR", `${prefix}:rl:widget`],
          ["SET", `${prefix}:lock:${sessionId}`, lockToken, "NX", "PX", String(LEASE_MS)],
          ["GET", `${prefix}:seq:${sessionId}`],
        ]),
        query([
          { query: "select * from widgets where public_key = $1 limit 1", params: ["pk_bench"] },
          { query: "select * from chat_sessions where id = $1 limit 1", params: [sessionId] },
          { query: "select * from templates limit 1", params: [] },
          { query: "select * from chat_messages where session_id = $1 order by idx desc limit 100", params: [sessionId] },
          { query: "select count(*)::int from chat_messages where session_id = $1", params: [sessionId] },
          { query: "select * from chat_messages where session_id = $1 and client_message_id = $2 limit 1", params: [sessionId, clientMessageId] },
        ]),
      ]);
    },
    opening: (text) => query([{ query: "select $1::text as text, $2::jsonb as parts", params: [text, userParts(text)] }]),
    subscribe(sessionId) {
      const subscription = new AbortController();
      const subscribed = fetch(`${env.UPSTASH_REDIS_REST_URL}/subscribe/${prefix}:cancel:${sessionId}`, {
        headers: { authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}`, accept: "text/event-stream" },
        signal: subscription.signal,
      }).catch(() => undefined);
      return async () => {
        subscription.abort();
        await subscribed;
      };
    },
    pushReply: (sessionId, frames) => upstash("/multi-exec", [["RPUSH", `${prefix}:reply:${sessionId}`, ...frames], ["PEXPIRE", `${prefix}:reply:${sessionId}`, String(TTL_MS)]]),
    async finish(sessionId, frames) {
      await Promise.all([
        query([{ query: "select $1::jsonb as parts", params: [JSON.stringify(frames)] }]),
        upstash("/pipeline", [["DEL", `${prefix}:lock:${sessionId}`], ["SET", `${prefix}:seq:${sessionId}`, "1", "PX", String(TTL_MS)]]),
      ]);
    },
  };
}

/** The user message's stored parts, as JSON. */
export function userParts(text: string): string {
  return JSON.stringify([{ type: "text", text }]);
}
