/**
 * The visitor in the loop, in a real Chromium on the demo shop's approvals page
 * (`pk_local_approvals`): a tool the visitor approves or denies on a card in the reply, and a
 * tool the shop page itself answers through `Parley.onToolCall`. The steps build on each other.
 */
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS } from "../../dev/seed";
import { repliesDone, screenshot, send, sessionsOf, shadow, transcript, useSuite, watch } from "./support";

const suite = useSuite();
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  context = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
  await watch(context);
  page = await context.newPage();
});

const lastReply = () => shadow(page).locator(".message.assistant").last();
const approve = () => shadow(page).getByRole("button", { name: "Approve" });
const deny = () => shadow(page).getByRole("button", { name: "Deny" });

/** The stored tool parts of the session's replies, in order. */
async function storedToolStates(sessionId: string): Promise<string[]> {
  const { rows } = await suite.db.query<{ parts: Array<{ type: string; state?: string }> }>(
    "select parts from chat_messages where session_id = $1 and role = 'assistant' order by idx",
    [sessionId],
  );
  return rows.flatMap((row) => row.parts.filter((part) => part.type.startsWith("tool-")).map((part) => `${part.type}:${part.state}`));
}

async function sessionId(): Promise<string> {
  const sessions = await sessionsOf(suite.db, DEMO_IDS.approvalsWidget);
  return sessions.at(-1)!.id;
}

describe("approvals and page tools on the demo shop", () => {
  it("asks before cancelling an order: a card with Approve and Deny, and the turn ends waiting", async () => {
    await page.goto(`${suite.shopUrl}/approvals`);
    await page.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(page, 1);
    await send(page, '/tool cancel_order {"orderId":"A-1001"}');
    await expect.poll(() => approve().isVisible()).toBe(true);
    expect(await deny().isVisible()).toBe(true);
    expect(await lastReply().getByRole("group", { name: "Approval" }).innerText()).toContain("Allow “cancel order”?");
    await repliesDone(page, 2);
    expect(await storedToolStates(await sessionId())).toEqual(["tool-cancel_order:approval-requested"]);
    await screenshot(page, "approval-01-card");
  });

  it("shows the pending card again after a reload", async () => {
    await page.reload();
    await expect.poll(() => approve().isVisible()).toBe(true);
    expect((await transcript(page)).map((m) => m.role)).toEqual(["assistant", "user", "assistant"]);
  });

  it("runs the tool once approved and shows the decision in the same reply", async () => {
    await approve().click();
    await expect.poll(() => lastReply().locator(".body").last().innerText().catch(() => "")).toContain("The tool cancel_order returned:");
    await repliesDone(page, 2);
    expect(await lastReply().innerText()).toContain("cancel order: Approved");
    expect(await lastReply().innerText()).toContain('"status":"canceled"');
    expect(await approve().count()).toBe(0);
    expect(await storedToolStates(await sessionId())).toEqual(["tool-cancel_order:output-available"]);
    await screenshot(page, "approval-02-approved");
  });

  it("tells the model a denial and never runs the tool", async () => {
    await send(page, '/tool cancel_order {"orderId":"A-1002"}');
    await expect.poll(() => deny().isVisible()).toBe(true);
    await deny().click();
    await expect.poll(() => lastReply().innerText()).toContain("The tool cancel_order was not run");
    await repliesDone(page, 3);
    expect(await lastReply().innerText()).toContain("cancel order: Denied");
    expect(await storedToolStates(await sessionId())).toEqual(["tool-cancel_order:output-available", "tool-cancel_order:output-denied"]);
  });

  it("answers a client tool with the handler the shop page registered: the page's live cart", async () => {
    await page.getByRole("button", { name: "Add Canvas tote to cart" }).click();
    await page.getByRole("button", { name: "Add Wool beanie to cart" }).click();
    await send(page, "/tool get_cart");
    await expect.poll(() => lastReply().locator(".body").last().innerText().catch(() => "")).toContain("The tool get_cart returned:");
    await repliesDone(page, 4);
    const reply = await lastReply().innerText();
    expect(reply).toContain("Looked up cart");
    expect(reply).toContain('The tool get_cart returned: {"items":["Canvas tote","Wool beanie"]}');
    expect(await storedToolStates(await sessionId())).toContain("tool-get_cart:output-available");
    await screenshot(page, "approval-03-cart");
  });

  it("answers a client tool the page has no handler for with an error the model reads", async () => {
    await send(page, "/tool get_wishlist");
    await expect.poll(() => lastReply().locator(".body").last().innerText().catch(() => "")).toContain("The tool get_wishlist returned:");
    await repliesDone(page, 5);
    expect(await lastReply().innerText()).toContain('This page has no handler for the tool \\"get_wishlist\\"');
    expect(await page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations)).toEqual([]);
  });

  it("answers a client call still waiting after a reload, and the reply completes", async () => {
    // The page's answer never reaches the server: the reload comes first.
    let blocked!: () => void;
    const answerBlocked = new Promise<void>((resolve) => (blocked = resolve));
    await page.route(
      "**/tool-result",
      async (route) => {
        await route.abort();
        blocked();
      },
      { times: 1 },
    );
    await page.getByRole("button", { name: "Add Rain jacket to cart" }).click();
    await send(page, "/tool get_cart");
    await answerBlocked;
    await expect.poll(async () => (await storedToolStates(await sessionId())).at(-1)).toBe("tool-get_cart:input-available");

    await page.reload();
    // The cart starts empty on the new page view; its handler answers the call the reply waits for.
    await expect.poll(() => lastReply().locator(".body").last().innerText().catch(() => ""), { timeout: 15_000 }).toContain('The tool get_cart returned: {"items":[]}');
    await repliesDone(page, 6);
    expect((await transcript(page)).map((m) => m.role)).toEqual(["assistant", "user", "assistant", "user", "assistant", "user", "assistant", "user", "assistant", "user", "assistant"]);
    expect((await storedToolStates(await sessionId())).at(-1)).toBe("tool-get_cart:output-available");
    expect(await page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations)).toEqual([]);
  });
});
