/**
 * The smoke test of a deployment (`npm run smoke -- <base URL>`): `/readyz` must answer 200 with
 * Redis and Postgres reachable, then one widget turn must complete: a session on `publicKey`
 * (sent from `origin`, which the widget must allow) and one message whose stream ends in
 * `data-turn-end` `completed`. Throws naming the step that failed.
 */
import { parseArgs } from "node:util";

export interface SmokeTestOptions {
  /** A widget that allows `origin`; without one only `/readyz` is checked. */
  publicKey?: string;
  /** The page origin the session is opened from. @default the base URL's origin */
  origin?: string;
}

/** How long one step may take, in ms: a cold Worker and a first model call included. */
const STEP_TIMEOUT_MS = 60_000;

export async function smokeTest(baseUrl: string, { publicKey, origin = new URL(baseUrl).origin }: SmokeTestOptions = {}): Promise<void> {
  const base = baseUrl.replace(/\/+$/, "");
  const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
  const readyBody = await ready.text();
  if (ready.status !== 200) throw new Error(`smoke test: GET /readyz answered ${ready.status}: ${readyBody}`);
  console.log(`smoke test: /readyz ${readyBody}`);
  if (!publicKey) {
    console.warn("smoke test: no widget public key given; the widget turn was not tried");
    return;
  }

  const headers = { origin, "content-type": "application/json" };
  const created = await fetch(`${base}/v1/widget/session`, {
    method: "POST",
    headers,
    body: JSON.stringify({ publicKey }),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const session = (await created.json()) as { sessionId?: string; token?: string };
  if (created.status !== 201 || !session.sessionId || !session.token) {
    throw new Error(`smoke test: POST /v1/widget/session answered ${created.status}: ${JSON.stringify(session)}`);
  }
  const turn = await fetch(`${base}/v1/widget/session/${session.sessionId}/message`, {
    method: "POST",
    headers: { ...headers, authorization: `Bearer ${session.token}` },
    body: JSON.stringify({ id: `smoke-${Date.now()}`, text: "Reply with one short sentence: is the shop open?" }),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const stream = await turn.text();
  const end = turnEndOf(stream);
  if (turn.status !== 200 || end?.status !== "completed") {
    throw new Error(`smoke test: the widget turn answered ${turn.status}, turn end ${JSON.stringify(end)}: ${stream.slice(0, 2_000)}`);
  }
  console.log(`smoke test: a widget turn on ${publicKey} completed`);
}

/** The `data-turn-end` part of a UI message stream, if any. */
export function turnEndOf(stream: string): { status?: string } | undefined {
  for (const line of stream.split("\n")) {
    if (!line.startsWith("data: {")) continue;
    const chunk = JSON.parse(line.slice("data: ".length)) as { type?: string; data?: { status?: string } };
    if (chunk.type === "data-turn-end") return chunk.data;
  }
  return undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { "public-key": { type: "string" }, origin: { type: "string" } },
  });
  const [baseUrl] = positionals;
  if (!baseUrl) {
    console.error("usage: npm run smoke -- <base URL> [--public-key pk_…] [--origin https://…]");
    process.exit(2);
  }
  await smokeTest(baseUrl, {
    ...(values["public-key"] ? { publicKey: values["public-key"] } : {}),
    ...(values.origin ? { origin: values.origin } : {}),
  });
}
