import type { Context } from "hono";
import type { AppEnv, AppVariables } from "../env";
import type { TurnDeps } from "../turn/plan";

/** The stores and settings a turn runs with, from the request's clients. */
export const turnDeps = ({ db, redis, config, resolveModel }: AppVariables): TurnDeps => ({ db, redis, config, resolveModel });

/** How a turn hands work to the runtime and hears of a client that left. */
export const turnRuntime = (c: Pick<Context<AppEnv>, "executionCtx" | "req" | "var">) => ({
  waitUntil: (work: Promise<unknown>) => c.executionCtx.waitUntil(work),
  requestSignal: c.req.raw.signal,
  requestId: c.var.requestId,
});
