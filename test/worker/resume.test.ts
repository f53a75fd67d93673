import { DefaultChatTransport, readUIMessageStream, type UIMessageChunk } from "ai";
import { describe, expect, it } from "vitest";
import { acquireLock, lockKey } from "../../src/lock";
import type { ParleyChunk } from "../../src/turn/message";
import { replyBufferKey, replyPointer, replyPointerKey, REPLY_BUFFER_TTL_MS } from "../../src/turn/resume-buffer";
import { call, post, stores } from "./support/app";
import { createSession, createWidget, storedMessages, type TestSession } from "./support/fixtures";
import { dataOf, readChunks, StreamReader, textDeltas, textOf } from "./support/sse";

/** About two seconds of reply at the tests' 5 ms per word. */
const LONG_REPLY = "/words 400";

function sendMessage(session: TestSession, text: string) {
  return post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: crypto.randomUUID(), text } });
}

function resume(session: TestSession, headers: Record<string, string> = {}) {
  return call(`/v1/widget/session/${session.sessionId}/stream`, { token: session.token, headers });
}

/** Starts a long turn and reads it until `deltas` text deltas are in. */
async function turnInFlight(session: TestSession, deltas = 5) {
  const turn = await sendMessage(session, LONG_REPLY);
  expect(turn.res.status).toBe(200);
  const reader = new StreamReader(turn.res);
  expect(await reader.until((chunks) => textDeltas(chunks) >= deltas)).toBe(true);
  return { turn, reader };
}

/** The chunks as the wire carries them: the transient ones too, metadata as sent. */
const plain = (chunks: ParleyChunk[]) => JSON.parse(JSON.stringify(chunks)) as ParleyChunk[];

describe("GET /session/:id/stream", () => {
  it("answers 204 for a session that has streamed nothing, and 401 without a token", async () => {
    const session = await createSession(await createWidget());
    const res = (await resume(session)).res;
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    const anonymous = await call(`/v1/widget/session/${session.sessionId}/stream`);
    expect(anonymous.res.status).toBe(401);
    expect(await anonymous.res.json()).toMatchObject({ error: { code: "invalid_token" } });
  });

  it("replays a reply in flight from its start and follows it to the end, after the client that asked left", async () => {
    const session = await createSession(await createWidget());
    const { turn, reader } = await turnInFlight(session);
    const seen = plain(reader.chunks);
    // The visitor reloads: the first stream is gone.
    await reader.cancel();

    const resumed = await resume(session);
    expect(resumed.res.status).toBe(200);
    expect(resumed.res.headers.get("content-type")).toBe("text/event-stream");
    expect(resumed.res.headers.get("x-vercel-ai-ui-message-stream")).toBe("v1");
    const follower = new StreamReader(resumed.res);
    const chunks = await follower.toEnd();
    await turn.settled();
    expect(follower.sawDone).toBe(true);

    // From the same `start`, with what the first client saw as its beginning, to `finish`.
    expect(chunks.slice(0, seen.length)).toEqual(seen);
    expect(follower.ids.slice(0, seen.length)).toEqual(reader.ids);
    expect(chunks[0]).toMatchObject({ type: "start", messageId: `${session.sessionId}:1` });
    expect(chunks.at(-2)).toMatchObject({ type: "data-turn-end", data: { status: "completed", assistantIdx: 1 } });
    expect(chunks.at(-1)).toMatchObject({ type: "finish" });
    const [, reply] = await storedMessages(session.sessionId);
    expect(textOf(chunks)).toBe(reply!.text);
    expect(reply!.text.endsWith("word400")).toBe(true);
    // Event ids count the turn's chunks: `<turnId>-0`, `<turnId>-1`, …
    const turnId = follower.ids[0]!.split("-")[0];
    expect(follower.ids).toEqual(chunks.map((_, i) => `${turnId}-${i}`));

    // Over now: nothing to resume.
    expect((await resume(session)).res.status).toBe(204);
  });

  it("is what an AI SDK client's default transport resumes with (resume: true), no custom code", async () => {
    const session = await createSession(await createWidget());
    const { turn, reader } = await turnInFlight(session);
    await reader.cancel();
    // The transport of the README: messages to `/message`, the resume to `/stream`.
    const base = `http://parley.test/v1/widget/session/${session.sessionId}`;
    const transport = new DefaultChatTransport({
      api: `${base}/message`,
      headers: { authorization: `Bearer ${session.token}` },
      prepareReconnectToStreamRequest: () => ({ api: `${base}/stream` }),
      // The Worker in this test runtime, reached as the transport's fetch.
      fetch: async (input, init) => (await call(new URL(String(input)).pathname, { method: init?.method, headers: Object.fromEntries(new Headers(init?.headers)) })).res,
    });
    const stream = await transport.reconnectToStream({ chatId: session.sessionId });
    expect(stream).not.toBeNull();
    let message;
    for await (const assembled of readUIMessageStream({ stream: stream as ReadableStream<UIMessageChunk> })) message = assembled;
    await turn.settled();
    const [, reply] = await storedMessages(session.sessionId);
    expect(message?.id).toBe(`${session.sessionId}:1`);
    expect(message?.parts.filter((part) => part.type === "text").map((part) => part.text).join("")).toBe(reply!.text);

    // After the end the transport gets 204: null, nothing to resume.
    expect(await transport.reconnectToStream({ chatId: session.sessionId })).toBeNull();
  });

  it("answers 503 naming redis when the reply buffer's store is down", async () => {
    const session = await createSession(await createWidget());
    const { res } = await call(`/v1/widget/session/${session.sessionId}/stream`, { token: session.token, env: { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string; details?: { store?: string } } }).error).toMatchObject({ code: "unavailable", details: { store: "redis" } });
  });

  it("answers 204 once the turn has finished", async () => {
    const session = await createSession(await createWidget());
    const turn = await sendMessage(session, "hello");
    const chunks = await readChunks(turn.res);
    await turn.settled();
    expect(dataOf(chunks, "data-turn-end")[0]?.data.status).toBe("completed");
    const res = (await resume(session)).res;
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
  });

  it("lets two readers follow one turn at once, each getting the whole reply", async () => {
    const session = await createSession(await createWidget());
    const { turn, reader } = await turnInFlight(session);
    const [first, second] = await Promise.all([resume(session), resume(session)]);
    const [a, b, original] = await Promise.all([new StreamReader(first.res).toEnd(), new StreamReader(second.res).toEnd(), reader.toEnd()]);
    await turn.settled();
    expect(a.at(-1)).toMatchObject({ type: "finish" });
    expect(plain(a)).toEqual(plain(original));
    expect(plain(b)).toEqual(plain(original));
    expect(textOf(a).endsWith("word400")).toBe(true);
  });

  it("skips what the client already has when it sends Last-Event-ID, and ignores an id of another turn", async () => {
    const session = await createSession(await createWidget());
    const { turn, reader } = await turnInFlight(session, 20);
    const had = plain(reader.chunks);
    const lastId = reader.ids.at(-1)!;
    await reader.cancel();

    const rest = new StreamReader((await resume(session, { "last-event-id": lastId })).res);
    const stale = new StreamReader((await resume(session, { "last-event-id": "0badc0ffee00-3" })).res);
    const [tail, whole] = await Promise.all([rest.toEnd(), stale.toEnd()]);
    await turn.settled();

    const [turnId, index] = lastId.split("-");
    expect(rest.ids[0]).toBe(`${turnId}-${Number(index) + 1}`);
    expect(plain([...had, ...tail])).toEqual(plain(whole));
    expect(whole[0]).toMatchObject({ type: "start" });
    const [, reply] = await storedMessages(session.sessionId);
    expect(textOf([...had, ...tail])).toBe(reply!.text);
  });

  it("ends with turn_interrupted, not hanging, when the turn's producer died: still while its lock is held, then ended once it is gone", async () => {
    const session = await createSession(await createWidget());
    const { redis, config } = stores();
    const prefix = config.redisKeyPrefix;
    const sid = session.sessionId;
    // What a turn whose isolate died mid-reply leaves: its lock (until the lease ends) and a buffer nobody writes.
    const held = await acquireLock(redis, { sessionId: sid, ttlMs: 30_000, keyPrefix: prefix });
    if (!held.ok) throw new Error("expected the lock");
    const turnId = "dead00000001";
    const buffered: ParleyChunk[] = [
      { type: "start", messageId: `${sid}:1`, messageMetadata: { sessionId: sid, idx: 1 } },
      { type: "text-start", id: "t0" },
      { type: "text-delta", id: "t0", delta: "Half a rép" },
    ];
    await redis.set(replyPointerKey(sid, prefix), replyPointer(turnId, held.token), { px: REPLY_BUFFER_TTL_MS });
    await redis.rpush(replyBufferKey(sid, turnId, prefix), ...buffered);

    const res = (await resume(session)).res;
    expect(res.status).toBe(200);
    const follower = new StreamReader(res);
    expect(await follower.until((chunks) => chunks.length === 3)).toBe(true);
    // Quiet for longer than the stall bound, but its lock is held: alive (a slow tool), so followed.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await redis.rpush(replyBufferKey(sid, turnId, prefix), { type: "text-delta", id: "t0", delta: "ly ✓." });
    expect(await follower.until((chunks) => chunks.length === 4)).toBe(true);
    // The lease runs out: the producer is gone.
    await redis.del(lockKey(sid, prefix));

    const chunks = await follower.toEnd();
    expect(follower.sawDone).toBe(true);
    expect(textOf(chunks)).toBe("Half a réply ✓.");
    expect(chunks.slice(4)).toEqual([
      { type: "error", errorText: expect.stringMatching(/^turn_interrupted: /) },
      { type: "data-turn-end", data: { status: "failed", assistantIdx: null }, transient: true },
      { type: "finish" },
    ]);
  });
});
