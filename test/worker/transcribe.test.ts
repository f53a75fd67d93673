import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import type { OptionalBindings } from "../../src/config";
import { chatSessions, type NewTemplate } from "../../src/db/schema";
import worker from "../../src/index";
import { lockKey } from "../../src/lock";
import { MAX_AUDIO_BYTES } from "../../src/transcribe/recording";
import { CLIENT_IP, ORIGIN, post, stores } from "./support/app";
import { createSession, createWidget, storedMessages, storedSession, type TestSession } from "./support/fixtures";
import { voiceCall } from "./support/service";

type ErrorBody = { error: { code: string; message: string } };

const OPENAI = (): Partial<Env> & OptionalBindings => ({ OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: inject("openaiBaseUrl") });
const openaiTemplate = (overrides: Partial<NewTemplate> = {}): Partial<NewTemplate> => ({
  model: { provider: "openai", modelId: "gpt-4o-mini", api: "chat" },
  presentation: { quickReplies: [], textInput: true, voiceInput: true },
  ...overrides,
});

/** What the fake provider was asked to transcribe, found by the audio's first bytes. */
async function providerCalls(marker: string): Promise<Array<{ path: string; body: Record<string, unknown> }>> {
  const base = inject("openaiBaseUrl").replace(/\/v1$/, "");
  return (await (await fetch(`${base}/__requests?contains=${encodeURIComponent(marker)}`)).json()) as Array<{ path: string; body: Record<string, unknown> }>;
}

function recording(content: string | Uint8Array, type = "audio/webm;codecs=opus"): FormData {
  const form = new FormData();
  form.append("audio", new File([content], "clip.webm", { type }));
  return form;
}

/** `POST /transcribe` as the widget sends it: the session token, a multipart body. */
async function transcribe(session: TestSession, body: FormData | string, { envOverride = OPENAI(), headers = {} }: { envOverride?: Partial<Env> & OptionalBindings; headers?: Record<string, string> } = {}) {
  const ctx = createExecutionContext();
  const request = new Request(`http://parley.test/v1/widget/session/${session.sessionId}/transcribe`, {
    method: "POST",
    headers: { origin: ORIGIN, "cf-connecting-ip": CLIENT_IP, authorization: `Bearer ${session.token}`, ...headers },
    body,
  });
  const res = await worker.fetch(request, { ...env, ...envOverride }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const errorCode = async (res: Response) => ((await res.json()) as ErrorBody).error.code;

describe("push-to-talk: POST /session/:id/transcribe", () => {
  it("answers the recording's text through the template's provider, and starts no turn", async () => {
    const session = await createSession(await createWidget({ template: openaiTemplate() }));
    const before = await storedSession(session.sessionId);
    const marker = `say:where is my parcel ${crypto.randomUUID()}`;
    const res = await transcribe(session, recording(marker));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: marker.slice(4) });

    const [call] = await providerCalls(marker);
    expect(call).toMatchObject({ path: "/v1/audio/transcriptions", body: { model: "whisper-1", fileType: "audio/webm", fileName: "audio.webm", bytes: marker.length } });
    // Nothing stored, no turn: the text goes to the visitor's composer.
    expect(await storedMessages(session.sessionId)).toEqual([]);
    expect(await storedSession(session.sessionId)).toMatchObject({ turnSeq: before!.turnSeq, lastActivityAt: before!.lastActivityAt });
    const { redis, config } = stores();
    expect(await redis.get(lockKey(session.sessionId, config.redisKeyPrefix))).toBeNull();
  });

  it("uses the template's transcriptionModelId; the scripted dev model answers without a provider", async () => {
    const session = await createSession(
      await createWidget({ template: openaiTemplate({ model: { provider: "openai", modelId: "gpt-4o-mini", api: "chat", transcriptionModelId: "gpt-4o-mini-transcribe" } }) }),
    );
    const marker = `say:${crypto.randomUUID()}`;
    expect((await transcribe(session, recording(marker))).status).toBe(200);
    expect((await providerCalls(marker))[0]!.body.model).toBe("gpt-4o-mini-transcribe");

    const scripted = await createSession(await createWidget({ template: { presentation: { quickReplies: [], textInput: true, voiceInput: true } } }));
    const res = await transcribe(scripted, recording("0123456789", "audio/ogg"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: "(voice message: 10 bytes of audio/ogg)" });
  });

  it("413 for a recording over 10 MB (by its body, or by the file itself), before the provider is asked", async () => {
    const session = await createSession(await createWidget({ template: openaiTemplate() }));
    const marker = `say:${crypto.randomUUID()}`;
    const huge = new Uint8Array(MAX_AUDIO_BYTES + 128 * 1024);
    huge.set(new TextEncoder().encode(marker));
    const overBody = await transcribe(session, recording(huge));
    expect(overBody.status).toBe(413);
    expect(((await overBody.json()) as ErrorBody).error).toMatchObject({ code: "payload_too_large", message: expect.stringContaining("10 MB") });
    // Within the body's allowance for the multipart framing, but the file itself is over 10 MB.
    const justOver = await transcribe(session, recording(huge.subarray(0, MAX_AUDIO_BYTES + 1)));
    expect(justOver.status).toBe(413);
    expect(await providerCalls(marker)).toEqual([]);
    // Exactly 10 MB is taken.
    const atLimit = await transcribe(session, recording(huge.subarray(0, MAX_AUDIO_BYTES)));
    expect(atLimit.status).toBe(200);
  });

  it("400 for an empty recording, a missing field, a non-audio file or a body that is not multipart", async () => {
    const session = await createSession(await createWidget({ template: openaiTemplate() }));
    const noField = new FormData();
    noField.append("file", new File(["say:x"], "x.webm", { type: "audio/webm" }));
    const cases: Array<[FormData | string, string, Record<string, string>?]> = [
      [recording(""), "empty"],
      [noField, "`audio`"],
      [recording("say:x", "text/plain"), "not audio"],
      [JSON.stringify({ audio: "say:x" }), "multipart/form-data", { "content-type": "application/json" }],
    ];
    for (const [body, says, headers] of cases) {
      const res = await transcribe(session, body, headers ? { headers } : {});
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error).toMatchObject({ code: "invalid_request", message: expect.stringContaining(says) });
    }
  });

  it("502 when the provider fails or cannot be reached; 500 misconfigured without a provider key", async () => {
    const session = await createSession(await createWidget({ template: openaiTemplate() }));
    const failed = await transcribe(session, recording(`/fail ${crypto.randomUUID()}`));
    expect(failed.status).toBe(502);
    expect(await errorCode(failed)).toBe("transcription_failed");
    const unreachable = await transcribe(session, recording("say:x"), { envOverride: { OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: "http://127.0.0.1:9/v1" } });
    expect(unreachable.status).toBe(502);
    const noKey = await transcribe(session, recording("say:x"), { envOverride: {} });
    expect(noKey.status).toBe(500);
    expect(((await noKey.json()) as ErrorBody).error).toMatchObject({ code: "misconfigured", message: expect.stringContaining("OpenAI") });
    // Silence is not a failure: an empty text.
    const silence = await transcribe(session, recording(`/silence ${crypto.randomUUID()}`));
    expect(await silence.json()).toEqual({ text: "" });
  });

  it("the same gates as a turn: token, voiceInput off, voice attached, ended", async () => {
    const off = await createSession(await createWidget({ template: openaiTemplate({ presentation: { quickReplies: [], textInput: true } }) }));
    const marker = `say:${crypto.randomUUID()}`;
    const disabled = await transcribe(off, recording(marker));
    expect(disabled.status).toBe(403);
    expect(await errorCode(disabled)).toBe("voice_input_disabled");
    const noToken = await transcribe({ ...off, token: "nope" }, recording(marker));
    expect(noToken.status).toBe(401);
    expect(await providerCalls(marker)).toEqual([]);

    const session = await createSession(await createWidget({ template: openaiTemplate() }));
    await voiceCall(session.sessionId, "attach", { leadId: "lead-1" });
    const inCall = await transcribe(session, recording(marker));
    expect(inCall.status).toBe(409);
    expect(await errorCode(inCall)).toBe("voice_active");
    await voiceCall(session.sessionId, "detach", { leadId: "lead-1" });
    await post(`/v1/widget/session/${session.sessionId}/end`, { token: session.token });
    const ended = await transcribe(session, recording(marker));
    expect(ended.status).toBe(410);
    expect(await providerCalls(marker)).toEqual([]);
  });

  it("503 naming the store that is down (Redis: the rate limit; Postgres: the session), the provider never asked", async () => {
    const session = await createSession(await createWidget({ template: openaiTemplate() }));
    const cases = [
      { envOverride: { ...OPENAI(), UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" }, store: "redis" },
      { envOverride: { ...OPENAI(), NEON_LOCAL_ENDPOINT: "http://127.0.0.1:9/sql" }, store: "postgres" },
    ];
    for (const { envOverride, store } of cases) {
      const marker = `say:down ${store} ${crypto.randomUUID()}`;
      const res = await transcribe(session, recording(marker), { envOverride });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string; details?: unknown } }).error).toMatchObject({ code: "unavailable", details: { store } });
      expect(await providerCalls(marker)).toEqual([]);
    }
  });

  it("has a rate-limit bucket of its own: transcriptions are limited apart from messages", async () => {
    const fixture = await createWidget({ template: openaiTemplate(), widget: { messagesPerIpHour: 1 } });
    const session = await createSession(fixture);
    expect((await transcribe(session, recording("say:one"))).status).toBe(200);
    const second = await transcribe(session, recording("say:two"));
    expect(second.status).toBe(429);
    expect(await errorCode(second)).toBe("rate_limited");
    expect(second.headers.get("retry-after")).toMatch(/^\d+$/);
    // The message limit is untouched by the transcriptions.
    const message = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m1", text: "hi" }, env: OPENAI() });
    expect(message.res.status).toBe(200);
    await message.res.text();
    await message.settled();
    expect((await stores().db.select().from(chatSessions).where(eq(chatSessions.id, session.sessionId)))[0]!.turnSeq).toBe(1);
  });
});
