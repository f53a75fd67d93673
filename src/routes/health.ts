import { sql } from "drizzle-orm";
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { clients } from "../middleware/clients";

const PROBE_TIMEOUT_MS = 3_000;

export const health = new Hono<AppEnv>()
  /** Liveness: no I/O. */
  .get("/healthz", (c) => c.json({ ok: true }))
  /** Readiness: one round trip to Redis and to PostgreSQL, in parallel. */
  .get("/readyz", clients(), async (c) => {
    const [redis, db] = await Promise.all([
      probe(() => c.var.redis.ping()),
      probe(() => c.var.db.execute(sql`select 1`)),
    ]);
    if (redis === "ok" && db === "ok") return c.json({ redis, db });
    const failed = [redis === "ok" ? null : "redis", db === "ok" ? null : "db"].filter(Boolean);
    throw new ApiError("unavailable", { message: `Not ready: ${failed.join(" and ")} unreachable.`, details: { redis, db } });
  });

async function probe(check: () => Promise<unknown>): Promise<string> {
  let timer = 0;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return "ok";
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}
