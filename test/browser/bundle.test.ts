/** widget.js as built for release and as the Worker serves it. */
import { describe, expect, it } from "vitest";
import { buildWidget, WIDGET_GZIP_BUDGET_BYTES } from "../../dev/build-widget";
import { useSuite } from "./support";

const suite = useSuite({ browser: false });

describe("widget.js", async () => {
  const built = await buildWidget({ outDir: null });

  it(`is at most ${WIDGET_GZIP_BUDGET_BYTES} bytes gzipped`, () => {
    expect(built.gzipBytes).toBeLessThanOrEqual(WIDGET_GZIP_BUDGET_BYTES);
  });

  it("carries neither the AI SDK nor zod, and never evaluates strings as code", () => {
    expect(built.code).not.toMatch(/\bzod\b|ZodError|@ai-sdk|readUIMessageStream/);
    expect(built.code).not.toMatch(/\beval\(|new Function\(|setTimeout\("/);
  });

  it("is versioned by its content: the same source builds the same version", async () => {
    expect(built.version).toMatch(/^[0-9a-f]{10}$/);
    expect(built.code).toContain(`"${built.version}"`);
    expect((await buildWidget({ outDir: null })).version).toBe(built.version);
  });
});

describe("widget.js as served", () => {
  it("has caching headers a CDN can use, and a pinned copy under its content hash", async () => {
    const res = await fetch(`${suite.apiUrl}/widget.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300, stale-while-revalidate=86400");
    const etag = res.headers.get("etag");
    expect(etag).toBeTruthy();
    const code = await res.text();
    expect((await fetch(`${suite.apiUrl}/widget.js`, { headers: { "if-none-match": etag! } })).status).toBe(304);

    // The stack built it from this same source.
    const { version } = await buildWidget({ outDir: null });
    const pinned = await fetch(`${suite.apiUrl}/widget-${version}.js`);
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await pinned.text()).toBe(code);
  });
});
