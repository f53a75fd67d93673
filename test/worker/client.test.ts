import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { DefaultChatTransport, readUIMessageStream } from "ai";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { ParleyUIMessage } from "../../src/turn/message";
import { CLIENT_IP, ORIGIN } from "./support/app";
import { createSession, createWidget, storedMessages } from "./support/fixtures";

describe("an AI SDK client", () => {
  it("chats through DefaultChatTransport set up as the README shows, and reads what was stored", async () => {
    const session = await createSession(await createWidget());
    const pending: Promise<void>[] = [];
    const transport = new DefaultChatTransport<ParleyUIMessage>({
      api: `http://parley.test/v1/widget/session/${session.sessionId}/message`,
      headers: { authorization: `Bearer ${session.token}`, origin: ORIGIN, "cf-connecting-ip": CLIENT_IP },
      prepareSendMessagesRequest: ({ messages }) => {
        const last = messages.at(-1)!;
        const text = last.parts.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("");
        return { body: { id: last.id, text } };
      },
      // The browser's fetch, with the Worker as the server.
      fetch: async (input, init) => {
        const ctx = createExecutionContext();
        const res = await worker.fetch(new Request(input, init), env, ctx);
        pending.push(waitOnExecutionContext(ctx));
        return res;
      },
    });

    const stream = await transport.sendMessages({
      chatId: session.sessionId,
      messageId: undefined,
      trigger: "submit-message",
      abortSignal: undefined,
      messages: [{ id: "u-1", role: "user", parts: [{ type: "text", text: "/words 4" }] }],
    });
    let reply: ParleyUIMessage | undefined;
    for await (const message of readUIMessageStream<ParleyUIMessage>({ stream })) reply = message;
    await Promise.all(pending);

    expect(reply?.metadata).toEqual({ sessionId: session.sessionId, idx: 1 });
    const stored = await storedMessages(session.sessionId);
    expect(stored.map((m) => [m.role, m.clientMessageId, m.text])).toEqual([
      ["user", "u-1", "/words 4"],
      ["assistant", null, "(parley local dev model) word1 word2 word3 word4"],
    ]);
    expect(reply?.parts.filter((p) => p.type === "text")).toEqual(stored[1]!.parts.filter((p) => p.type === "text"));
  });
});
