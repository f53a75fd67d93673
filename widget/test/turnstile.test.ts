import { afterEach, describe, expect, it, vi } from "vitest";
import { WidgetApi } from "../src/api";
import { CHALLENGE_FAILED, describeFailure } from "../src/sentences";
import { runChallenge, type TurnstileApi } from "../src/turnstile";

type RenderOptions = Parameters<TurnstileApi["render"]>[1];

/** A stand-in for `window.turnstile` that hands its options to the test and records removals. */
function fakeTurnstile() {
  const rendered: Array<{ container: unknown; options: RenderOptions }> = [];
  const removed: string[] = [];
  const api: TurnstileApi = {
    render(container, options) {
      rendered.push({ container, options });
      return `w${rendered.length}`;
    },
    remove: (id) => void removed.push(id),
  };
  return { api, rendered, removed };
}

const container = {} as HTMLElement;

describe("runChallenge", () => {
  it("renders the site key's challenge into the container and answers the token once passed, removing it", async () => {
    const turnstile = fakeTurnstile();
    const token = runChallenge(turnstile.api, container, "0x4AAA-site");
    expect(turnstile.rendered).toHaveLength(1);
    expect(turnstile.rendered[0]!.container).toBe(container);
    expect(turnstile.rendered[0]!.options.sitekey).toBe("0x4AAA-site");
    turnstile.rendered[0]!.options.callback("tok-123");
    await expect(token).resolves.toBe("tok-123");
    expect(turnstile.removed).toEqual(["w1"]);
  });

  it("rejects on Turnstile's error callback, and ignores a later expiry", async () => {
    const turnstile = fakeTurnstile();
    const token = runChallenge(turnstile.api, container, "site");
    turnstile.rendered[0]!.options["error-callback"]("110200");
    turnstile.rendered[0]!.options["expired-callback"]?.();
    await expect(token).rejects.toThrow("turnstile error 110200");
    expect(turnstile.removed).toEqual(["w1"]);
  });

  it("copes with a callback during render itself, before the widget id is known", async () => {
    const api: TurnstileApi = {
      render(_container, options) {
        options.callback("early");
        return "w-early";
      },
      remove: vi.fn(),
    };
    await expect(runChallenge(api, container, "site")).resolves.toBe("early");
    expect(api.remove).toHaveBeenCalledWith("w-early");
  });
});

describe("the session create with a challenge", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("carries the site key of a challenge_required answer, and sends the token when there is one", async () => {
    const bodies: unknown[] = [];
    vi.stubGlobal("fetch", async (_url: string, init: RequestInit) => {
      bodies.push(JSON.parse(String(init.body)));
      return Response.json(
        { error: { code: "challenge_required", message: "pass it", details: { siteKey: "0x4AAA-site" } } },
        { status: 403 },
      );
    });
    const api = new WidgetApi("https://parley.example/v1/widget");
    const result = await api.createSession({ publicKey: "pk_1", templateVars: {}, metadata: {}, turnstileToken: "tok" });
    expect(result).toEqual({
      ok: false,
      failure: { kind: "http", status: 403, code: "challenge_required", message: "pass it", siteKey: "0x4AAA-site" },
    });
    expect(bodies).toEqual([{ publicKey: "pk_1", templateVars: {}, metadata: {}, turnstileToken: "tok" }]);
  });

  it("tells the visitor a refused challenge can be tried again", () => {
    expect(describeFailure({ kind: "http", status: 403, code: "challenge_failed", message: "", siteKey: "s" })).toEqual({
      text: CHALLENGE_FAILED,
      remedy: "retry",
    });
  });
});
