import { env } from "cloudflare:test";
import type { OptionalBindings } from "../../../src/config";
import { call, type Call } from "./app";

/** The platform key of the test run (`ADMIN_API_KEY`). */
export const PLATFORM_KEY = env.ADMIN_API_KEY;

export interface TestTenant {
  tenantId: string;
  /** A tenant admin key, `sk_dev_…`. */
  key: string;
  keyId: string;
}

/** One admin API request with `key` as the bearer credential. */
export function admin(
  path: string,
  { key, json, method, headers, env }: { key: string; json?: unknown; method?: string; headers?: Record<string, string>; env?: Partial<Env> & OptionalBindings },
): Promise<Call> {
  return call(`/v1/admin${path}`, {
    token: key,
    ...(json === undefined ? {} : { json }),
    ...(method ? { method } : {}),
    ...(headers ? { headers } : {}),
    ...(env ? { env } : {}),
  });
}

/** The JSON body of an admin answer, with its status. */
export async function adminJson<T = Record<string, unknown>>(request: Promise<Call>): Promise<{ status: number; body: T; headers: Headers }> {
  const { res } = await request;
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

/** A fresh tenant of its own, through the platform route, with its first key. */
export async function createTenant(name = "Test merchant"): Promise<TestTenant> {
  const { status, body } = await adminJson<{ tenant: { id: string }; key: { key: string; id: string } }>(
    admin("/tenants", { key: PLATFORM_KEY, json: { name } }),
  );
  if (status !== 201) throw new Error(`tenant create failed: ${status} ${JSON.stringify(body)}`);
  return { tenantId: body.tenant.id, key: body.key.key, keyId: body.key.id };
}

/** A template config the API accepts: scripted model, LLM greeting. */
export function templateBody(overrides: Record<string, unknown> = {}) {
  return {
    name: "Support agent",
    instructions: "You are the assistant of {shopName}.",
    initialTurnInstruction: "Greet the visitor.",
    model: { provider: "scripted", modelId: "parley-dev" },
    variables: [{ name: "shopName", default: "Test Shop" }],
    ...overrides,
  };
}

/** Creates a template and a widget for `https://shop.example` through the API. */
export async function createTemplateAndWidget(tenant: TestTenant, template: Record<string, unknown> = {}, widget: Record<string, unknown> = {}) {
  const t = await adminJson<{ id: string; version: number }>(admin("/templates", { key: tenant.key, json: templateBody(template) }));
  if (t.status !== 201) throw new Error(`template create failed: ${t.status} ${JSON.stringify(t.body)}`);
  const w = await adminJson<{ id: string; publicKey: string; version: number }>(
    admin("/widgets", { key: tenant.key, json: { templateId: t.body.id, allowedOrigins: ["https://shop.example"], ...widget } }),
  );
  if (w.status !== 201) throw new Error(`widget create failed: ${w.status} ${JSON.stringify(w.body)}`);
  return { templateId: t.body.id, widgetId: w.body.id, publicKey: w.body.publicKey };
}
