import { describe, expect, it } from "vitest";
import { post, call } from "./support/app";
import { createSession, createWidget, storedMessages } from "./support/fixtures";
import { assemble, readChunks, textOf } from "./support/sse";

describe("smoke", () => {
  it("creates a session, streams the initial turn and a message", async () => {
    const fixture = await createWidget();
    const session = await createSession(fixture);
    expect(session.body.initialTurn).toBe("llm");
    const initial = await post(`/v1/widget/session/${session.sessionId}/initial-turn`, { token: session.token });
    expect(initial.res.status).toBe(200);
    const chunks = await readChunks(initial.res);
    console.log(JSON.stringify(chunks).slice(0, 1500));
    await initial.settled();
    const msg = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m1", text: "hello there" } });
    expect(msg.res.status).toBe(200);
    const chunks2 = await readChunks(msg.res);
    console.log(textOf(chunks2));
    const assembled = await assemble(chunks2);
    const stored = await storedMessages(session.sessionId);
    console.log(JSON.stringify(stored.map((m) => [m.idx, m.role, m.text, m.metadata])));
    expect(stored.at(-1)!.parts).toEqual(assembled.parts);
    const state = await call(`/v1/widget/session/${session.sessionId}`, { token: session.token });
    console.log(JSON.stringify(await state.res.json()).slice(0, 800));
  });
});
