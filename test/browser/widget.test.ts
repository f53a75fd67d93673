/**
 * The widget in a real Chromium, on the demo shop (http://localhost:<port>) against the real
 * stack (wrangler dev, workerd, PostgreSQL and Redis through the shims, the scripted model) on
 * http://127.0.0.1:<port>: every call the widget makes is cross-origin, under the shop's strict
 * Content-Security-Policy. Steps run in order and build on each other, as a visitor would.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import pg from "pg";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS } from "../../dev/seed";
import { launchChromium, partialReply, repliesDone, screenshot, transcript } from "./browser";
import { startBrowserStack, type BrowserStack } from "./stack";

const TITLE = "Northwind Support";
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let stack: BrowserStack;
let browser: Browser;
let db: pg.Pool;
let desktop: BrowserContext;
let page: Page;

/** Watches a page for what a test must never see: CSP violations, page errors, new globals. */
async function watch(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.__initialGlobals = Object.getOwnPropertyNames(window);
    w.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      (w.__cspViolations as string[]).push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
}

async function sessionsOf(widgetId: string): Promise<Array<{ id: string; status: string }>> {
  const { rows } = await db.query("select id, status from chat_sessions where widget_id = $1 order by created_at", [widgetId]);
  return rows;
}

function shadow(page: Page) {
  return page.locator("parley-chat");
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByRole("textbox", { name: "Message" }).fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

beforeAll(async () => {
  stack = await startBrowserStack();
  db = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  browser = await launchChromium();
  desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await watch(desktop);
  page = await desktop.newPage();
});

afterAll(async () => {
  await browser?.close();
  await db?.end();
  await stack?.stop();
});

describe("the widget on the demo shop", () => {
  it("shows a launcher on page load without creating a session or calling the API", async () => {
    const apiCalls: string[] = [];
    page.on("request", (request) => request.url().includes("/v1/widget") && apiCalls.push(request.url()));
    await page.goto(`${stack.shopUrl}/demo`);
    await expect.poll(() => page.getByRole("button", { name: "Open chat" }).isVisible()).toBe(true);
    expect(apiCalls).toEqual([]);
    expect(await sessionsOf(DEMO_IDS.llmWidget)).toEqual([]);
    expect(await page.evaluate(() => typeof (window as { Parley?: { version?: unknown } }).Parley?.version)).toBe("string");
    await screenshot(page, "01-launcher");
  });

  it("opens a dialog named by its title and streams the model's greeting", async () => {
    await page.getByRole("button", { name: "Open chat" }).click();
    await expect.poll(() => page.getByRole("dialog", { name: TITLE }).isVisible()).toBe(true);
    const partial = await partialReply(page);
    await repliesDone(page, 1);
    const [greeting] = await transcript(page);
    expect(greeting!.text).toContain("(parley local dev model)");
    // Visible before the reply was complete, and the reply grew from it.
    expect(greeting!.text.length).toBeGreaterThan(partial.length);
    expect(greeting!.text.startsWith(partial.slice(0, 10))).toBe(true);
    // data-var-shop-name and the stub's queued Parley.boot({ metadata }) reached the session.
    const { rows } = await db.query("select template_vars, metadata from chat_sessions where widget_id = $1", [DEMO_IDS.llmWidget]);
    expect(rows).toEqual([{ template_vars: expect.objectContaining({ shopName: "Northwind Goods" }), metadata: { page: "/demo" } }]);
    await screenshot(page, "02-greeting");
  });

  it("streams a reply to a message, renders its markdown, and announces it once finished", async () => {
    await send(page, "Hello **there**, see [our shop](https://shop.example/) or [this](javascript:alert`1`)");
    const partial = await partialReply(page);
    expect(await page.getByRole("button", { name: "Stop" }).isVisible()).toBe(true);
    await repliesDone(page, 2);
    const messages = await transcript(page);
    expect(messages.at(-2)).toEqual({ role: "user", text: "Hello **there**, see [our shop](https://shop.example/) or [this](javascript:alert`1`)" });
    // Seen before the end of the reply arrived.
    expect(messages.at(-1)!.text).toContain("no AI provider was called");
    expect(partial).not.toContain("no AI provider was called");
    const reply = shadow(page).locator(".message.assistant").last();
    expect(await reply.locator("strong").first().textContent()).toBe("there");
    const link = reply.getByRole("link", { name: "our shop" });
    expect(await link.getAttribute("href")).toBe("https://shop.example/");
    expect(await link.getAttribute("rel")).toBe("noopener noreferrer nofollow");
    expect(await link.getAttribute("target")).toBe("_blank");
    expect(await reply.locator('a[href^="javascript"]').count()).toBe(0);
    expect(await shadow(page).getByRole("status").textContent()).toBe(messages.at(-1)!.text);
  });

  it("stops a reply mid-way: the partial reply stays, marked stopped, and the input works again", async () => {
    await send(page, "/words 400");
    await page.waitForFunction(() => {
      const bodies = document.querySelector("parley-chat")?.shadowRoot?.querySelectorAll(".message.assistant .body");
      return bodies && bodies.length === 3 && (bodies[2] as HTMLElement).innerText.includes("word5");
    });
    await page.getByRole("button", { name: "Stop" }).click();
    await repliesDone(page, 3);
    const stopped = shadow(page).locator(".message.assistant").last();
    expect(await stopped.locator(".mark").textContent()).toBe("Stopped");
    const text = (await transcript(page)).at(-1)!.text;
    expect(text).toContain("word5");
    expect(text).not.toContain("word400");
    await screenshot(page, "03-stopped");

    const input = page.getByRole("textbox", { name: "Message" });
    expect(await input.isEditable()).toBe(true);
    await send(page, "after the stop");
    await repliesDone(page, 4);
    expect((await transcript(page)).at(-1)!.text).toContain("after the stop");
  });

  it("sends a quick reply's text", async () => {
    await page.getByRole("button", { name: "Where is my order?" }).click();
    await repliesDone(page, 5);
    const messages = await transcript(page);
    expect(messages.at(-2)).toEqual({ role: "user", text: "Where is my order?" });
    expect(messages.at(-1)!.text).toContain("Where is my order?");
  });

  it("shows markup in a message as text: no element is made and no script runs", async () => {
    const payload = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;
    await send(page, payload);
    await repliesDone(page, 6);
    const messages = await transcript(page);
    expect(messages.at(-2)).toEqual({ role: "user", text: payload });
    expect(messages.at(-1)!.text).toContain(`<img src=x onerror="window.__xss=1">`);
    const injected = await page.evaluate(() => ({
      elements: document.querySelector("parley-chat")!.shadowRoot!.querySelectorAll("img, script").length,
      xss: (window as { __xss?: unknown }).__xss ?? null,
    }));
    expect(injected).toEqual({ elements: 0, xss: null });
  });

  it("keeps the conversation over a reload: the panel reopens with the transcript, no new session", async () => {
    const before = await transcript(page);
    await page.reload();
    await expect.poll(() => page.getByRole("dialog", { name: TITLE }).isVisible()).toBe(true);
    await expect.poll(async () => (await transcript(page)).length).toBe(before.length);
    expect(await transcript(page)).toEqual(before);
    expect(await shadow(page).locator(".mark").first().textContent()).toBe("Stopped");
    expect(await sessionsOf(DEMO_IDS.llmWidget)).toHaveLength(1);
    // Reopened by the page, not by the visitor: focus stays on the page.
    expect(await page.evaluate(() => document.activeElement === document.body)).toBe(true);
    await screenshot(page, "04-restored");
  });

  it("leaves the page and the console clean: no CSP violation, no global but Parley", async () => {
    const report = await page.evaluate(() => {
      const w = window as unknown as Record<string, unknown>;
      const initial = new Set(w.__initialGlobals as string[]);
      return {
        added: Object.getOwnPropertyNames(window).filter((name) => !initial.has(name) && !name.startsWith("__")),
        csp: w.__cspViolations,
      };
    });
    expect(report).toEqual({ added: ["Parley"], csp: [] });
  });

  it("passes an axe-core scan of the open widget with no serious or critical violations", async () => {
    await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: Array<{ id: string; impact: string; nodes: unknown[] }> }> } }).axe;
      const result = await axe.run({ include: [["parley-chat"]] }, { resultTypes: ["violations"] });
      return result.violations.map(({ id, impact, nodes }) => ({ id, impact, nodes: nodes.length }));
    });
    expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);
  });

  it("ends the conversation with New conversation and starts another", async () => {
    const [first] = await sessionsOf(DEMO_IDS.llmWidget);
    await page.getByRole("button", { name: "New conversation" }).click();
    await repliesDone(page, 1);
    expect((await transcript(page)).map((m) => m.role)).toEqual(["assistant"]);
    const sessions = await sessionsOf(DEMO_IDS.llmWidget);
    expect(sessions).toHaveLength(2);
    expect(sessions.find((s) => s.id === first!.id)!.status).toBe("ended");
  });

  it("offers a new conversation when the current one has ended elsewhere (410)", async () => {
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem("parley:pk_local_demo")!) as { sessionId: string; token: string });
    const ended = await fetch(`${stack.apiUrl}/v1/widget/session/${stored.sessionId}/end`, {
      method: "POST",
      headers: { authorization: `Bearer ${stored.token}`, origin: stack.shopUrl },
    });
    expect(ended.status).toBe(200);
    await send(page, "are you there?");
    const notice = shadow(page).getByRole("alert");
    await expect.poll(() => notice.textContent()).toContain("This conversation has ended.");
    expect(await page.getByRole("textbox", { name: "Message" }).inputValue()).toBe("are you there?");
    await screenshot(page, "05-ended");
    await notice.getByRole("button", { name: "Start a new conversation" }).click();
    await repliesDone(page, 1);
    expect(await sessionsOf(DEMO_IDS.llmWidget)).toHaveLength(3);
    expect(await notice.isVisible()).toBe(false);
  });

  it("shows tool activity quietly on pk_local_tools", async () => {
    const tools = await desktop.newPage();
    await tools.goto(`${stack.shopUrl}/tools`);
    await tools.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(tools, 1);
    await send(tools, '/tool get_order_status {"orderId":"A1"}');
    await repliesDone(tools, 2);
    const reply = shadow(tools).locator(".message.assistant").last();
    expect(await reply.locator(".tool").textContent()).toBe("Looked up order status");
    expect(await reply.locator(".body").last().innerText()).toContain("A1");
    await screenshot(tools, "06-tools");
    await tools.close();
  });

  it("opens and closes through the JS API, and starts anew after an ended session or an expired token", async () => {
    const tools = await desktop.newPage();
    await tools.goto(`${stack.shopUrl}/tools`);
    const dialog = tools.getByRole("dialog", { name: TITLE });
    await expect.poll(() => dialog.isVisible()).toBe(true); // reopened: it was open before
    await tools.evaluate(() => (window as unknown as { Parley: { close(): void } }).Parley.close());
    expect(await dialog.isVisible()).toBe(false);
    const before = (await sessionsOf(DEMO_IDS.toolsWidget)).length;

    // Ended elsewhere: forgotten on load; the next open (the page's own button) starts a new one.
    const stored = await tools.evaluate(() => JSON.parse(localStorage.getItem("parley:pk_local_tools")!) as { sessionId: string; token: string; expiresAt: string });
    await fetch(`${stack.apiUrl}/v1/widget/session/${stored.sessionId}/end`, { method: "POST", headers: { authorization: `Bearer ${stored.token}`, origin: stack.shopUrl } });
    await tools.reload();
    await tools.getByRole("button", { name: "Ask us anything" }).click();
    await repliesDone(tools, 1);
    expect((await transcript(tools)).map((m) => m.role)).toEqual(["assistant"]);
    expect(await sessionsOf(DEMO_IDS.toolsWidget)).toHaveLength(before + 1);

    // A token past its expiry is not even tried: the next open starts a new conversation.
    await tools.evaluate(() => {
      const key = "parley:pk_local_tools";
      const value = JSON.parse(localStorage.getItem(key)!) as Record<string, unknown>;
      localStorage.setItem(key, JSON.stringify({ ...value, expiresAt: new Date(Date.now() - 1_000).toISOString(), open: false }));
    });
    await tools.reload();
    await tools.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(tools, 1);
    expect(await sessionsOf(DEMO_IDS.toolsWidget)).toHaveLength(before + 2);
    await tools.close();
  });

});

describe("widget.js as served", () => {
  it("has caching headers a CDN can use, and a pinned copy under its content hash", async () => {
    const res = await fetch(`${stack.apiUrl}/widget.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300, stale-while-revalidate=86400");
    const etag = res.headers.get("etag");
    expect(etag).toBeTruthy();
    const code = await res.text();
    expect((await fetch(`${stack.apiUrl}/widget.js`, { headers: { "if-none-match": etag! } })).status).toBe(304);

    const version = await page.evaluate(() => (window as unknown as { Parley: { version: string } }).Parley.version);
    const pinned = await fetch(`${stack.apiUrl}/widget-${version}.js`);
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await pinned.text()).toBe(code);
  });
});

describe("the widget's failure sentences", () => {
  it("hides itself on an origin that is not allowed, on this and later page views, and says why in the console", async () => {
    const other = await desktop.newPage();
    const errors: string[] = [];
    other.on("console", (message) => message.type() === "error" && errors.push(message.text()));
    // Same shop, but as 127.0.0.1: an origin the seed does not allow.
    const origin = stack.shopUrl.replace("localhost", "127.0.0.1");
    await other.goto(`${origin}/demo`);
    await other.getByRole("button", { name: "Open chat" }).click();
    await expect.poll(() => other.locator("parley-chat").count()).toBe(0);
    expect(errors.join("\n")).toContain(`this page's origin ${origin} is not on the allowed origins of widget "pk_local_demo"`);
    expect(errors.join("\n")).toContain(`Add ${origin} to the widget's allowed origins`);
    // The next page view on that origin shows no launcher at all, and says why again.
    errors.length = 0;
    await other.reload();
    await expect.poll(() => errors.join("\n")).toContain(`this page's origin ${origin} is not on the allowed origins`);
    expect(await other.locator("parley-chat").count()).toBe(0);
    await other.close();
  });

  it("says when to try again after a 429 on a low-limit widget, keeping the message", async () => {
    const publicKey = `pk_test_${randomBytes(6).toString("hex")}`;
    await db.query(
      `insert into widgets (id, tenant_id, template_id, public_key, allowed_origins, messages_per_ip_hour) values ($1, 'tenant_browser', $2, $3, $4, 1)`,
      [randomUUID(), DEMO_IDS.staticTemplate, publicKey, [stack.shopUrl]],
    );
    const limited = await desktop.newPage();
    const turnCalls: string[] = [];
    limited.on("request", (request) => /initial-turn/.test(request.url()) && turnCalls.push(request.url()));
    await limited.goto(`${stack.shopUrl}/widget?key=${publicKey}`);
    await limited.getByRole("button", { name: "Open chat" }).click();
    // A static greeting: shown from the session itself, no initial turn.
    await repliesDone(limited, 1);
    expect((await transcript(limited))[0]!.text).toBe("Hi! Welcome to Northwind Goods. How can I help?");
    expect(turnCalls).toEqual([]);
    await send(limited, "first");
    await repliesDone(limited, 2);
    await send(limited, "second");
    const notice = shadow(limited).getByRole("alert");
    await expect.poll(() => notice.textContent()).toMatch(/^You're sending messages quickly — try again in (a minute|\d+ minutes)\.$/);
    expect(await limited.getByRole("textbox", { name: "Message" }).inputValue()).toBe("second");
    expect((await transcript(limited)).map((m) => m.text)).not.toContain("second");
    await screenshot(limited, "07-rate-limited");
    await limited.close();
  });

  it("hides the text input when the template says textInput: false, leaving the quick replies", async () => {
    const templateId = randomUUID();
    await db.query(
      `insert into templates (id, tenant_id, name, model, instructions, greeting, variables, presentation)
       select $1, tenant_id, 'buttons only', model, instructions, greeting, variables, $2 from templates where id = $3`,
      [templateId, JSON.stringify({ quickReplies: ["Track my parcel", "Opening hours"], textInput: false }), DEMO_IDS.staticTemplate],
    );
    const publicKey = `pk_test_${randomBytes(6).toString("hex")}`;
    await db.query(`insert into widgets (id, tenant_id, template_id, public_key, allowed_origins) values ($1, 'tenant_browser', $2, $3, $4)`, [
      randomUUID(),
      templateId,
      publicKey,
      [stack.shopUrl],
    ]);
    const buttons = await desktop.newPage();
    await buttons.goto(`${stack.shopUrl}/widget?key=${publicKey}`);
    await buttons.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(buttons, 1);
    expect(await buttons.getByRole("textbox", { name: "Message" }).count()).toBe(0);
    expect(await buttons.evaluate(() => document.querySelector("parley-chat")!.shadowRoot!.activeElement?.textContent)).toBe("Track my parcel");
    await buttons.getByRole("button", { name: "Opening hours" }).click();
    await repliesDone(buttons, 2);
    expect((await transcript(buttons)).at(-2)).toEqual({ role: "user", text: "Opening hours" });
    await buttons.close();
  });
});

describe("the widget when a turn cannot run", () => {
  let chat: Page;
  let replies = 1;

  beforeAll(async () => {
    chat = await desktop.newPage();
    await chat.goto(`${stack.shopUrl}/static`);
    await chat.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(chat, replies);
  });

  afterAll(() => chat.close());

  it("retries once when another reply holds the session (409), then says so and offers a retry", async () => {
    const stored = await chat.evaluate(() => JSON.parse(localStorage.getItem("parley:pk_local_static")!) as { sessionId: string; token: string });
    const headers = { authorization: `Bearer ${stored.token}`, origin: stack.shopUrl, "content-type": "application/json" };
    const base = `${stack.apiUrl}/v1/widget/session/${stored.sessionId}`;
    // A long reply from elsewhere (another tab) holds the session's lock.
    const other = await fetch(`${base}/message`, { method: "POST", headers, body: JSON.stringify({ id: "other-tab", text: "/words 2000" }) });
    expect(other.status).toBe(200);
    const attempts: string[] = [];
    chat.on("request", (request) => request.method() === "POST" && request.url().endsWith("/message") && attempts.push(request.url()));

    await send(chat, "hello");
    const notice = shadow(chat).getByRole("alert");
    await expect.poll(() => notice.textContent(), { timeout: 10_000 }).toContain("The assistant is still answering.");
    expect(attempts).toHaveLength(2);

    expect((await fetch(`${base}/cancel`, { method: "POST", headers })).status).toBe(202);
    // The canceled stream may already be closed.
    await other.body?.cancel().catch(() => {});
    await notice.getByRole("button", { name: "Retry" }).click();
    await repliesDone(chat, ++replies);
    const messages = await transcript(chat);
    expect(messages.slice(-2).map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(messages.at(-1)!.text).toContain("hello");
  });

  it("says the service is unreachable on a 503 or a network failure, and its Retry sends the message", async () => {
    const faults: Array<"503" | "network"> = ["503", "network"];
    await chat.route("**/v1/widget/session/*/message", async (route) => {
      const fault = route.request().method() === "POST" ? faults.shift() : undefined;
      if (fault === "503") {
        return route.fulfill({
          status: 503,
          headers: { "access-control-allow-origin": stack.shopUrl, "content-type": "application/json" },
          body: JSON.stringify({ error: { code: "unavailable", message: "A backing service is unavailable; retry shortly." } }),
        });
      }
      if (fault === "network") return route.abort("internetdisconnected");
      return route.continue();
    });
    const notice = shadow(chat).getByRole("alert");

    await send(chat, "ping");
    await expect.poll(() => notice.textContent()).toContain("The chat service is having trouble right now.");
    await notice.getByRole("button", { name: "Retry" }).click();
    await expect.poll(() => notice.textContent()).toContain("We couldn't reach the chat service.");
    await screenshot(chat, "09-unreachable");
    await notice.getByRole("button", { name: "Retry" }).click();
    await repliesDone(chat, ++replies);
    expect((await transcript(chat)).slice(-2).map((m) => m.text)).toEqual(["ping", expect.stringContaining("ping")]);
    expect(await notice.isVisible()).toBe(false);
    await chat.unroute("**/v1/widget/session/*/message");
  });

  it("keeps what streamed before an in-stream error and says what happened", async () => {
    await send(chat, "/fail-mid");
    await repliesDone(chat, ++replies);
    const notice = shadow(chat).getByRole("alert");
    await expect.poll(() => notice.textContent()).toBe("Sorry, something went wrong while answering. Please try again.");
    expect((await transcript(chat)).at(-1)!.text).toContain("(parley local dev model)");
    expect(await page.getByRole("textbox", { name: "Message" }).isEditable()).toBe(true);
  });
});

describe("the widget on a phone, and with the keyboard only", () => {
  it("fills the screen on a narrow viewport, honouring reduced motion and a dark colour scheme", async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
      reducedMotion: "reduce",
      colorScheme: "dark",
    });
    const mobile = await phone.newPage();
    await mobile.goto(`${stack.shopUrl}/static`);
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
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const keys = await context.newPage();
    await keys.goto(`${stack.shopUrl}/static`);
    await keys.getByRole("button", { name: "Open chat" }).waitFor();
    const focused = () =>
      keys.evaluate(() => {
        const active = document.activeElement;
        const inner = active?.shadowRoot?.activeElement ?? active;
        return inner?.getAttribute("aria-label") ?? inner?.textContent?.trim() ?? "";
      });
    for (let i = 0; i < 10 && (await focused()) !== "Open chat"; i++) await keys.keyboard.press("Tab");
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
