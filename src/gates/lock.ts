import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { acquireLock, LOCK_TTL_MARGIN_MS, releaseLock } from "../lock";

/** The session lock held by this request. */
export interface HeldLock {
  token: string;
  /** The turn takes over releasing once its stream exists; until then the gate releases. */
  handOff(): void;
}

/**
 * Gate 9: the per-session lock, taken before the first byte so contention is a clean 409.
 * Its TTL is the turn deadline plus a margin: the safety net if the isolate dies.
 */
export const lockGate = () =>
  createMiddleware<AppEnv>(async function lockGate(c, next) {
    const sessionId = c.var.claims.sid;
    const acquired = await acquireLock(c.var.redis, {
      sessionId,
      ttlMs: c.var.config.turnDeadlineMs + LOCK_TTL_MARGIN_MS,
    }).catch((cause: unknown) => {
      throw new ApiError("unavailable", { message: "The session lock store is unreachable; retry shortly.", cause });
    });
    if (!acquired.ok) throw new ApiError("turn_in_progress");

    let handedOff = false;
    c.set("lock", { token: acquired.token, handOff: () => void (handedOff = true) });
    try {
      await next();
    } finally {
      if (!handedOff) {
        c.executionCtx.waitUntil(
          releaseLock(c.var.redis, { sessionId, token: acquired.token }).catch((error: unknown) =>
            console.error("lock release failed; the TTL will free it", { sessionId, error: String(error) }),
          ),
        );
      }
    }
  });
