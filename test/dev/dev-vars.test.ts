import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevStack, type DevStack } from "../support/dev-stack";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai";

/** The dev-stack test's own six ports and Redis database. */
const PORT_BASE = Number(process.env.DEV_VARS_TEST_PORT_BASE ?? 9360);

let fake: FakeOpenAI;
let stack: DevStack;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  // The model key and base URL exist only in the stack's .dev.vars.
  stack = await startDevStack({
    name: "dev-vars",
    portBase: PORT_BASE,
    redisDb: "3",
    devVars: { OPENAI_API_KEY: "sk-local-devvars-test", OPENAI_BASE_URL: fake.url },
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

describe("npm run dev with a model configured in .dev.vars", () => {
  it("streams the demo's LLM greeting from the OpenAI-compatible server .dev.vars names", async () => {
    const origin = stack.shopUrl;
    const create = await fetch(`${stack.apiUrl}/v1/widget/session`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify({ publicKey: "pk_local_demo" }),
    });
    expect(create.status).toBe(201);
    const session = (await create.json()) as { sessionId: string; token: string; initialTurn: string | null };
    expect(session.initialTurn).toBe("llm");

    const turn = await fetch(`${stack.apiUrl}/v1/widget/session/${session.sessionId}/initial-turn`, {
      method: "POST",
      headers: { origin, authorization: `Bearer ${session.token}` },
    });
    expect(turn.status).toBe(200);
    const body = await turn.text();
    // Frames are `id: …` then `data: {…}`.
    const deltas = body
      .split("\n")
      .filter((line) => line.startsWith("data: {"))
      .map((line) => JSON.parse(line.slice(6)) as { type: string; delta?: string; data?: { status?: string } });
    const text = deltas.flatMap((chunk) => (chunk.type === "text-delta" ? [chunk.delta] : [])).join("");
    expect(text).toMatch(/^Fake OpenAI reply to: /);
    expect(deltas.find((chunk) => chunk.type === "data-turn-end")?.data?.status).toBe("completed");
  });
});
