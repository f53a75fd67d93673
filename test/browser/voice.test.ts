/** The voice channel as the visitor sees it: chat paused while a call is attached, back after. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertTestWidget, repliesDone, screenshot, send, sessionsOf, shadow, transcript, useSuite } from "./support";

const suite = useSuite();
let context: BrowserContext;

/** The stack's SERVICE_API_KEY: the committed local default (.dev.vars.example). */
const SERVICE_KEY = /^SERVICE_API_KEY=(.+)$/m.exec(readFileSync(resolve(import.meta.dirname, "../../.dev.vars.example"), "utf8"))![1]!;

beforeAll(async () => {
  context = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
});

afterAll(async () => {
  await context?.close();
});

async function voiceCall(sessionId: string, action: "attach" | "detach", leadId: string): Promise<Response> {
  return fetch(`${suite.apiUrl}/v1/internal/session/${sessionId}/voice/${action}`, {
    method: "POST",
    headers: { authorization: `Bearer ${SERVICE_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ leadId }),
  });
}

/** A widget of its own on the static-greeting template, its page open and the greeting shown. */
async function openWidget(): Promise<{ page: Page; sessionId: string }> {
  const { widgetId, publicKey } = await insertTestWidget(suite);
  const page = await context.newPage();
  await page.goto(`${suite.shopUrl}/widget?key=${publicKey}`);
  await page.getByRole("button", { name: "Open chat" }).click();
  await repliesDone(page, 1);
  const [session] = await sessionsOf(suite.db, widgetId);
  return { page, sessionId: session!.id };
}

const channelOf = async (sessionId: string) =>
  (await suite.db.query<{ channel: string }>("select channel from chat_sessions where id = $1", [sessionId])).rows[0]!.channel;

describe("the voice channel in the widget", () => {
  it("a message sent during a call says 'voice call in progress' and pauses chat; when the call ends, chat is back", async () => {
    const { page, sessionId } = await openWidget();
    expect((await voiceCall(sessionId, "attach", "lead-1")).status).toBe(200);

    await send(page, "are you there?");
    const notice = shadow(page).getByRole("alert");
    await expect.poll(() => notice.textContent()).toContain("Voice call in progress");
    const input = page.getByRole("textbox", { name: "Message" });
    expect(await input.isDisabled()).toBe(true);
    // The message was not taken: it is back in the (paused) input, not in the transcript.
    expect(await input.inputValue()).toBe("are you there?");
    expect((await transcript(page)).map((m) => m.text)).not.toContain("are you there?");
    await screenshot(page, "voice-call-in-progress");

    // The voice bot ends the call: the widget notices and chat comes back.
    expect((await voiceCall(sessionId, "detach", "lead-1")).status).toBe(200);
    await expect.poll(() => input.isDisabled(), { timeout: 15_000 }).toBe(false);
    expect(await notice.isHidden()).toBe(true);
    await page.getByRole("button", { name: "Send" }).click();
    await repliesDone(page, 2);
    expect((await transcript(page)).map((m) => m.text)).toContain("are you there?");
    await page.close();
  });

  it("after a reload during a call the notice is there at once; 'Back to chat' ends the call and chat works", async () => {
    const { page, sessionId } = await openWidget();
    expect((await voiceCall(sessionId, "attach", "lead-2")).status).toBe(200);
    await page.reload();
    const notice = shadow(page).getByRole("alert");
    await expect.poll(() => notice.textContent()).toContain("Voice call in progress");
    const input = page.getByRole("textbox", { name: "Message" });
    expect(await input.isDisabled()).toBe(true);

    await shadow(page).getByRole("button", { name: "Back to chat" }).click();
    await expect.poll(() => input.isDisabled()).toBe(false);
    expect(await channelOf(sessionId)).toBe("chat");
    // The voice bot's own detach, arriving late, changes nothing.
    expect(await (await voiceCall(sessionId, "detach", "lead-2")).json()).toMatchObject({ channel: "chat", changed: false });
    await send(page, "hello again");
    await repliesDone(page, 2);
    await page.close();
  });
});
