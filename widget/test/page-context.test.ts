import { afterEach, describe, expect, it, vi } from "vitest";
import type { ApiResult, ContextPushed, SessionCredentials, WidgetApi } from "../src/api";
import { PageContextSync } from "../src/page-context";

type Sent = { sessionId: string; context: Record<string, unknown>; revision: number };

/** The client's one call, answered as the test says; everything else about the client is unused here. */
function recordingApi(answer: () => ApiResult<ContextPushed>) {
  const sent: Sent[] = [];
  const api = {
    setContext: async ({ sessionId }: SessionCredentials, body: { context: Record<string, unknown>; revision: number }) => {
      sent.push({ sessionId, ...body });
      return answer();
    },
  } as unknown as WidgetApi;
  return { api, sent };
}

const applied = (dropped: string[] = []): ApiResult<ContextPushed> => ({ ok: true, value: { applied: true, revision: 1, accepted: [], dropped } });
const A: SessionCredentials = { sessionId: "a", token: "t" };
const B: SessionCredentials = { sessionId: "b", token: "t" };

afterEach(() => vi.restoreAllMocks());

describe("PageContextSync", () => {
  it("holds the context until a session opens, then pushes the latest only", async () => {
    const { api, sent } = recordingApi(() => applied());
    const sync = new PageContextSync(api);
    sync.set({ cart: [] }, null);
    sync.set({ cart: ["A1"] }, null);
    expect(sent).toEqual([]);
    sync.sessionChanged(A);
    await sync.settled();
    expect(sent.map(({ sessionId, context }) => ({ sessionId, context }))).toEqual([{ sessionId: "a", context: { cart: ["A1"] } }]);
    // Nothing new: a message's push() sends nothing.
    sync.push(A);
    await sync.settled();
    expect(sent).toHaveLength(1);
  });

  it("gives every push a higher revision than the last, even within one millisecond", async () => {
    vi.spyOn(Date, "now").mockReturnValue(1_000);
    const { api, sent } = recordingApi(() => applied());
    const sync = new PageContextSync(api);
    for (const n of [1, 2, 3]) sync.set({ n }, A);
    await sync.settled();
    expect(sent.map((s) => s.revision)).toEqual([1_000, 1_001, 1_002]);
  });

  it("sends the latest context again to a new session, and again after a push that did not get through", async () => {
    let network = false;
    const { api, sent } = recordingApi(() => (network ? { ok: false, failure: { kind: "network" } } : applied()));
    const sync = new PageContextSync(api);
    sync.set({ cart: ["A1"] }, A);
    sync.sessionChanged(B);
    network = true;
    sync.set({ cart: ["A1", "B2"] }, B);
    await sync.settled();
    network = false;
    sync.push(B);
    await sync.settled();
    expect(sent.map(({ sessionId, context }) => [sessionId, context])).toEqual([
      ["a", { cart: ["A1"] }],
      ["b", { cart: ["A1"] }],
      ["b", { cart: ["A1", "B2"] }],
      ["b", { cart: ["A1", "B2"] }],
    ]);
  });

  it("names dropped keys and refusals in the console, and refuses a non-object", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { api, sent } = recordingApi(() => applied(["coupon"]));
    const sync = new PageContextSync(api);
    sync.set({ coupon: "FREE" }, A);
    await sync.settled();
    expect(warn).toHaveBeenCalledWith("parley: page context keys not on the template's allow-list were dropped: coupon");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [["not", "an", "object"], null, undefined, "cart", cyclic]) sync.set(bad, A);
    expect(error).toHaveBeenCalledTimes(5);
    expect(error).toHaveBeenCalledWith(expect.stringContaining("Parley.setContext takes a JSON object"));
    expect(sent).toHaveLength(1);
  });

  it("sends the context as it was when set, not as the page changed it afterwards", async () => {
    const { api, sent } = recordingApi(() => applied());
    const sync = new PageContextSync(api);
    const cart = ["A1"];
    sync.set({ cart }, null);
    cart.push("B2");
    sync.sessionChanged(A);
    await sync.settled();
    expect(sent[0]!.context).toEqual({ cart: ["A1"] });
  });
});
