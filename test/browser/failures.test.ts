/** Every failure as a sentence the visitor understands, with the widget still usable. */
import { randomBytes, randomUUID } from "node:crypto";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS } from "../../dev/seed";
import { insertTestWidget, repliesDone, screenshot, send, shadow, transcript, useSuite } from "./support";

const suite = useSuite();
let desktop: BrowserContext;

beforeAll(async () => {
  desktop = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
});

describe("the widget's failure sentences", () => {
  it("shows no launcher on an origin that is not allowed, from the very first page view, and says why in the console", async () => {
    const other = await desktop.newPage();
    const errors: string[] = [];
    const sessionCreates: string[] = [];
    other.on("console", (message) => message.type() === "error" && errors.push(message.text()));
    other.on("request", (request) => request.method() === "POST" && /\/session$/.test(request.url()) && sessionCreates.push(request.url()));
    // Same shop, but as 127.0.0.1: an origin the seed does not allow. A fresh context: nothing remembered.
    const origin = suite.shopUrl.replace("localhost", "127.0.0.1");
    const config = other.waitForResponse((res) => res.url().includes("/v1/widget/config?"));
    await other.goto(`${origin}/demo`);
    expect((await config).status()).toBe(403);
    await expect.poll(() => errors.join("\n")).toContain(`this page's origin ${origin} is not on the allowed origins of widget "pk_local_demo"`);
    expect(errors.join("\n")).toContain(`Add ${origin} to the widget's allowed origins`);
    expect(await other.locator("parley-chat").count()).toBe(0);
    expect(await other.getByRole("button", { name: "Open chat" }).count()).toBe(0);
    // The next page view on that origin remembers the refusal: no launcher, the reason again.
    errors.length = 0;
    await other.reload();
    await expect.poll(() => errors.join("\n")).toContain(`this page's origin ${origin} is not on the allowed origins`);
    expect(await other.locator("parley-chat").count()).toBe(0);
    expect(sessionCreates).toEqual([]);
    // The allowed origin in the same browser still gets its launcher and a conversation.
    const elsewhere = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const allowed = await elsewhere.newPage();
    const allowedConfig = allowed.waitForResponse((res) => res.url().includes("/v1/widget/config?"));
    await allowed.goto(`${suite.shopUrl}/static`);
    expect((await allowedConfig).status()).toBe(200);
    await allowed.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(allowed, 1);
    await other.close();
    await elsewhere.close();
  });

  it("says when to try again after a 429 on a low-limit widget, keeping the message", async () => {
    const publicKey = `pk_test_${randomBytes(6).toString("hex")}`;
    await suite.db.query(
      `insert into widgets (id, tenant_id, template_id, public_key, allowed_origins, messages_per_ip_hour) values ($1, 'tenant_browser', $2, $3, $4, 1)`,
      [randomUUID(), DEMO_IDS.staticTemplate, publicKey, [suite.shopUrl]],
    );
    const limited = await desktop.newPage();
    const turnCalls: string[] = [];
    limited.on("request", (request) => /initial-turn/.test(request.url()) && turnCalls.push(request.url()));
    await limited.goto(`${suite.shopUrl}/widget?key=${publicKey}`);
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
    const { publicKey } = await insertTestWidget(suite, { presentation: { quickReplies: ["Track my parcel", "Opening hours"], textInput: false } });
    const buttons = await desktop.newPage();
    await buttons.goto(`${suite.shopUrl}/widget?key=${publicKey}`);
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
    await chat.goto(`${suite.shopUrl}/static`);
    await chat.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(chat, replies);
  });

  afterAll(() => chat.close());

  it("retries once when another reply holds the session (409), then says so and offers a retry", async () => {
    const stored = await chat.evaluate(() => JSON.parse(localStorage.getItem("parley:pk_local_static")!) as { sessionId: string; token: string });
    const headers = { authorization: `Bearer ${stored.token}`, origin: suite.shopUrl, "content-type": "application/json" };
    const base = `${suite.apiUrl}/v1/widget/session/${stored.sessionId}`;
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
          headers: { "access-control-allow-origin": suite.shopUrl, "content-type": "application/json" },
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
    expect(await chat.getByRole("textbox", { name: "Message" }).isEditable()).toBe(true);
  });
});
