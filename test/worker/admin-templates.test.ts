import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { templates } from "../../src/db/schema";
import { post, stores } from "./support/app";
import { admin, adminJson, createTemplateAndWidget, createTenant, templateBody } from "./support/admin";
import { readChunks } from "./support/sse";

type Template = { id: string; name: string; version: number; secrets: string[]; instructions: string; [key: string]: unknown };
type ErrorBody = { error: { code: string; message: string; details?: unknown } };

const storedTemplate = async (id: string) => (await stores().db.select().from(templates).where(eq(templates.id, id)))[0];

const httpTool = {
  name: "get_order",
  description: "Looks up an order.",
  inputSchema: { type: "object", properties: { orderId: { type: "string" } }, required: ["orderId"] },
  request: { method: "GET", url: "https://api.shop.example/orders/{args.orderId}", headers: { authorization: "Bearer {secret.SHOP_TOKEN}" } },
};

describe("admin templates", () => {
  it("creates a template with defaults applied, an ETag, and secrets answered by name only", async () => {
    const tenant = await createTenant();
    const created = await adminJson<Template>(
      admin("/templates", { key: tenant.key, json: templateBody({ secrets: { SHOP_TOKEN: "s3cr3t-value" }, tools: [httpTool] }) }),
    );
    expect(created.status).toBe(201);
    expect(created.headers.get("etag")).toBe('"1"');
    expect(created.body).toMatchObject({ name: "Support agent", version: 1, secrets: ["SHOP_TOKEN"], greeting: null, flow: null, mcpServers: [] });
    expect(created.body.tools).toEqual([expect.objectContaining({ name: "get_order", timeoutMs: 10_000, maxResponseBytes: 65_536 })]);
    expect(JSON.stringify(created.body)).not.toContain("s3cr3t-value");
    expect((await storedTemplate(created.body.id))?.secrets).toEqual({ SHOP_TOKEN: "s3cr3t-value" });

    const got = await adminJson<Template>(admin(`/templates/${created.body.id}`, { key: tenant.key }));
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);
    expect(JSON.stringify(got.body)).not.toContain("s3cr3t-value");
  });

  it("400 with the zod issues for a bad config, and nothing is written", async () => {
    const tenant = await createTenant();
    const bad = await adminJson<ErrorBody>(
      admin("/templates", {
        key: tenant.key,
        json: templateBody({ model: { provider: "nope", modelId: "" }, tools: [{ ...httpTool, name: "go_to_x" }] }),
      }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    const paths = (bad.body.error.details as Array<{ path: unknown[] }>).map((issue) => issue.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["model.provider", "model.modelId"]));
    const reserved = await adminJson<ErrorBody>(admin("/templates", { key: tenant.key, json: templateBody({ tools: [{ ...httpTool, name: "go_to_x" }] }) }));
    expect(reserved.status).toBe(400);
    expect(reserved.body.error.message).toContain("reserved");
    const notJson = await adminJson<ErrorBody>(admin("/templates", { key: tenant.key, method: "POST", headers: { "content-type": "application/json" } }));
    expect(notJson.status).toBe(400);
    const list = await adminJson<{ items: Template[] }>(admin("/templates", { key: tenant.key }));
    expect(list.body.items).toEqual([]);
  });

  it("PATCH replaces the fields given, merges secrets (null removes), bumps the version and the ETag", async () => {
    const tenant = await createTenant();
    const { body: created } = await adminJson<Template>(admin("/templates", { key: tenant.key, json: templateBody({ secrets: { A: "1", B: "2" } }) }));
    const patched = await adminJson<Template>(
      admin(`/templates/${created.id}`, { key: tenant.key, method: "PATCH", json: { instructions: "Be terse.", secrets: { B: null, C: "3" } } }),
    );
    expect(patched.status).toBe(200);
    expect(patched.headers.get("etag")).toBe('"2"');
    expect(patched.body).toMatchObject({ version: 2, instructions: "Be terse.", name: "Support agent", secrets: ["A", "C"] });
    expect((await storedTemplate(created.id))?.secrets).toEqual({ A: "1", C: "3" });
  });

  it("If-Match: the current ETag writes; a stale one is 412 precondition_failed and changes nothing", async () => {
    const tenant = await createTenant();
    const { body: created, headers } = await adminJson<Template>(admin("/templates", { key: tenant.key, json: templateBody() }));
    const etag = headers.get("etag")!;
    const first = await adminJson<Template>(
      admin(`/templates/${created.id}`, { key: tenant.key, method: "PATCH", json: { name: "First" }, headers: { "if-match": etag } }),
    );
    expect(first.status).toBe(200);
    const stale = await adminJson<ErrorBody>(
      admin(`/templates/${created.id}`, { key: tenant.key, method: "PATCH", json: { name: "Second" }, headers: { "if-match": etag } }),
    );
    expect(stale).toMatchObject({ status: 412, body: { error: { code: "precondition_failed" } } });
    expect((await storedTemplate(created.id))?.name).toBe("First");
    const garbage = await admin(`/templates/${created.id}`, { key: tenant.key, method: "PATCH", json: { name: "x" }, headers: { "if-match": "nope" } });
    expect(garbage.res.status).toBe(412);
  });

  it("a PATCH that would make the template invalid is 400 and changes nothing", async () => {
    const tenant = await createTenant();
    const { body: created } = await adminJson<Template>(admin("/templates", { key: tenant.key, json: templateBody() }));
    const bad = await adminJson<ErrorBody>(
      admin(`/templates/${created.id}`, {
        key: tenant.key,
        method: "PATCH",
        json: { flow: { initialNode: "missing", nodes: { a: { transitions: [{ to: "b", description: "x" }] } } } },
      }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('no node named "missing"');
    expect((await storedTemplate(created.id))?.version).toBe(1);
  });

  it("list pages with limit and an opaque cursor, newest first; limit over 100 is 400", async () => {
    const tenant = await createTenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await adminJson<Template>(admin("/templates", { key: tenant.key, json: templateBody({ name: `t${i}` }) }))).body.id);
    const first = await adminJson<{ items: Template[]; nextCursor: string | null }>(admin("/templates?limit=2", { key: tenant.key }));
    expect(first.body.items.map((t) => t.name)).toEqual(["t4", "t3"]);
    const second = await adminJson<{ items: Template[]; nextCursor: string | null }>(
      admin(`/templates?limit=2&cursor=${first.body.nextCursor}`, { key: tenant.key }),
    );
    expect(second.body.items.map((t) => t.name)).toEqual(["t2", "t1"]);
    const last = await adminJson<{ items: Template[]; nextCursor: string | null }>(
      admin(`/templates?limit=2&cursor=${second.body.nextCursor}`, { key: tenant.key }),
    );
    expect(last.body).toMatchObject({ items: [expect.objectContaining({ name: "t0" })], nextCursor: null });
    expect((await admin("/templates?limit=101", { key: tenant.key })).res.status).toBe(400);
    expect((await admin("/templates?cursor=bogus", { key: tenant.key })).res.status).toBe(400);
  });

  it("delete is refused with 409 template_in_use naming the widgets; once they are gone it deletes", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant);
    const refused = await adminJson<ErrorBody>(admin(`/templates/${made.templateId}`, { key: tenant.key, method: "DELETE" }));
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("template_in_use");
    expect(refused.body.error.message).toContain(made.widgetId);
    expect(refused.body.error.details).toEqual({ widgets: [{ id: made.widgetId, publicKey: made.publicKey }] });
    expect(await storedTemplate(made.templateId)).toBeDefined();

    expect((await admin(`/widgets/${made.widgetId}`, { key: tenant.key, method: "DELETE" })).res.status).toBe(204);
    expect((await admin(`/templates/${made.templateId}`, { key: tenant.key, method: "DELETE" })).res.status).toBe(204);
    expect(await storedTemplate(made.templateId)).toBeUndefined();
    expect((await admin(`/templates/${made.templateId}`, { key: tenant.key })).res.status).toBe(404);
  });

  it("a change applies to the next turn of a session already open", async () => {
    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant);
    const { res } = await post("/v1/widget/session", { json: { publicKey: made.publicKey } });
    const session = (await res.json()) as { sessionId: string; token: string };
    const turn = async (id: string) => {
      const call = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id, text: "hello" } });
      const chunks = await readChunks(call.res);
      await call.settled();
      return chunks;
    };
    await turn("m1");
    await adminJson(admin(`/templates/${made.templateId}`, { key: tenant.key, method: "PATCH", json: { model: { provider: "scripted", modelId: "parley-dev-2" } } }));
    await turn("m2");
    const transcript = await adminJson<{ turns: Array<{ model: string }> }>(admin(`/sessions/${session.sessionId}`, { key: tenant.key }));
    expect(transcript.body.turns.map((t) => t.model)).toEqual(["parley-dev", "parley-dev-2"]);
  });
});
