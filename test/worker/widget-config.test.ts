import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { chatSessions } from "../../src/db/schema";
import type { ErrorBody } from "../../src/errors";
import { call, ORIGIN, post, stores } from "./support/app";
import { createWidget } from "./support/fixtures";

const config = (publicKey: string, origin = ORIGIN) => call(`/v1/widget/config?publicKey=${encodeURIComponent(publicKey)}`, { headers: { origin } });

describe("GET /v1/widget/config", () => {
  it("tells an allowed page it may show the widget, cacheably per origin, without a session or a rate-limit count", async () => {
    // One session per IP and hour: had the config calls counted, the create below would be refused.
    const fixture = await createWidget({ widget: { sessionsPerIpHour: 1, turnstileSiteKey: "0x4AAAsite", turnstileSecret: "s" } });
    for (let i = 0; i < 3; i++) {
      const { res } = await config(fixture.publicKey);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ turnstileSiteKey: "0x4AAAsite" });
      expect(res.headers.get("cache-control")).toBe("public, max-age=60");
      expect(res.headers.get("vary")).toContain("Origin");
    }
    expect(await stores().db.select().from(chatSessions).where(eq(chatSessions.widgetId, fixture.widgetId))).toEqual([]);
    const create = await post("/v1/widget/session", { json: { publicKey: fixture.publicKey } });
    expect(((await create.res.json()) as ErrorBody).error.code).toBe("challenge_required");
  });

  it("403 origin_not_allowed naming the origin for a page off the allow-list; 404 for an unknown key; 400 without one", async () => {
    const fixture = await createWidget();
    const refused = await config(fixture.publicKey, "https://evil.example");
    expect(refused.res.status).toBe(403);
    const { error } = (await refused.res.json()) as ErrorBody;
    expect(error.code).toBe("origin_not_allowed");
    expect(error.message).toContain("https://evil.example");
    expect((await config("pk_nobody")).res.status).toBe(404);
    expect((await call("/v1/widget/config", { headers: { origin: ORIGIN } })).res.status).toBe(400);
  });
});
