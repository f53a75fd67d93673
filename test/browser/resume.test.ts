/**
 * A reload in the middle of a reply, in a real Chromium on the demo shop: the reloaded page
 * picks the reply up from the server (`GET /session/:id/stream`) and shows it to its end,
 * nothing in it twice and nothing missing.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEMO_IDS } from "../../dev/seed";
import { DEV_MODEL_PREFIX } from "../../src/model/scripts";
import { partialReply, repliesDone, screenshot, send, shadow, transcript, useSuite } from "./support";

const suite = useSuite();

/** About eight seconds at the dev model's 40 ms per word. */
const WORDS = 200;

describe("a reply in flight over a reload", () => {
  it("resumes after the reload and completes, with no text duplicated or lost", async () => {
    // A widget of its own (the demo's static template: a stored greeting, the dev model), so no other file's counts move.
    const publicKey = `pk_test_${randomBytes(6).toString("hex")}`;
    await suite.db.query(
      `insert into widgets (id, tenant_id, template_id, public_key, allowed_origins) values ($1, 'tenant_browser', $2, $3, $4)`,
      [randomUUID(), DEMO_IDS.staticTemplate, publicKey, [suite.shopUrl]],
    );
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${suite.shopUrl}/widget?key=${publicKey}`);
    await page.getByRole("button", { name: "Open chat" }).click();
    await repliesDone(page, 1);
    const [greeting] = await transcript(page);

    await send(page, `/words ${WORDS}`);
    await page.waitForFunction(() => {
      const bodies = document.querySelector("parley-chat")?.shadowRoot?.querySelectorAll(".message.assistant .body");
      return bodies && bodies.length === 2 && (bodies[1] as HTMLElement).innerText.includes("word5");
    });
    const resumes: number[] = [];
    page.on("response", (res) => res.url().endsWith("/stream") && resumes.push(res.status()));
    await page.reload();

    // Streaming again after the reload: part of the reply shows before its end arrives.
    const partial = await partialReply(page);
    expect(partial).not.toContain(`word${WORDS}`);
    await screenshot(page, "resume-01-mid-reply");
    await repliesDone(page, 2);
    const expected = `${DEV_MODEL_PREFIX} ${Array.from({ length: WORDS }, (_, i) => `word${i + 1}`).join(" ")}`;
    expect(await transcript(page)).toEqual([greeting, { role: "user", text: `/words ${WORDS}` }, { role: "assistant", text: expected }]);
    expect(resumes).toEqual([200]);
    // Nothing marks it stopped or cut, and the composer works again.
    expect(await shadow(page).locator(".mark").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Send" }).isVisible()).toBe(true);
    await screenshot(page, "resume-02-complete");

    // And a reload after the end shows the stored reply once, with no stream to resume.
    await page.reload();
    await expect.poll(async () => (await transcript(page)).length).toBe(3);
    expect((await transcript(page)).at(-1)).toEqual({ role: "assistant", text: expected });
    expect(resumes).toEqual([200]);
    await context.close();
  });
});
