/** Push-to-talk in the widget: a microphone button when the template enables it; held, it records and transcribes. */
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertTestWidget, repliesDone, screenshot, useSuite } from "./support";

// Its own Chromium: with a fake microphone (a test tone) that needs no permission prompt.
const suite = useSuite({ browser: false });
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

/** A widget of its own on a copy of the static-greeting template with `presentation`; its page, opened. */
async function openWidget(presentation: Record<string, unknown>): Promise<Page> {
  const { publicKey } = await insertTestWidget(suite, { presentation });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${suite.shopUrl}/widget?key=${publicKey}`);
  await page.getByRole("button", { name: "Open chat" }).click();
  await repliesDone(page, 1);
  return page;
}

describe("push-to-talk in the widget", () => {
  it("holding the microphone button records; letting go puts the transcript in the input, without sending it", async () => {
    const page = await openWidget({ quickReplies: [], textInput: true, voiceInput: true });
    const posts: string[] = [];
    page.on("request", (request) => request.method() === "POST" && posts.push(new URL(request.url()).pathname));
    const mic = page.getByRole("button", { name: "Hold to talk" });
    expect(await mic.isVisible()).toBe(true);

    await mic.hover();
    await page.mouse.down();
    await expect.poll(() => mic.getAttribute("aria-pressed")).toBe("true");
    // Long enough for the fake microphone's tone to fill a recording.
    await page.waitForTimeout(1_000);
    const transcribed = page.waitForResponse((res) => res.url().endsWith("/transcribe"));
    await page.mouse.up();
    expect((await transcribed).status()).toBe(200);

    const input = page.getByRole("textbox", { name: "Message" });
    // The dev stack's scripted speech-to-text names what it received: a WebM recording.
    await expect.poll(() => input.inputValue()).toMatch(/^\(voice message: \d+ bytes of audio\/webm\)$/);
    expect(await mic.getAttribute("aria-pressed")).toBe("false");
    expect(posts.filter((path) => path.endsWith("/transcribe"))).toHaveLength(1);
    expect(posts.filter((path) => path.endsWith("/message"))).toEqual([]);
    await screenshot(page, "push-to-talk");
    await page.context().close();
  });

  it("shows no microphone button when the template does not enable voice input", async () => {
    const page = await openWidget({ quickReplies: [], textInput: true });
    expect(await page.getByRole("textbox", { name: "Message" }).isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Hold to talk" }).count()).toBe(0);
    await page.context().close();
  });
});
