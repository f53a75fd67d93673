/**
 * The libraries floor (`npm run bench -- --libraries-floor`): the SDK floor with everything else
 * through the libraries parley must use too — a Hono route, zod for the body, the store requests
 * through `@upstash/redis` and Drizzle (bench/client-stores.ts) — used the way parley uses the
 * SDK (bench/sdk-deltas.ts), with none of parley's checks. Its figures are the least a turn costs
 * on parley's stack before any of parley's own work: authentication, the gates, the fence,
 * redaction, the transcript, usage.
 */
import { Hono } from "hono";
import { z } from "zod";
import { messageTurn, openSession } from "./floor-worker";
import { clientStores } from "./client-stores";
import type { ReferenceEnv } from "./reference-stores";
import { sdkDeltas } from "./sdk-deltas";

const messageSchema = z.object({ id: z.string(), text: z.string() });
const options = { stores: (env: ReferenceEnv) => clientStores(env, "floor"), deltas: sdkDeltas };

const app = new Hono<{ Bindings: ReferenceEnv }>();
app.get("/readyz", (c) => c.text("ok"));
app.post("/v1/widget/session", () => openSession());
app.post("/v1/widget/session/:id/message", async (c) => {
  const message = messageSchema.parse(await c.req.json());
  return messageTurn(c.req.param("id"), message, c.env, c.executionCtx, options);
});

export default app;
