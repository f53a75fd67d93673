/**
 * A widget with Turnstile on: the challenge shows in the panel before the session exists, a
 * passed one creates it, a refused one says so and creates none. The demo shop serves a local
 * fake of Turnstile's script and siteverify (the stack points the Worker at the latter).
 */
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_TURNSTILE } from "../../dev/demo-shop";
import { DEMO_IDS } from "../../dev/seed";
import { CHALLENGE_FAILED, CHALLENGE_RUNNING } from "../../widget/src/sentences";
import { repliesDone, screenshot, sessionsOf, shadow, transcript, useSuite, watch } from "./support";

const suite = useSuite();
const contexts: BrowserContext[] = [];

afterAll(() => Promise.all(contexts.map((context) => context.close())));

/** A page of a visitor of its own (a fresh profile: no stored conversation). */
async function visitorPage(): Promise<Page> {
  const context = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(context);
  await watch(context);
  return context.newPage();
}

/** The fake challenge's button, rendered by Turnstile's `render` into the widget's element (slotted into the panel). */
const challenge = (page: Page) => shadow(page).getByRole("button", { name: "Verify you are human" });

const cspViolations = (page: Page) => page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);

describe("Turnstile on session create", () => {
  it("shows the challenge in the panel with a sentence, and once passed creates the session and shows the greeting", async () => {
    const before = (await sessionsOf(suite.db, DEMO_IDS.turnstileWidget)).length;
    const page = await visitorPage();
    await page.goto(`${suite.shopUrl}/turnstile`);
    await page.getByRole("button", { name: "Open chat" }).click();

    await challenge(page).waitFor();
    // Rendered with the site key the server answered, and shown inside the panel.
    expect(await challenge(page).getAttribute("data-sitekey")).toBe(DEMO_TURNSTILE.siteKey);
    const panel = (await shadow(page).getByRole("dialog").boundingBox())!;
    const box = (await challenge(page).boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(panel.x);
    expect(box.y).toBeGreaterThanOrEqual(panel.y);
    expect(box.x + box.width).toBeLessThanOrEqual(panel.x + panel.width);
    expect(box.y + box.height).toBeLessThanOrEqual(panel.y + panel.height);
    expect(await shadow(page).getByRole("alert").textContent()).toBe(CHALLENGE_RUNNING);
    expect(await sessionsOf(suite.db, DEMO_IDS.turnstileWidget)).toHaveLength(before);
    await screenshot(page, "turnstile-challenge");

    await challenge(page).click();
    await repliesDone(page, 1);
    expect(await transcript(page)).toEqual([{ role: "assistant", text: "Hi! Welcome to Northwind Goods. How can I help?" }]);
    expect(await sessionsOf(suite.db, DEMO_IDS.turnstileWidget)).toHaveLength(before + 1);
    // The challenge and its sentence are gone; the visitor can type.
    expect(await challenge(page).count()).toBe(0);
    expect(await shadow(page).getByRole("alert").isVisible()).toBe(false);
    expect(await page.getByRole("textbox", { name: "Message" }).isVisible()).toBe(true);
    expect(await cspViolations(page)).toEqual([]);
    await page.close();
  });

  it("says so when siteverify refuses the token, creates no session, and Retry shows a fresh challenge", async () => {
    const before = (await sessionsOf(suite.db, DEMO_IDS.turnstileWidget)).length;
    const page = await visitorPage();
    const creates: number[] = [];
    page.on("response", (res) => res.url().endsWith("/v1/widget/session") && res.request().method() === "POST" && creates.push(res.status()));
    // This mode of the fake hands out a token its siteverify refuses, as a forged one would be.
    await page.goto(`${suite.shopUrl}/turnstile?turnstile=fail`);
    await page.getByRole("button", { name: "Open chat" }).click();
    await challenge(page).click();

    const notice = shadow(page).getByRole("alert");
    await expect.poll(() => notice.textContent()).toBe(`${CHALLENGE_FAILED}Retry`);
    expect(creates).toEqual([403, 403]);
    expect(await challenge(page).count()).toBe(0);
    expect(await transcript(page)).toEqual([]);
    expect(await sessionsOf(suite.db, DEMO_IDS.turnstileWidget)).toHaveLength(before);
    await screenshot(page, "turnstile-refused");

    await notice.getByRole("button", { name: "Retry" }).click();
    await challenge(page).waitFor();
    expect(await notice.textContent()).toBe(CHALLENGE_RUNNING);
    expect(await sessionsOf(suite.db, DEMO_IDS.turnstileWidget)).toHaveLength(before);
    expect(await cspViolations(page)).toEqual([]);
    await page.close();
  });
});
