import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call } from "./support/app";

describe("health", () => {
  it("answers /healthz without touching a data store", async () => {
    const res = await exports.default.fetch("http://parley.test/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("answers /readyz with both stores reachable", async () => {
    const res = await exports.default.fetch("http://parley.test/readyz");
    expect(await res.json()).toEqual({ redis: "ok", db: "ok" });
    expect(res.status).toBe(200);
  });

  it("answers /readyz 503 naming the store that is down", async () => {
    const { res } = await call("/readyz", { env: { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" } });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string; details: Record<string, string> } };
    expect(body.error).toMatchObject({ code: "unavailable", message: "Not ready: redis unreachable." });
    expect(body.error.details.db).toBe("ok");
  });

  it("answers 500 misconfigured naming a bad variable", async () => {
    const { res } = await call("/readyz", { env: { SESSION_TOKEN_SECRET: "short" } });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("misconfigured");
    expect(body.error.message).toContain("SESSION_TOKEN_SECRET");
  });

  it("answers unknown routes with the JSON error shape", async () => {
    const res = await exports.default.fetch("http://parley.test/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "No such route." } });
  });
});
