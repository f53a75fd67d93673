/**
 * What the browser test files share: Debian's Chromium driven by playwright-core (no browser
 * download), the stack that `global-setup.ts` started, and helpers for the widget's shadow DOM.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import pg from "pg";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, inject } from "vitest";
import { DEMO_IDS } from "../../dev/seed";

/** The demo shop's `data-title`: the panel's header and the dialog's name. */
export const TITLE = "Northwind Support";

/** One test file's view of the run: the stack's addresses, its database, a Chromium. */
export interface Suite {
  /** `http://127.0.0.1:<port>`: the Worker, its API and widget.js. */
  apiUrl: string;
  /** `http://localhost:<port>`: the demo shop, another origin than the API. */
  shopUrl: string;
  db: pg.Pool;
  browser: Browser;
}

/**
 * Sets up a test file: before its tests, a pool on the stack's database and (unless
 * `browser: false`) a Chromium of its own; both closed after. The fields are filled in
 * `beforeAll`, so read them inside tests and hooks only.
 */
export function useSuite({ browser = true }: { browser?: boolean } = {}): Suite {
  const suite = {} as Suite;
  beforeAll(async () => {
    suite.apiUrl = inject("browserApiUrl");
    suite.shopUrl = inject("browserShopUrl");
    suite.db = new pg.Pool({ connectionString: inject("browserDatabaseUrl"), max: 2 });
    if (browser) suite.browser = await launchChromium();
  });
  afterAll(async () => {
    await suite.browser?.close();
    await suite.db?.end();
  });
  return suite;
}

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

/**
 * Records, from the start of every page of `context`, what a test must never see: CSP
 * violations (`window.__cspViolations`) and, for comparison, the globals the page began with
 * (`window.__initialGlobals`).
 */
export async function watch(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.__initialGlobals = Object.getOwnPropertyNames(window);
    w.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      (w.__cspViolations as string[]).push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
}

/** The sessions of a widget, oldest first. */
export async function sessionsOf(db: pg.Pool, widgetId: string): Promise<Array<{ id: string; status: string }>> {
  const { rows } = await db.query("select id, status from chat_sessions where widget_id = $1 order by created_at", [widgetId]);
  return rows;
}

/** The widget's host element; locators inside it pierce its open shadow root. */
export function shadow(page: Page) {
  return page.locator("parley-chat");
}

/** Types `text` into the composer and presses Send. */
export async function send(page: Page, text: string): Promise<void> {
  await page.getByRole("textbox", { name: "Message" }).fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

/**
 * A widget of its own for the demo shop's origin, on the static-greeting demo template — or, with
 * `presentation`, on a copy of it that presents itself so. Resolves its id and public key.
 */
export async function insertTestWidget(
  suite: Pick<Suite, "db" | "shopUrl">,
  { presentation }: { presentation?: Record<string, unknown> } = {},
): Promise<{ widgetId: string; publicKey: string }> {
  let templateId: string = DEMO_IDS.staticTemplate;
  if (presentation) {
    templateId = randomUUID();
    await suite.db.query(
      `insert into templates (id, tenant_id, name, model, instructions, greeting, variables, presentation)
       select $1, tenant_id, name || ' (test copy)', model, instructions, greeting, variables, $2 from templates where id = $3`,
      [templateId, JSON.stringify(presentation), DEMO_IDS.staticTemplate],
    );
  }
  const widgetId = randomUUID();
  const publicKey = `pk_test_${randomBytes(6).toString("hex")}`;
  await suite.db.query(`insert into widgets (id, tenant_id, template_id, public_key, allowed_origins) values ($1, 'tenant_browser', $2, $3, $4)`, [
    widgetId,
    templateId,
    publicKey,
    [suite.shopUrl],
  ]);
  return { widgetId, publicKey };
}
