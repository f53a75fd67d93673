import { describe, expect, it } from "vitest";
import { checkAllowedOrigins } from "../../src/admin/origins";
import { post } from "./support/app";
import { admin, adminJson, createTemplateAndWidget, createTenant, templateBody } from "./support/admin";
import { readChunks } from "./support/sse";

type Widget = { id: string; publicKey: string; templateId: string; allowedOrigins: string[]; active: boolean; version: number };
type ErrorBody = { error: { code: string; message: string; details?: unknown } };

const openSession = (publicKey: string) => post("/v1/widget/session", { json: { publicKey } });

describe("admin widgets", () => {
  it("creates a widget with a server-generated public key (pk_ + 32 random bytes, base64url) that opens sessions", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant);
    expect(made.publicKey).toMatch(/^pk_[A-Za-z0-9_-]{43}$/);
    const widget = await adminJson<Widget>(admin(`/widgets/${made.widgetId}`, { key: tenant.key }));
    expect(widget.body).toMatchObject({ templateId: made.templateId, allowedOrigins: ["https://shop.example"], active: true, version: 1 });
    expect(widget.body).toMatchObject({ sessionsPerIpHour: 60, messagesPerIpHour: 600 });
    expect((await openSession(made.publicKey)).res.status).toBe(201);
    const other = await createTemplateAndWidget(tenant);
    expect(other.publicKey).not.toBe(made.publicKey);
  });

  it("origins are validated as origins (scheme, host, port; no path); http:// other than localhost only in development", async () => {
    const tenant = await createTenant();
    const { body: template } = await adminJson<{ id: string }>(admin("/templates", { key: tenant.key, json: templateBody() }));
    const create = (allowedOrigins: string[]) => adminJson<ErrorBody>(admin("/widgets", { key: tenant.key, json: { templateId: template.id, allowedOrigins } }));
    for (const bad of ["https://shop.example/", "https://shop.example/path", "shop.example", "ftp://shop.example", "https://shop.example?x=1"]) {
      const answer = await create([bad]);
      expect(answer.status, bad).toBe(400);
      expect(answer.body.error.details).toEqual([expect.objectContaining({ path: ["allowedOrigins", 0] })]);
    }
    expect((await create(["https://shop.example", "https://shop.example:8443", "http://localhost:8787"])).status).toBe(201);
    // The test Worker runs as development, where plain-HTTP hosts are allowed.
    expect((await create(["http://shop.example"])).status).toBe(201);
    // A preview or production Worker refuses stores on loopback, so the rule is checked directly there.
    for (const environment of ["preview", "production"] as const) {
      expect(checkAllowedOrigins(["http://shop.example"], environment)).toEqual([
        { path: ["allowedOrigins", 0], message: expect.stringContaining("outside development") },
      ]);
      expect(checkAllowedOrigins(["http://localhost:3000", "http://127.0.0.1:3000", "http://[::1]:3000", "https://shop.example"], environment)).toEqual([]);
    }
  });

  it("a template of another tenant (or none) is 404 template_not_found, and no widget is made", async () => {
    const mine = await createTenant();
    const theirs = await createTenant();
    const { body: foreign } = await adminJson<{ id: string }>(admin("/templates", { key: theirs.key, json: templateBody() }));
    const answer = await adminJson<ErrorBody>(admin("/widgets", { key: mine.key, json: { templateId: foreign.id } }));
    expect(answer).toMatchObject({ status: 404, body: { error: { code: "template_not_found" } } });
    expect((await adminJson<{ items: unknown[] }>(admin("/widgets", { key: mine.key }))).body.items).toEqual([]);
  });

  it("PATCH changes template, origins, limits and active; If-Match guards it", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant);
    const { body: next } = await adminJson<{ id: string }>(admin("/templates", { key: tenant.key, json: templateBody({ name: "next" }) }));
    const patched = await adminJson<Widget>(
      admin(`/widgets/${made.widgetId}`, {
        key: tenant.key,
        method: "PATCH",
        json: { templateId: next.id, allowedOrigins: ["https://other.example"], sessionsPerIpHour: 5 },
        headers: { "if-match": '"1"' },
      }),
    );
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ templateId: next.id, allowedOrigins: ["https://other.example"], sessionsPerIpHour: 5, version: 2 });
    expect(patched.headers.get("etag")).toBe('"2"');
    // The old origin is refused now.
    expect((await openSession(made.publicKey)).res.status).toBe(403);

    const stale = await adminJson<ErrorBody>(
      admin(`/widgets/${made.widgetId}`, { key: tenant.key, method: "PATCH", json: { active: false }, headers: { "if-match": '"1"' } }),
    );
    expect(stale).toMatchObject({ status: 412, body: { error: { code: "precondition_failed" } } });
    const inactive = await adminJson<Widget>(admin(`/widgets/${made.widgetId}`, { key: tenant.key, method: "PATCH", json: { active: false } }));
    expect(inactive.body.active).toBe(false);
    expect((await adminJson(admin(`/widgets/${made.widgetId}`, { key: tenant.key, method: "PATCH", json: { sessionsPerIpHour: -1 } }))).status).toBe(400);
  });

  it("rotating the public key: the old key opens no session, the new one does, and existing sessions keep working", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant);
    const { res } = await openSession(made.publicKey);
    const session = (await res.json()) as { sessionId: string; token: string };

    const rotated = await adminJson<Widget>(admin(`/widgets/${made.widgetId}/rotate-key`, { key: tenant.key, method: "POST" }));
    expect(rotated.status).toBe(200);
    expect(rotated.body.publicKey).toMatch(/^pk_[A-Za-z0-9_-]{43}$/);
    expect(rotated.body.publicKey).not.toBe(made.publicKey);

    const old = await openSession(made.publicKey);
    expect(old.res.status).toBe(404);
    expect((await openSession(rotated.body.publicKey)).res.status).toBe(201);

    const turn = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m1", text: "still here?" } });
    expect(turn.res.status).toBe(200);
    const chunks = await readChunks(turn.res);
    await turn.settled();
    expect(chunks.find((chunk) => chunk.type === "data-turn-end")).toMatchObject({ data: { status: "completed" } });
  });

  it("delete removes the widget with its sessions; the public key then opens nothing", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant);
    const { res } = await openSession(made.publicKey);
    const session = (await res.json()) as { sessionId: string };
    expect((await admin(`/widgets/${made.widgetId}`, { key: tenant.key, method: "DELETE" })).res.status).toBe(204);
    expect((await admin(`/widgets/${made.widgetId}`, { key: tenant.key })).res.status).toBe(404);
    expect((await admin(`/sessions/${session.sessionId}`, { key: tenant.key })).res.status).toBe(404);
    expect((await openSession(made.publicKey)).res.status).toBe(404);
  });

  it("list filters by template and pages", async () => {
    const tenant = await createTenant();
    const a = await createTemplateAndWidget(tenant);
    await createTemplateAndWidget(tenant);
    const byTemplate = await adminJson<{ items: Widget[] }>(admin(`/widgets?templateId=${a.templateId}`, { key: tenant.key }));
    expect(byTemplate.body.items.map((w) => w.id)).toEqual([a.widgetId]);
    const page = await adminJson<{ items: Widget[]; nextCursor: string }>(admin("/widgets?limit=1", { key: tenant.key }));
    expect(page.body.items).toHaveLength(1);
    const next = await adminJson<{ items: Widget[]; nextCursor: string | null }>(admin(`/widgets?limit=1&cursor=${page.body.nextCursor}`, { key: tenant.key }));
    expect(next.body).toMatchObject({ items: [expect.objectContaining({ id: a.widgetId })], nextCursor: null });
  });
});
