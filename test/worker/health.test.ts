import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

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

  it("answers unknown routes with the JSON error shape", async () => {
    const res = await exports.default.fetch("http://parley.test/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "No such route." } });
  });
});
