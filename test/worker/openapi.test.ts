import { Validator } from "@seriousme/openapi-schema-validator";
import openApi31Schema from "@seriousme/openapi-schema-validator/schemas/v3.1/schema.json";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { call, post } from "./support/app";
import { admin, adminJson, createTemplateAndWidget, createTenant } from "./support/admin";
import { voiceCall } from "./support/service";
import { readChunks } from "./support/sse";

type SpecData = Exclude<Parameters<Validator["validate"]>[0], string>;

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }>; security?: unknown[] }>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

async function fetchDocument(): Promise<Doc> {
  const { res } = await call("/openapi.json");
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

/** The routes the app really serves, as OpenAPI path + method. */
function servedRoutes(): string[] {
  const routes = createApp().routes.filter((route) => route.method !== "ALL" && !route.path.includes("*"));
  return [...new Set(routes.map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:([A-Za-z_]+)/g, "{$1}")}`))].sort();
}

/** Checks a body against the schema the document gives for this route and status. */
function responseValidator(doc: Doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: "parley-openapi", components: doc.components }, "parley-openapi");
  return (path: string, method: string, status: number, body: unknown) => {
    const operation = doc.paths[path]?.[method];
    const schema = operation?.responses[String(status)]?.content?.["application/json"]?.schema;
    if (!schema) throw new Error(`${method} ${path} documents no JSON answer for ${status}`);
    // Component refs (#/components/schemas/X) resolve against the document registered above.
    const rooted = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"parley-openapi#/components/'));
    const validate = ajv.compile(rooted);
    const ok = validate(body);
    return { ok, errors: validate.errors };
  };
}

describe("OpenAPI", () => {
  it("every route the app serves is in the document, with its method; and nothing else is", async () => {
    const doc = await fetchDocument();
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .sort();
    const served = servedRoutes();
    expect(served.length).toBeGreaterThan(25);
    expect(served.filter((route) => !documented.includes(route)), "served but not documented").toEqual([]);
    expect(documented.filter((route) => !served.includes(route)), "documented but not served").toEqual([]);
  });

  it("every operation names its auth and documents error answers in the one error shape", async () => {
    const doc = await fetchDocument();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const name = `${method} ${path}`;
        if (path.startsWith("/v1/admin/tenants")) expect(operation.security, name).toEqual([{ platformKey: [] }]);
        else if (path.startsWith("/v1/admin/")) {
          expect(operation.security, name).toEqual([{ tenantKey: [] }]);
          expect(Object.keys(operation.responses), name).toEqual(expect.arrayContaining(["401", "403", "500", "503"]));
        } else if (path.startsWith("/v1/widget/session/")) expect(operation.security, name).toEqual([{ sessionToken: [] }]);
        else if (path.startsWith("/v1/internal/")) expect(operation.security, name).toEqual([{ serviceKey: [] }]);
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) >= 400) expect(response.content?.["application/json"]?.schema, `${name} ${status}`).toEqual({ $ref: "#/components/schemas/Error" });
        }
      }
    }
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["platformKey", "serviceKey", "sessionToken", "tenantKey"]);
    expect(doc.components.schemas).toHaveProperty("TemplateConfig");
  });

  it("is a valid OpenAPI 3.1 document (schema and references)", async () => {
    const doc = await fetchDocument();
    const validator = new Validator();
    // The validator reads its meta-schema from disk, which a Worker has not: hand it the same schema, compiled.
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addFormat("media-range", true);
    (validator as unknown as { ajvValidators: Record<string, unknown> }).ajvValidators["3.1"] = ajv.compile(openApi31Schema);
    const result = await validator.validate(doc as unknown as SpecData);
    expect(result.errors ?? null).toBeNull();
    expect(result.valid).toBe(true);
    // The check has teeth: a broken reference or a path without responses is caught.
    const broken = structuredClone(doc);
    broken.paths["/healthz"]!.get!.responses["200"]!.content!["application/json"]!.schema = { $ref: "#/components/schemas/Nope" };
    expect((await validator.validate(broken as unknown as SpecData)).valid).toBe(false);
    expect((await validator.validate({ openapi: "3.1.0", info: { title: "x", version: "1" }, paths: { "/x": { get: { responses: 5 } } } } as unknown as SpecData)).valid).toBe(false);
  });

  it("real answers match their documented schemas: admin, widget and health routes, errors included", async () => {
    const doc = await fetchDocument();
    const check = responseValidator(doc);
    const samples: Array<{ path: string; method: string; status: number; body: unknown }> = [];
    const sample = async (path: string, method: string, request: Promise<{ res: Response }>) => {
      const { res } = await request;
      const body = res.status === 204 ? null : await res.json();
      samples.push({ path, method, status: res.status, body });
      return body as Record<string, unknown>;
    };

    const tenant = await createTenant();
    const made = await createTemplateAndWidget(tenant, {
      tools: [{ name: "get_order", description: "Looks up an order.", request: { url: "https://api.shop.example/orders/{args.id}" } }],
      secrets: { TOKEN: "t" },
    });
    await sample("/v1/admin/templates/{id}", "get", admin(`/templates/${made.templateId}`, { key: tenant.key }));
    await sample("/v1/admin/templates", "get", admin("/templates", { key: tenant.key }));
    await sample("/v1/admin/templates/{id}", "patch", admin(`/templates/${made.templateId}`, { key: tenant.key, method: "PATCH", json: { name: "n" } }));
    await sample("/v1/admin/templates/{id}", "delete", admin(`/templates/${made.templateId}`, { key: tenant.key, method: "DELETE" }));
    await sample("/v1/admin/widgets/{id}", "get", admin(`/widgets/${made.widgetId}`, { key: tenant.key }));
    await sample("/v1/admin/widgets", "get", admin("/widgets", { key: tenant.key }));
    await sample("/v1/admin/widgets", "post", admin("/widgets", { key: tenant.key, json: { templateId: made.templateId, allowedOrigins: ["nope"] } }));
    await sample("/v1/admin/keys", "get", admin("/keys", { key: tenant.key }));
    await sample("/v1/admin/keys", "post", admin("/keys", { key: tenant.key, json: { name: "second" } }));
    await sample("/v1/admin/templates", "get", admin("/templates", { key: "" }));

    const created = await sample("/v1/widget/session", "post", post("/v1/widget/session", { json: { publicKey: made.publicKey } }));
    const session = { sessionId: created.sessionId as string, token: created.token as string };
    const turn = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m1", text: "hello" } });
    await readChunks(turn.res);
    await turn.settled();
    await sample("/v1/widget/session/{id}", "get", call(`/v1/widget/session/${session.sessionId}`, { token: session.token }));
    await sample("/v1/widget/session/{id}/cancel", "post", post(`/v1/widget/session/${session.sessionId}/cancel`, { token: session.token }));
    const voice = (action: "attach" | "detach" | "turn", json: unknown) => voiceCall(session.sessionId, action, json);
    await sample("/v1/internal/session/{id}/voice/attach", "post", voice("attach", { leadId: "lead-openapi" }));
    await sample("/v1/internal/session/{id}/voice/attach", "post", voice("attach", { leadId: "another-lead" }));
    await sample("/v1/internal/session/{id}/voice/detach", "post", voice("detach", { leadId: "lead-openapi" }));
    await sample("/v1/internal/session/{id}/voice/detach", "post", post(`/v1/internal/session/${session.sessionId}/voice/detach`, { json: { leadId: "x" } }));
    await sample("/v1/internal/session/{id}/voice/turn", "post", voice("turn", { id: "v1", text: "hello" }));
    await sample("/v1/widget/session/{id}/voice/end", "post", post(`/v1/widget/session/${session.sessionId}/voice/end`, { token: session.token }));
    await sample("/v1/admin/sessions", "get", admin("/sessions", { key: tenant.key }));
    await sample("/v1/admin/sessions/{id}", "get", admin(`/sessions/${session.sessionId}`, { key: tenant.key }));
    const day = new Date().toISOString().slice(0, 10);
    await sample("/v1/admin/usage", "get", admin(`/usage?from=${day}&to=${day}`, { key: tenant.key }));
    await sample("/v1/admin/sessions/{id}/end", "post", admin(`/sessions/${session.sessionId}/end`, { key: tenant.key, method: "POST" }));
    await sample("/v1/widget/session/{id}/end", "post", post(`/v1/widget/session/${session.sessionId}/end`, { token: session.token }));
    await sample("/v1/widget/session/{id}/message", "post", post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m2", text: "hi" } }));
    await sample("/v1/widget/session", "post", post("/v1/widget/session", { json: {} }));
    await sample("/healthz", "get", call("/healthz"));
    await sample("/readyz", "get", call("/readyz"));

    // The check has teeth: a body that is not the documented one fails.
    expect(check("/v1/admin/templates/{id}", "get", 200, { id: "x" }).ok).toBe(false);
    expect(check("/v1/admin/templates", "get", 401, { error: { message: "no code" } }).ok).toBe(false);
    const statuses = samples.map((s) => s.status);
    expect(statuses).toEqual(expect.arrayContaining([200, 201, 202, 400, 401, 409, 410]));
    for (const { path, method, status, body } of samples) {
      if (status === 204) continue;
      const { ok, errors } = check(path, method, status, body);
      expect({ route: `${method} ${path} ${status}`, errors: ok ? null : errors }).toEqual({ route: `${method} ${path} ${status}`, errors: null });
    }
  });

  it("GET /docs serves an interactive reference reading /openapi.json", async () => {
    const { res } = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("/openapi.json");
  });
});
