import type { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { z } from "zod";
import type { AppEnv } from "../env";
import { describeInternalApi } from "./openapi-internal";
import { describeWidgetApi } from "./openapi-widget";

/** Where the document and the interactive reference are served. */
export const OPENAPI_PATH = "/openapi.json";
export const DOCS_PATH = "/docs";

/** The document's `info` and top-level settings. */
export const OPENAPI_INFO: Parameters<OpenAPIHono["getOpenAPI31Document"]>[0] = {
  openapi: "3.1.0",
  info: {
    title: "parley",
    version: "0.1.0",
    description:
      "The widget API (a page's chat widget, with its public key and session tokens) and the merchant's admin API " +
      "(`/v1/admin`, admin keys). Every error is `{ error: { code, message, details? } }`.",
  },
  tags: [
    { name: "Widget", description: "Called by the chat widget in the merchant's pages" },
    { name: "Tenants", description: "Platform key only: tenants and their first keys" },
    { name: "Keys", description: "A tenant's admin keys" },
    { name: "Templates", description: "Agents: instructions, model, flow, tools" },
    { name: "Widgets", description: "Embeds: public key, allowed origins, rate limits" },
    { name: "Sessions", description: "Conversations, with transcripts and per-turn metrics" },
    { name: "Usage", description: "Tokens, turns and sessions per widget and day" },
    { name: "Internal", description: "Service key only: the voice bot's side of a session's channel" },
    { name: "Health", description: "Probes" },
    { name: "Docs", description: "This document and its reference" },
  ],
};

/**
 * Describes the whole app in its OpenAPI registry (the admin routes register themselves; the
 * widget API and health are added here) and serves `GET /openapi.json` (OpenAPI 3.1) and
 * `GET /docs` (an interactive reference reading it).
 */
export function serveApiDocs(app: OpenAPIHono<AppEnv>): void {
  const registry = app.openAPIRegistry;
  registry.registerComponent("securitySchemes", "tenantKey", {
    type: "http",
    scheme: "bearer",
    description: "A tenant's admin key, `sk_<env>_…`",
  });
  registry.registerComponent("securitySchemes", "platformKey", {
    type: "http",
    scheme: "bearer",
    description: "The platform key (`ADMIN_API_KEY`): creates tenants and mints their keys",
  });
  describeWidgetApi(registry);
  describeInternalApi(registry);
  registry.registerPath({
    method: "get",
    path: OPENAPI_PATH,
    tags: ["Docs"],
    summary: "This OpenAPI 3.1 document",
    responses: { 200: { description: "The document", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } } },
  });
  registry.registerPath({
    method: "get",
    path: DOCS_PATH,
    tags: ["Docs"],
    summary: "Interactive API reference",
    responses: { 200: { description: "An HTML page", content: { "text/html": { schema: z.string() } } } },
  });
  app.doc31(OPENAPI_PATH, OPENAPI_INFO);
  app.get(DOCS_PATH, Scalar({ url: OPENAPI_PATH, pageTitle: "parley API" }));
}
