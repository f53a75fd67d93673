import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { post } from "./support/app";
import { admin, adminJson, createTemplateAndWidget, createTenant, templateBody } from "./support/admin";

/** A valid body for each admin write, so only the tenant scope can refuse it. */
const BODIES: Record<string, unknown> = {
  "PATCH /templates/:id": { name: "taken over" },
  "PATCH /widgets/:id": { active: false },
};

describe("tenant isolation", () => {
  it("every admin route with an id answers 404 for another tenant's object, exactly as for an id that does not exist", async () => {
    const mine = await createTenant();
    const theirs = await createTenant();
    const their = await createTemplateAndWidget(theirs);
    const { res } = await post("/v1/widget/session", { json: { publicKey: their.publicKey } });
    const theirSession = ((await res.json()) as { sessionId: string }).sessionId;
    const foreignIds: Record<string, string> = { templates: their.templateId, widgets: their.widgetId, sessions: theirSession, keys: theirs.keyId };

    const routes = createApp()
      .routes.filter((route) => route.method !== "ALL" && route.path.startsWith("/v1/admin/") && route.path.includes(":id"))
      .map((route) => ({ method: route.method, path: route.path.slice("/v1/admin".length) }));
    const unique = [...new Map(routes.map((route) => [`${route.method} ${route.path}`, route])).values()];
    // templates 3, widgets 4, sessions 3, keys 1 today; a new route joins the matrix by itself.
    expect(unique.length).toBeGreaterThanOrEqual(11);

    for (const { method, path } of unique) {
      const resource = path.split("/")[1]!;
      const foreignId = foreignIds[resource];
      if (!foreignId) throw new Error(`no foreign id for ${method} ${path}: add its resource to this test`);
      const name = `${method} ${path}`;
      const body = BODIES[name];
      const ask = (id: string) =>
        adminJson<{ error: { code: string; message: string } }>(
          admin(path.replace(":id", id), { key: mine.key, method, ...(body === undefined ? {} : { json: body }) }),
        );
      const foreign = await ask(foreignId);
      const missing = await ask(crypto.randomUUID());
      expect(foreign.status, name).toBe(404);
      expect(foreign.body, name).toEqual(missing.body);
    }

    // Nothing of theirs changed: their key works, their widget opens sessions, their objects are intact.
    const theirTemplate = await adminJson<{ name: string; version: number }>(admin(`/templates/${their.templateId}`, { key: theirs.key }));
    expect(theirTemplate).toMatchObject({ status: 200, body: { name: "Support agent", version: 1 } });
    const theirWidget = await adminJson<{ active: boolean; publicKey: string }>(admin(`/widgets/${their.widgetId}`, { key: theirs.key }));
    expect(theirWidget.body).toMatchObject({ active: true, publicKey: their.publicKey });
    const theirTranscript = await adminJson<{ status: string }>(admin(`/sessions/${theirSession}`, { key: theirs.key }));
    expect(theirTranscript.body.status).toBe("active");
    expect((await post("/v1/widget/session", { json: { publicKey: their.publicKey } })).res.status).toBe(201);
  });

  it("lists, filters and references never reach another tenant's objects", async () => {
    const mine = await createTenant();
    const theirs = await createTenant();
    const their = await createTemplateAndWidget(theirs);
    await post("/v1/widget/session", { json: { publicKey: their.publicKey } });
    await adminJson(admin("/templates", { key: mine.key, json: templateBody() }));

    for (const path of ["/templates", "/widgets", "/sessions", `/widgets?templateId=${their.templateId}`, `/sessions?widgetId=${their.widgetId}`]) {
      const { status, body } = await adminJson<{ items: Array<{ id: string }> }>(admin(path, { key: mine.key }));
      expect(status, path).toBe(200);
      expect(body.items.map((item) => item.id), path).not.toEqual(expect.arrayContaining([their.templateId, their.widgetId]));
    }
    const keys = await adminJson<{ items: Array<{ id: string }> }>(admin("/keys", { key: mine.key }));
    expect(keys.body.items.map((k) => k.id)).toEqual([mine.keyId]);
    const day = new Date().toISOString().slice(0, 10);
    const usage = await adminJson<{ items: unknown[] }>(admin(`/usage?from=${day}&to=${day}&widgetId=${their.widgetId}`, { key: mine.key }));
    expect(usage.body.items).toEqual([]);

    const widgetOnTheirTemplate = await adminJson<{ error: { code: string } }>(admin("/widgets", { key: mine.key, json: { templateId: their.templateId } }));
    expect(widgetOnTheirTemplate).toMatchObject({ status: 404, body: { error: { code: "template_not_found" } } });
  });
});
