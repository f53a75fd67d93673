/** Debian's Chromium driven by playwright-core (no browser download), and helpers for the widget's shadow DOM. */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

/** Where the suite keeps its screenshots (git-ignored). */
export const SCREENSHOT_DIR = resolve(import.meta.dirname, "../../test-results/widget");

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Launches headless Chromium (playwright gives it a fresh, temporary profile). */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      // As root, Chromium only starts without its sandbox.
      ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
      // No calls to Google's services, which a closed network refuses many at a time.
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Saves a screenshot of the page as `<name>.png` in {@link SCREENSHOT_DIR}. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
}

/** Texts of the transcript's messages, in order, with their role. */
export function transcript(page: Page): Promise<Array<{ role: string; text: string }>> {
  return page.evaluate(() => {
    const root = document.querySelector("parley-chat")?.shadowRoot;
    return Array.from(root?.querySelectorAll(".message") ?? [], (m) => ({
      role: m.classList.contains("user") ? "user" : "assistant",
      text: (m as HTMLElement).innerText.trim(),
    }));
  });
}

/** Resolves with the last assistant message's text once it has some while the reply still streams. */
export async function partialReply(page: Page): Promise<string> {
  const handle = await page.waitForFunction(() => {
    const root = document.querySelector("parley-chat")?.shadowRoot;
    const log = root?.querySelector('[role="log"]');
    const messages = root?.querySelectorAll(".message.assistant");
    const last = messages?.length ? messages[messages.length - 1]! : null;
    const text = Array.from(last?.querySelectorAll(".body") ?? [], (body) => (body as HTMLElement).innerText.trim()).join("\n");
    return log?.getAttribute("aria-busy") === "true" && text ? text : false;
  });
  return (await handle.jsonValue()) as string;
}

/** Resolves once the transcript holds `count` assistant messages and none is streaming. */
export async function repliesDone(page: Page, count: number): Promise<void> {
  await page.waitForFunction((count) => {
    const root = document.querySelector("parley-chat")?.shadowRoot;
    const busy = root?.querySelector('[role="log"]')?.getAttribute("aria-busy");
    return root?.querySelectorAll(".message.assistant").length === count && busy !== "true";
  }, count);
}
