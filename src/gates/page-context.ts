import { createMiddleware } from "hono/factory";
import type { ChatSession, Template } from "../db/schema";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import { pushContextBody, type PushContextBody } from "../page-context/request";
import { parseBody } from "./body";
import { gateSessionWave } from "./session-wave";
import type { TokenVariables } from "./token";

export interface ContextPushVariables {
  /** The push's body. */
  contextBody: PushContextBody;
  /** The session it is for (active) and its validated template. */
  contextTarget: { session: ChatSession; template: Template };
}

/** The push route's body: `{ context, revision? }`. */
export const contextBodyGate = () =>
  createMiddleware<GateEnv<Pick<ContextPushVariables, "contextBody">>>(async function contextBodyGate(c, next) {
    const json = await c.req.json().catch(() => {
      throw new ApiError("invalid_request", { message: 'The body must be JSON: {"context": {…}, "revision"?: <integer>}.' });
    });
    c.set("contextBody", parseBody(pushContextBody, json));
    await next();
  });

/**
 * The gates of a page context push, without the lock (a push never waits for a turn nor makes one
 * 409): the session-read gates plus the `context` rate limit, on one wave (`gateSessionWave`).
 */
export const contextPushGate = () =>
  createMiddleware<GateEnv<TokenVariables & Pick<ContextPushVariables, "contextTarget">>>(async function contextPushGate(c, next) {
    const { claims } = c.var;
    c.set("contextTarget", await gateSessionWave(c.var, { request: c.req.raw, sessionId: claims.sid, widgetId: claims.wid, bucket: "context" }));
    await next();
  });
