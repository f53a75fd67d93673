/** The widget on a phone, and driven by the keyboard alone. */
import { describe, expect, it } from "vitest";
import { repliesDone, screenshot, TITLE, transcript, useSuite } from "./support";

const suite = useSuite();

describe("the widget on a phone, and with the keyboard only", () => {
  it("fills the screen on a narrow viewport, honouring reduced motion and a dark colour scheme", async () => {
    const phone = await suite.browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
      reducedMotion: "reduce",
      colorScheme: "dark",
    });
    const mobile = await phone.newPage();
    await mobile.goto(`${suite.shopUrl}/static`);
    await mobile.getByRole("button", { name: "Open chat" }).tap();
    await repliesDone(mobile, 1);
    const dialog = mobile.getByRole("dialog", { name: TITLE });
    // With reduced motion the panel does not slide in: it is in place at once.
    expect(await dialog.evaluate((panel) => panel.getAnimations().length)).toBe(0);
    expect(await dialog.boundingBox()).toEqual({ x: 0, y: 0, width: 390, height: 844 });
    expect(await dialog.evaluate((panel) => getComputedStyle(panel).backgroundColor)).toBe("rgb(28, 29, 33)");
    await screenshot(mobile, "08-mobile");
    await phone.close();
  });

  it("works with the keyboard alone: Tab to the launcher, Enter sends, Shift+Enter breaks a line, Escape closes", async () => {
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const keys = await context.newPage();
    await keys.goto(`${suite.shopUrl}/static`);
    await keys.getByRole("button", { name: "Open chat" }).waitFor();
    const focused = () =>
      keys.evaluate(() => {
        const active = document.activeElement;
        const inner = active?.shadowRoot?.activeElement ?? active;
        return inner?.getAttribute("aria-label") ?? inner?.textContent?.trim() ?? "";
      });
    // Past the page's own controls (navigation, "Ask us anything", each product's "Add to cart").
    for (let i = 0; i < 20 && (await focused()) !== "Open chat"; i++) await keys.keyboard.press("Tab");
    expect(await focused()).toBe("Open chat");
    await keys.keyboard.press("Enter");
    await repliesDone(keys, 1);
    expect(await focused()).toBe("Message");
    await keys.keyboard.type("first line");
    await keys.keyboard.press("Shift+Enter");
    await keys.keyboard.type("second line");
    await keys.keyboard.press("Enter");
    await repliesDone(keys, 2);
    expect((await transcript(keys)).at(-2)).toEqual({ role: "user", text: "first line\nsecond line" });
    await keys.keyboard.press("Tab");
    expect(await focused()).toBe("Send");
    await keys.keyboard.press("Escape");
    expect(await keys.getByRole("dialog", { name: TITLE }).isVisible()).toBe(false);
    expect(await focused()).toBe("Open chat");
    await context.close();
  });
});
