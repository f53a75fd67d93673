import { createMiddleware } from "hono/factory";
import { getContextPushTarget, type ContextPushTarget } from "../db/page-context-queries";
import type { ChatSession, Template } from "../db/schema";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import { clientIpKey, countRateLimit, judgeRateLimit, rateLimitError, type RateLimitCount } from "../limits";
import { pushContextBody, type PushContextBody } from "../page-context/request";
import { createRedisBatch } from "../redis-batch";
import { assertOriginAllowed, pageOrigin } from "../sessions/origin";
import { validateTemplate } from "../templates/validate";
import { parseBody } from "./body";
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
 * The gates of a page context push, on one wave without the lock (a push never waits for a turn
 * nor makes one 409): the `context` rate-limit count in parallel with the widget + session +
 * template read, then widget active (401), origin (403), rate limit (429 / 503), session found
 * (404) and not ended (410), template present and valid (500) — the session-read gates' order.
 */
export const contextPushGate = () =>
  createMiddleware<GateEnv<TokenVariables & ContextPushVariables>>(async function contextPushGate(c, next) {
    const { db, redis, config, claims } = c.var;
    const [count, target] = await Promise.all([
      countRateLimit(createRedisBatch(redis), { keyPrefix: config.redisKeyPrefix, bucket: "context", widgetKey: claims.wid, ipKey: clientIpKey(c.req.raw) }),
      getContextPushTarget(db, { widgetId: claims.wid, sessionId: claims.sid }),
    ]);
    c.set("contextTarget", await judgeContextPush({ count, target }, { origin: pageOrigin(c.req.raw), redis }));
    await next();
  });

/** The push's gates on what the wave read, in order. Throws the first refusal. */
async function judgeContextPush(
  { count, target }: { count: RateLimitCount; target: ContextPushTarget },
  { origin, redis }: { origin: string | null; redis: Parameters<typeof judgeRateLimit>[0] },
): Promise<ContextPushVariables["contextTarget"]> {
  const { widget, session, template } = target;
  if (!widget?.active) throw new ApiError("widget_inactive");
  assertOriginAllowed(origin, widget, { required: false });
  // The push's own windows, with the widget's message limit: a page pushes on what the visitor does, as a message is sent.
  const limit = await judgeRateLimit(redis, count, widget.messagesPerIpHour);
  if (!limit.ok) throw rateLimitError(limit);
  if (!session) throw new ApiError("session_not_found");
  if (session.status === "ended") throw new ApiError("session_ended");
  if (!template) throw new ApiError("template_missing");
  return { session, template: validateTemplate(template) };
}
