import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { chatSessions } from "../../src/db/schema";
import type { ErrorBody } from "../../src/errors";
import { lockKey } from "../../src/lock";
import { isStorableText } from "../../src/storable-text";
import { post, stores } from "./support/app";
import { createSession, createWidget, storedMessages } from "./support/fixtures";

const NUL = "\u0000";
const LONE_HIGH = "\ud800";
const LONE_LOW = "\udc00";

async function refusal(res: Response): Promise<ErrorBody["error"]> {
  expect(res.status).toBe(400);
  return ((await res.json()) as ErrorBody).error;
}

describe("isStorableText", () => {
  it.each([
    ["plain text", "hello", true],
    ["a surrogate pair (an emoji)", "ok 👍", true],
    ["a NUL", `a${NUL}b`, false],
    ["a lone high surrogate", `a${LONE_HIGH}b`, false],
    ["a lone low surrogate", `a${LONE_LOW}`, false],
    ["a high surrogate at the very end", `ends ${LONE_HIGH}`, false],
    ["two highs in a row", `\ud83d\ud83d\udc4d`, false],
  ])("%s", (_name, text, storable) => {
    expect(isStorableText(text)).toBe(storable);
  });
});

describe("text the database cannot hold is refused at the boundary", () => {
  const cases: Array<[string, (publicKey: string) => Record<string, unknown>, string]> = [
    ["in publicKey", (publicKey) => ({ publicKey: `${publicKey}${NUL}` }), "publicKey"],
    ["in a templateVars value", (publicKey) => ({ publicKey, templateVars: { shopName: `Acme${LONE_HIGH}` } }), "templateVars.shopName"],
    ["in a metadata key", (publicKey) => ({ publicKey, metadata: { [`page${NUL}`]: "x" } }), "metadata: a key"],
    ["in a nested metadata value", (publicKey) => ({ publicKey, metadata: { cart: { items: ["ok", `bad${LONE_LOW}`] } } }), "metadata.cart.items.1"],
  ];

  it.each(cases)("session create: %s → 400 naming the field, no session", async (_where, body, field) => {
    const fixture = await createWidget();
    const { res } = await post("/v1/widget/session", { json: body(fixture.publicKey) });
    const error = await refusal(res);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain(field.includes(":") ? `${field} must not contain NUL` : `${field}: must not contain NUL`);
    expect(await stores().db.select().from(chatSessions).where(eq(chatSessions.widgetId, fixture.widgetId))).toEqual([]);
  });

  it("session create from a disallowed origin with such a key still gets the 400, before any lookup", async () => {
    const { res } = await post("/v1/widget/session", { json: { publicKey: `pk_${NUL}` }, headers: { origin: "https://evil.example" } });
    expect((await refusal(res)).message).toContain("publicKey: must not contain NUL");
  });

  it.each([
    ["a NUL", `hello${NUL}`],
    ["a lone surrogate", `hello ${LONE_HIGH}`],
  ])("message: text with %s → 400 naming text; nothing stored, the lock untouched", async (_what, text) => {
    const session = await createSession(await createWidget());
    const { res } = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m1", text } });
    expect((await refusal(res)).message).toContain("text: must not contain NUL");
    expect(await storedMessages(session.sessionId)).toEqual([]);
    expect(await stores().redis.get(lockKey(session.sessionId))).toBeNull();

    // The same id with storable text then works: the refusal left nothing behind.
    const retry = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m1", text: "hello" } });
    expect(retry.res.status).toBe(200);
    await retry.res.text();
    await retry.settled();
    expect((await storedMessages(session.sessionId)).map((m) => m.role)).toEqual(["user", "assistant"]);
  });
});
