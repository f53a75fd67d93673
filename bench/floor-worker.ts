/**
 * The benchmark's floor (`npm run bench -- --floor`): a Worker with none of parley's libraries
 * that makes a message turn's store and model requests by hand — the same requests, in the same
 * waves, to the same shims and fake model — and streams the same parts the bench client checks.
 * Run in place of parley, the bench's figures become what one workerd on this machine costs for
 * that I/O alone: the floor under any figure parley can reach here. It stores nothing real (its
 * writes are `select`s of the same size); it checks nothing a client could get wrong.
 */

interface FloorEnv {
  DATABASE_URL: string;
  NEON_LOCAL_ENDPOINT: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  OPENAI_BASE_URL: string;
}

/** What the floor uses of the Workers `ExecutionContext` (bench/ is typed for Node). */
interface WaitUntil {
  waitUntil(work: Promise<unknown>): void;
}

const encoder = new TextEncoder();
const BUFFER_INTERVAL_MS = 250;

export default {
  async fetch(request: Request, env: FloorEnv, ctx: WaitUntil): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/readyz") return new Response("ok");
    if (request.method === "POST" && url.pathname === "/v1/widget/session") {
      const sessionId = crypto.randomUUID();
      return Response.json({ sessionId, token: sessionId }, { status: 201 });
    }
    const turn = /^\/v1\/widget\/session\/([^/]+)\/message$/.exec(url.pathname);
    if (request.method === "POST" && turn) return messageTurn(turn[1]!, (await request.json()) as { id: string; text: string }, env, ctx);
    return new Response("not found", { status: 404 });
  },
};

async function messageTurn(sessionId: string, message: { id: string; text: string }, env: FloorEnv, ctx: WaitUntil): Promise<Response> {
  const lockToken = crypto.randomUUID();
  const [wave] = await Promise.all([
    upstash(env, "/pipeline", [
      ["INCR", `floor:rl:ip:${sessionId}`],
      ["PEXPIRE", `floor:rl:ip:${sessionId}`, "300000"],
      ["INCR", "floor:rl:widget"],
      ["SET", `floor:lock:${sessionId}`, lockToken, "NX", "PX", "15000"],
      ["GET", `floor:seq:${sessionId}`],
    ]),
    neon(env, [
      { query: "select * from widgets where public_key = $1 limit 1", params: ["pk_bench"] },
      { query: "select * from chat_sessions where id = $1 limit 1", params: [sessionId] },
      { query: "select * from templates limit 1", params: [] },
      { query: "select * from chat_messages where session_id = $1 order by idx desc limit 100", params: [sessionId] },
      { query: "select count(*)::int from chat_messages where session_id = $1", params: [sessionId] },
      { query: "select * from chat_messages where session_id = $1 and client_message_id = $2 limit 1", params: [sessionId, message.id] },
    ]),
  ]);
  if (!Array.isArray(wave)) return new Response("wave failed", { status: 503 });

  const modelResponse = fetch(`${env.OPENAI_BASE_URL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-floor" },
    body: JSON.stringify({
      model: "fake-bench",
      messages: [
        { role: "system", content: "You are the benchmark's assistant." },
        { role: "user", content: message.text },
      ],
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  const opening = neon(env, [{ query: "select $1::text as text, $2::jsonb as parts", params: [message.text, JSON.stringify([{ type: "text", text: message.text }])] }]);
  const subscription = new AbortController();
  const subscribed = fetch(`${env.UPSTASH_REDIS_REST_URL}/subscribe/floor:cancel:${sessionId}`, {
    headers: { authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}`, accept: "text/event-stream" },
    signal: subscription.signal,
  }).catch(() => undefined);
  const [model] = await Promise.all([modelResponse, opening]);

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
      return frames.length === 0 ? Promise.resolve() : upstash(env, "/multi-exec", [["RPUSH", `floor:reply:${sessionId}`, ...frames], ["PEXPIRE", `floor:reply:${sessionId}`, "300000"]]);
    };
    const buffering = setInterval(() => void pushReply(), BUFFER_INTERVAL_MS);
    void writer.write(encoder.encode(": stream-open\n\n"));
    send({ type: "start", messageId: `${sessionId}-1` });
    send({ type: "data-user-committed", data: { idx: 0 }, transient: true });
    send({ type: "start-step" });
    send({ type: "text-start", id: "txt-0" });
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const bytes of model.body!) {
      buffered += decoder.decode(bytes as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) !== -1) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
        const chunk = JSON.parse(event.slice(6)) as { choices?: Array<{ delta?: { content?: string | null } }> };
        const delta = chunk.choices?.[0]?.delta?.content;
        if (delta) send({ type: "text-delta", id: "txt-0", delta });
      }
    }
    send({ type: "text-end", id: "txt-0" });
    send({ type: "finish-step" });
    clearInterval(buffering);
    // After the last token: the stored reply and the lock's release, one round trip.
    await Promise.all([
      neon(env, [{ query: "select $1::jsonb as parts", params: [JSON.stringify(reply)] }]),
      upstash(env, "/pipeline", [["DEL", `floor:lock:${sessionId}`], ["SET", `floor:seq:${sessionId}`, "1", "PX", "300000"]]),
    ]);
    send({ type: "data-turn-end", data: { status: "completed", assistantIdx: 1 }, transient: true });
    send({ type: "finish", finishReason: "stop" });
    await writer.write(encoder.encode("data: [DONE]\n\n"));
    await writer.close();
    subscription.abort();
    await Promise.all([pushReply(), subscribed]);
  };
  ctx.waitUntil(stream());
  return new Response(readable, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

async function upstash(env: FloorEnv, path: string, commands: string[][]): Promise<unknown> {
  const res = await fetch(`${env.UPSTASH_REDIS_REST_URL}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(commands),
  });
  return res.json();
}

async function neon(env: FloorEnv, queries: Array<{ query: string; params: unknown[] }>): Promise<unknown> {
  const res = await fetch(env.NEON_LOCAL_ENDPOINT, {
    method: "POST",
    headers: { "content-type": "application/json", "neon-connection-string": env.DATABASE_URL, "neon-batch-isolation-level": "ReadCommitted" },
    body: JSON.stringify(queries.length === 1 ? queries[0] : { queries }),
  });
  return res.json();
}
