/**
 * Verified visitors in a real Chromium: the demo shop's server signs each page's identity token
 * (`/identity`, `/members`; dev/demo-shop.ts) with the seeded widgets' demo secrets, and the page
 * hands it to widget.js with `data-identity-token`. Refused tokens, a tier the page sets itself,
 * `requireIdentity`, and one visitor's conversation resumed on a second device.
 */
import type { BrowserContext, Page, Response } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_IDS } from "../../dev/seed";
import { IDENTITY_FAILED } from "../../widget/src/sentences";
import { repliesDone, screenshot, send, shadow, transcript, useSuite, watch } from "./support";

const suite = useSuite();
const contexts: BrowserContext[] = [];

afterAll(() => Promise.all(contexts.map((context) => context.close())));

/** A device of its own: a fresh profile, nothing stored. */
async function device(): Promise<Page> {
  const context = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(context);
  await watch(context);
  return context.newPage();
}

const newVisitor = () => `customer-${crypto.randomUUID()}`;

/** Sessions of `visitor` on the widget. */
async function visitorSessions(widgetId: string, visitor: string): Promise<Array<{ id: string; template_vars: Record<string, string> }>> {
  const { rows } = await suite.db.query("select id, template_vars from chat_sessions where widget_id = $1 and visitor_id = $2 order by created_at", [widgetId, visitor]);
  return rows;
}

async function sessionCount(widgetId: string): Promise<number> {
  const { rows } = await suite.db.query("select count(*)::int as n from chat_sessions where widget_id = $1", [widgetId]);
  return rows[0].n;
}

/** Opens the chat on `path` and answers the session create's response. */
async function openChat(page: Page, path: string): Promise<{ status: number; body: Record<string, any> }> {
  await page.goto(`${suite.shopUrl}${path}`);
  const created = page.waitForResponse((res: Response) => res.url().endsWith("/v1/widget/session") && res.request().method() === "POST");
  await page.getByRole("button", { name: "Open chat" }).click();
  const res = await created;
  return { status: res.status(), body: (await res.json()) as Record<string, any> };
}

const cspViolations = (page: Page) => page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);

describe("a verified visitor", () => {
  it("with a valid token: the greeting uses the token's name and tier, and the session is the visitor's", async () => {
    const visitor = newVisitor();
    const page = await device();
    const created = await openChat(page, `/identity?visitor=${visitor}&name=Grace&tier=gold`);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ visitorId: visitor, resumed: false, ignoredVars: [] });
    await repliesDone(page, 1);
    expect(await transcript(page)).toEqual([{ role: "assistant", text: "Hi Grace! As a gold member of Northwind Goods, how can I help?" }]);
    const sessions = await visitorSessions(DEMO_IDS.identityWidget, visitor);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.template_vars).toEqual({ shopName: "Northwind Goods", customerName: "Grace", customerTier: "gold" });
    expect(await cspViolations(page)).toEqual([]);
    await screenshot(page, "identity-verified");
  });

  it("with a valid token handed over by Parley.boot({ identityToken }) instead of the attribute: verified too", async () => {
    const visitor = newVisitor();
    const page = await device();
    const created = await openChat(page, `/identity?visitor=${visitor}&name=Kay&tier=silver&via=boot`);
    expect(created.status).toBe(201);
    expect(created.body.visitorId).toBe(visitor);
    expect(await page.locator("script[data-identity-token]").count()).toBe(0);
    await repliesDone(page, 1);
    expect(await transcript(page)).toEqual([{ role: "assistant", text: "Hi Kay! As a silver member of Northwind Goods, how can I help?" }]);
    expect(await cspViolations(page)).toEqual([]);
  });

  for (const kind of ["forged", "expired", "other-widget", "alg-none"]) {
    it(`with a ${kind} token: 401 invalid_identity, the visitor is told, and no session opens`, async () => {
      const visitor = newVisitor();
      const before = await sessionCount(DEMO_IDS.identityWidget);
      const page = await device();
      const created = await openChat(page, `/identity?visitor=${visitor}&tier=platinum&token=${kind}`);
      expect(created.status).toBe(401);
      expect(created.body.error.code).toBe("invalid_identity");
      await expect.poll(() => shadow(page).getByRole("alert").textContent()).toBe(IDENTITY_FAILED);
      expect(await transcript(page)).toEqual([]);
      expect(await sessionCount(DEMO_IDS.identityWidget)).toBe(before);
      if (kind === "forged") await screenshot(page, "identity-refused");
    });
  }

  it("a tier the page sets itself is dropped and reported in ignoredVars; the greeting shows the token's", async () => {
    const visitor = newVisitor();
    const page = await device();
    const created = await openChat(page, `/identity?visitor=${visitor}&name=Lin&tier=silver&clientTier=vip`);
    expect(created.status).toBe(201);
    expect(created.body.ignoredVars).toEqual(["customerTier"]);
    await repliesDone(page, 1);
    expect(await transcript(page)).toEqual([{ role: "assistant", text: "Hi Lin! As a silver member of Northwind Goods, how can I help?" }]);
    expect((await visitorSessions(DEMO_IDS.identityWidget, visitor))[0]!.template_vars.customerTier).toBe("silver");
  });

  it("without a token, the page's tier is dropped too: an anonymous visitor is a guest", async () => {
    const page = await device();
    const created = await openChat(page, "/identity?token=absent&clientTier=vip");
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ visitorId: null, ignoredVars: ["customerTier"] });
    await repliesDone(page, 1);
    expect(await transcript(page)).toEqual([{ role: "assistant", text: "Hi there! As a guest member of Northwind Goods, how can I help?" }]);
  });
});

describe("requireIdentity", () => {
  it("without a token: 401 identity_required, the visitor is told, no session; with a valid one the chat opens", async () => {
    const before = await sessionCount(DEMO_IDS.membersWidget);
    const page = await device();
    const refused = await openChat(page, "/members?token=absent");
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("identity_required");
    await expect.poll(() => shadow(page).getByRole("alert").textContent()).toBe(IDENTITY_FAILED);
    expect(await sessionCount(DEMO_IDS.membersWidget)).toBe(before);

    const member = await device();
    const visitor = newVisitor();
    const opened = await openChat(member, `/members?visitor=${visitor}&name=Noor&tier=gold`);
    expect(opened.status).toBe(201);
    await repliesDone(member, 1);
    expect(await visitorSessions(DEMO_IDS.membersWidget, visitor)).toHaveLength(1);
  });
});

describe("a returning visitor", () => {
  it("finds their conversation on another device (a second browser context), and it goes on there", async () => {
    const visitor = newVisitor();
    const laptop = await device();
    expect((await openChat(laptop, `/identity?visitor=${visitor}&name=Ada`)).status).toBe(201);
    await repliesDone(laptop, 1);
    await send(laptop, "/words 3");
    await repliesDone(laptop, 2);
    const onLaptop = await transcript(laptop);
    expect(onLaptop).toHaveLength(3);

    const phone = await device();
    const resumed = await openChat(phone, `/identity?visitor=${visitor}&name=Ada`);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ resumed: true, visitorId: visitor });
    await repliesDone(phone, 2);
    expect(await transcript(phone)).toEqual(onLaptop);
    await screenshot(phone, "identity-resumed");

    await send(phone, "/words 2");
    await repliesDone(phone, 3);
    expect(await visitorSessions(DEMO_IDS.identityWidget, visitor)).toHaveLength(1);
    // Back on the laptop, a reload (which reopens the panel it left open) shows what was said on the phone.
    await laptop.reload();
    await repliesDone(laptop, 3);
    expect((await transcript(laptop)).at(-2)).toEqual({ role: "user", text: "/words 2" });
  });

  it("another visitor signing in on the same browser does not get the first one's conversation", async () => {
    const first = newVisitor();
    const second = newVisitor();
    const page = await device();
    await openChat(page, `/identity?visitor=${first}&name=Ada`);
    await repliesDone(page, 1);
    await send(page, "/words 2");
    await repliesDone(page, 2);

    const created = await openChat(page, `/identity?visitor=${second}&name=Bo`);
    expect(created.status).toBe(201);
    expect(created.body.visitorId).toBe(second);
    await repliesDone(page, 1);
    expect(await transcript(page)).toEqual([{ role: "assistant", text: "Hi Bo! As a gold member of Northwind Goods, how can I help?" }]);
  });
});
