/**
 * One visitor's conversation with the widget in a real Chromium, on the demo shop
 * (http://localhost:<port>) against the real stack on http://127.0.0.1:<port>: every call the
 * widget makes is cross-origin, under the shop's strict Content-Security-Policy. The steps run
 * in order and build on each other, as a visitor's would.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS } from "../../dev/seed";
import { partialReply, repliesDone, screenshot, send, sessionsOf, shadow, TITLE, transcript, useSuite, watch } from "./support";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const suite = useSuite();
let desktop: BrowserContext;
let page: Page;

beforeAll(async () => {
  desktop = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
  await watch(desktop);
  page = await desktop.newPage();
});

describe("the widget on the demo shop", () => {
  it("shows a launcher on page load after one config call, without creating a session", async () => {
    const apiCalls: string[] = [];
    page.on("request", (request) => request.url().includes("/v1/widget") && apiCalls.push(`${request.method()} ${new URL(request.url()).pathname}`));
    await page.goto(`${suite.shopUrl}/demo`);
    await expect.poll(() => page.getByRole("button", { name: "Open chat" }).isVisible()).toBe(true);
    // Only "may this page show the widget?": no session until the visitor opens it.
    expect(apiCalls).toEqual(["GET /v1/widget/config"]);
    expect(await sessionsOf(suite.db, DEMO_IDS.llmWidget)).toEqual([]);
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
    const { rows } = await suite.db.query("select template_vars, metadata from chat_sessions where widget_id = $1", [DEMO_IDS.llmWidget]);
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
    expect(await sessionsOf(suite.db, DEMO_IDS.llmWidget)).toHaveLength(1);
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
    const [first] = await sessionsOf(suite.db, DEMO_IDS.llmWidget);
    await page.getByRole("button", { name: "New conversation" }).click();
    await repliesDone(page, 1);
    expect((await transcript(page)).map((m) => m.role)).toEqual(["assistant"]);
    const sessions = await sessionsOf(suite.db, DEMO_IDS.llmWidget);
    expect(sessions).toHaveLength(2);
    expect(sessions.find((s) => s.id === first!.id)!.status).toBe("ended");
  });

  it("offers a new conversation when the current one has ended elsewhere (410)", async () => {
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem("parley:pk_local_demo")!) as { sessionId: string; token: string });
    const ended = await fetch(`${suite.apiUrl}/v1/widget/session/${stored.sessionId}/end`, {
      method: "POST",
      headers: { authorization: `Bearer ${stored.token}`, origin: suite.shopUrl },
    });
    expect(ended.status).toBe(200);
    await send(page, "are you there?");
    const notice = shadow(page).getByRole("alert");
    await expect.poll(() => notice.textContent()).toContain("This conversation has ended.");
    expect(await page.getByRole("textbox", { name: "Message" }).inputValue()).toBe("are you there?");
    await screenshot(page, "05-ended");
    await notice.getByRole("button", { name: "Start a new conversation" }).click();
    await repliesDone(page, 1);
    expect(await sessionsOf(suite.db, DEMO_IDS.llmWidget)).toHaveLength(3);
    expect(await notice.isVisible()).toBe(false);
  });

  it("shows tool activity quietly on pk_local_tools", async () => {
    const tools = await desktop.newPage();
    await tools.goto(`${suite.shopUrl}/tools`);
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
    await tools.goto(`${suite.shopUrl}/tools`);
    const dialog = tools.getByRole("dialog", { name: TITLE });
    await expect.poll(() => dialog.isVisible()).toBe(true); // reopened: it was open before
    await tools.evaluate(() => (window as unknown as { Parley: { close(): void } }).Parley.close());
    expect(await dialog.isVisible()).toBe(false);
    const before = (await sessionsOf(suite.db, DEMO_IDS.toolsWidget)).length;

    // Ended elsewhere: forgotten on load; the next open (the page's own button) starts a new one.
    const stored = await tools.evaluate(() => JSON.parse(localStorage.getItem("parley:pk_local_tools")!) as { sessionId: string; token: string; expiresAt: string });
    await fetch(`${suite.apiUrl}/v1/widget/session/${stored.sessionId}/end`, { method: "POST", headers: { authorization: `Bearer ${stored.token}`, origin: suite.shopUrl } });
    await tools.reload();
    await tools.getByRole("button", { name: "Ask us anything" }).click();
    await repliesDone(tools, 1);
    expect((await transcript(tools)).map((m) => m.role)).toEqual(["assistant"]);
    expect(await sessionsOf(suite.db, DEMO_IDS.toolsWidget)).toHaveLength(before + 1);

    // A token past its expiry is not even tried: the next open starts a new conversation.
    await tools.evaluate(() => {
      const key = "parley:pk_local_tools";
      const value = JSON.parse(localStorage.getItem(key)!) as Record<string, unknown>;
      localStorage.setItem(key, JSON.stringify({ ...value, expiresAt: new Date(Date.now() - 1_000).toISOString(), open: false }));
    });
    await tools.reload();
    await tools.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(tools, 1);
    expect(await sessionsOf(suite.db, DEMO_IDS.toolsWidget)).toHaveLength(before + 2);
    await tools.close();
  });

});
