import { describe, expect, it } from "vitest";
import { call } from "./support/app";

/** Bindings a deployed Worker could run with (no published secret, no local store): config accepts them outside development. */
const DEPLOYED_BINDINGS = {
  DATABASE_URL: "postgresql://parley:secret@db.parley-deploy.example/parley",
  NEON_LOCAL_ENDPOINT: "",
  UPSTASH_REDIS_REST_URL: "https://redis.parley-deploy.example",
  UPSTASH_REDIS_REST_TOKEN: "deployed-upstash-token",
  SESSION_TOKEN_SECRET: "a-deployed-session-token-secret-of-32-bytes-or-more",
  ADMIN_API_KEY: "deployed-admin-key-0123456789",
  SERVICE_API_KEY: "deployed-service-key-0123456789",
  REDIS_KEY_PREFIX: "parley-pr-12",
} as const;

/** The nonce the page's CSP allows, and every nonce its inline scripts and styles carry. */
function nonces(res: Response, html: string) {
  const policy = res.headers.get("content-security-policy") ?? "";
  return { allowed: /script-src 'nonce-([^']+)'/.exec(policy)?.[1], used: [...html.matchAll(/ nonce="([^"]+)"/g)].map((m) => m[1]) };
}

describe("the demo shop on the Worker", () => {
  it("GET /demo (development) is a shop page embedding the Worker's own /widget.js as a merchant would, under a strict CSP", async () => {
    const { res } = await call("/demo");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain('<script src="http://parley.test/widget.js" data-public-key="pk_local_demo"');
    const policy = res.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'nonce-");
    expect(policy).toContain("connect-src http://parley.test");
    const { allowed, used } = nonces(res, html);
    expect(used.length).toBeGreaterThanOrEqual(3);
    expect(new Set(used)).toEqual(new Set([allowed]));
    // Links to the other demo widgets stay under /demo.
    expect(html).toContain('href="/demo/static"');
    expect(html).toContain('href="/demo/tools"');
  });

  it("each page has a fresh nonce", async () => {
    const first = await call("/demo");
    const second = await call("/demo");
    expect(nonces(first.res, await first.res.text()).allowed).not.toEqual(nonces(second.res, await second.res.text()).allowed);
  });

  it("GET /demo/static and /demo/tools embed their widgets; a preview serves them too", async () => {
    const statics = await call("/demo/static");
    expect(statics.res.status).toBe(200);
    expect(await statics.res.text()).toContain('data-public-key="pk_local_static"');
    const tools = await call("/demo/tools", { env: { ENVIRONMENT: "preview", ...DEPLOYED_BINDINGS } });
    expect(tools.res.status).toBe(200);
    expect(await tools.res.text()).toContain('<script src="http://parley.test/widget.js" data-public-key="pk_local_tools"');
  });

  it("production serves no demo shop: 404 not_found on every demo path", async () => {
    for (const path of ["/demo", "/demo/static", "/demo/tools"]) {
      const { res } = await call(path, { env: { ENVIRONMENT: "production", ...DEPLOYED_BINDINGS } });
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toEqual({ error: { code: "not_found", message: expect.any(String) } });
    }
    // The same bindings as a preview do serve it: the 404 above is the environment's doing.
    const { res } = await call("/demo", { env: { ENVIRONMENT: "preview", ...DEPLOYED_BINDINGS } });
    expect(res.status).toBe(200);
  });

  it("has no page for the Turnstile demo (its fake challenge lives only in the local demo shop)", async () => {
    const { res } = await call("/demo/turnstile");
    expect(res.status).toBe(404);
  });
});
