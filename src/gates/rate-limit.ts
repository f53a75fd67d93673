import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Widget } from "../db/schema";
import type { AppEnv } from "../env";
import { checkRateLimit, clientIpKey, rateLimitError, type RateLimitBucket } from "../limits";

const PER_IP_LIMIT: Record<RateLimitBucket, (widget: Widget) => number> = {
  session_create: (widget) => widget.sessionsPerIpHour,
  message: (widget) => widget.messagesPerIpHour,
};

/** Throws 429 `rate_limited` or 503 `unavailable` unless this client may go on. */
export async function enforceRateLimit(
  c: Context<AppEnv>,
  { bucket, widget }: { bucket: RateLimitBucket; widget: Widget },
): Promise<void> {
  const outcome = await checkRateLimit(c.var.redis, {
    bucket,
    widgetId: widget.id,
    ipKey: clientIpKey(c.req.raw),
    perIpLimit: PER_IP_LIMIT[bucket](widget),
  });
  if (!outcome.ok) throw rateLimitError(outcome);
}

/** Gate 5: the widget's per-IP and aggregate limits for `bucket`. */
export const rateLimitGate = (bucket: RateLimitBucket) =>
  createMiddleware<AppEnv>(async function rateLimitGate(c, next) {
    await enforceRateLimit(c, { bucket, widget: c.var.widget });
    await next();
  });
