import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { chatSessions } from "../../src/db/schema";
import type { ErrorBody } from "../../src/errors";
import { FAKE_TURNSTILE } from "../support/turnstile-keys";
import { admin, adminJson, createTenant, templateBody } from "./support/admin";
import { CLIENT_IP, post, stores } from "./support/app";
import { createWidget, type Fixture } from "./support/fixtures";

const SITE_KEY = "0x4AAAAAAAtestsitekey";

const protectedWidget = () =>
  createWidget({ widget: { turnstileSiteKey: SITE_KEY, turnstileSecret: FAKE_TURNSTILE.secret } });

const open = (fixture: Fixture, extra: Record<string, unknown> = {}, env: Partial<Env> = {}) =>
  post("/v1/widget/session", { json: { publicKey: fixture.publicKey, ...extra }, env });

async function sessionsOf(widgetId: string) {
  return stores().db.select().from(chatSessions).where(eq(chatSessions.widgetId, widgetId));
}

async function refusal(res: Response, status: number) {
  expect(res.status).toBe(status);
  return ((await res.json()) as ErrorBody).error;
}

describe("Turnstile on session create", () => {
  it("without a token: 403 challenge_required with the site key the page renders the challenge with", async () => {
    const fixture = await protectedWidget();
    const error = await refusal((await open(fixture)).res, 403);
    expect(error.code).toBe("challenge_required");
    expect(error.details).toEqual({ siteKey: SITE_KEY });
    expect(await sessionsOf(fixture.widgetId)).toEqual([]);
  });

  it("a token Turnstile refuses: 403 challenge_failed, no session", async () => {
    const fixture = await protectedWidget();
    const error = await refusal((await open(fixture, { turnstileToken: "forged-token" })).res, 403);
    expect(error.code).toBe("challenge_failed");
    expect(error.details).toEqual({ siteKey: SITE_KEY, errorCodes: ["invalid-input-response"] });
    expect(await sessionsOf(fixture.widgetId)).toEqual([]);
  });

  it("a passing token opens the session; siteverify got the widget's secret, the token and the visitor's IP", async () => {
    const fixture = await protectedWidget();
    const { res } = await open(fixture, { turnstileToken: FAKE_TURNSTILE.passingToken });
    expect(res.status).toBe(201);
    expect(await sessionsOf(fixture.widgetId)).toHaveLength(1);
    const calls = (await (await fetch(`${inject("turnstileVerifyUrl").replace("/siteverify", "")}/__calls?response=${FAKE_TURNSTILE.passingToken}`)).json()) as Array<Record<string, string>>;
    expect(calls.at(-1)).toMatchObject({ secret: FAKE_TURNSTILE.secret, response: FAKE_TURNSTILE.passingToken, remoteip: CLIENT_IP });
  });

  it("Turnstile unreachable: 503 naming it, no session", async () => {
    const fixture = await protectedWidget();
    const { res } = await open(fixture, { turnstileToken: FAKE_TURNSTILE.passingToken }, { TURNSTILE_VERIFY_URL: "http://127.0.0.1:9/siteverify" } as Partial<Env>);
    const error = await refusal(res, 503);
    expect(error.details).toEqual({ store: "turnstile" });
    expect(await sessionsOf(fixture.widgetId)).toEqual([]);
  });

  it("a widget without Turnstile needs no token", async () => {
    const fixture = await createWidget();
    expect((await open(fixture)).res.status).toBe(201);
  });

  it("the admin API turns it on and off; the secret is never shown", async () => {
    const tenant = await createTenant();
    const template = await adminJson<{ id: string }>(admin("/templates", { key: tenant.key, json: templateBody() }));
    const created = await adminJson<Record<string, unknown>>(
      admin("/widgets", {
        key: tenant.key,
        json: { templateId: template.body.id, allowedOrigins: ["https://shop.example"], turnstile: { siteKey: SITE_KEY, secret: FAKE_TURNSTILE.secret } },
      }),
    );
    expect(created.status).toBe(201);
    expect(created.body.turnstileSiteKey).toBe(SITE_KEY);
    expect(JSON.stringify(created.body)).not.toContain(FAKE_TURNSTILE.secret);
    const widget = { publicKey: created.body.publicKey as string, widgetId: created.body.id as string, templateId: template.body.id };
    expect((await refusal((await open(widget)).res, 403)).code).toBe("challenge_required");

    const off = await adminJson<Record<string, unknown>>(admin(`/widgets/${widget.widgetId}`, { key: tenant.key, method: "PATCH", json: { turnstile: null } }));
    expect(off.status).toBe(200);
    expect(off.body.turnstileSiteKey).toBeNull();
    expect((await open(widget)).res.status).toBe(201);
  });
});
