/** widget.js as built for release: within its size budget, and made only of the widget's own code. */
import { describe, expect, it } from "vitest";
import { buildWidget, WIDGET_GZIP_BUDGET_BYTES } from "../../dev/build-widget";

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
