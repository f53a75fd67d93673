/**
 * Page context in a real Chromium: the demo shop's page calls `Parley.setContext({ page, cart })`
 * on load and whenever the visitor adds to the cart; the scripted dev model's `/context <key>`
 * directive answers from what the model received, so the reply shows what the page pushed.
 */
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS } from "../../dev/seed";
import { repliesDone, screenshot, send, transcript, useSuite, watch } from "./support";

const suite = useSuite();
let context: BrowserContext;
let page: Page;

const PREFIX = "(parley local dev model)";

async function lastReply(page: Page): Promise<string> {
  return (await transcript(page)).at(-1)!.text;
}

async function latestSession(): Promise<{ id: string; page_context: unknown }> {
  const { rows } = await suite.db.query("select id, page_context from chat_sessions where widget_id = $1 order by created_at desc limit 1", [
    DEMO_IDS.staticWidget,
  ]);
  return rows[0];
}

beforeAll(async () => {
  context = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
  await watch(context);
  page = await context.newPage();
});

describe("page context from the demo shop", () => {
  it("reaches the model once the session opens: the page's path and its empty cart", async () => {
    const pushes: string[] = [];
    page.on("request", (request) => request.url().endsWith("/context") && pushes.push(request.postData() ?? ""));
    await page.goto(`${suite.shopUrl}/static`);
    await page.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(page, 1);
    await send(page, "/context page");
    await repliesDone(page, 2);
    expect(await lastReply(page)).toBe(`${PREFIX} The page context says page is "/static".`);
    await send(page, "/context cart");
    await repliesDone(page, 3);
    expect(await lastReply(page)).toBe(`${PREFIX} The page context says cart is [].`);
    // Set before the session existed, pushed once it did.
    expect(pushes.map((body) => JSON.parse(body).context)).toEqual([{ page: "/static", cart: [] }]);
  });

  it("changes the reply when the visitor adds to the cart", async () => {
    await page.getByRole("button", { name: "Add Linen shirt to cart" }).click();
    await page.getByRole("button", { name: "Add Rain jacket to cart" }).click();
    // Sent at once: the message waits for the pushes in flight, so its turn sees both.
    await send(page, "/context cart");
    await repliesDone(page, 4);
    expect(await lastReply(page)).toBe(`${PREFIX} The page context says cart is ["Linen shirt","Rain jacket"].`);
    expect((await latestSession()).page_context).toEqual({ page: "/static", cart: ["Linen shirt", "Rain jacket"] });
    await screenshot(page, "page-context-cart");
  });

  it("keeps the context out of the transcript", async () => {
    const session = await latestSession();
    const { rows } = await suite.db.query("select role, text, parts from chat_messages where session_id = $1 and role = 'user' order by idx", [session.id]);
    expect(rows.map((row) => row.text)).toEqual(["/context page", "/context cart", "/context cart"]);
    expect(JSON.stringify(rows)).not.toContain("page_context");
    expect(JSON.stringify(rows)).not.toContain("Linen shirt");
  });

  it("after a reload, the page's fresh context applies to the restored session (its revision is higher)", async () => {
    const before = await latestSession();
    await page.reload();
    await repliesDone(page, 4);
    await send(page, "/context cart");
    await repliesDone(page, 5);
    expect(await lastReply(page)).toBe(`${PREFIX} The page context says cart is [].`);
    expect((await latestSession()).id).toBe(before.id);
  });
});
