import type { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { getWidgetSessionTemplate } from "../db/queries";
import type { Channel, ChatSession, Template, Widget } from "../db/schema";
import { ApiError } from "../errors";
import { clientIpKey, countRateLimit, judgeRateLimit, rateLimitError, type RateLimitBucket } from "../limits";
import { createRedisBatch } from "../redis-batch";
import { assertOriginAllowed, pageOrigin } from "../sessions/origin";
import { assertSessionOpenFor } from "../sessions/status";
import { validateTemplate } from "../templates/validate";

/** What a lock-free session route's gates let through: all of it checked, the template validated. */
export interface OpenSessionTarget {
  widget: Widget;
  session: ChatSession;
  template: Template;
}

/**
 * The gates of a session route that runs no turn (a page context push, a transcription), on one
 * wave without the lock: the `bucket` rate-limit count (its own windows, judged against the
 * widget's per-IP message limit) in parallel with one Neon read of widget, session and template;
 * then, in the turn table's order, widget active (3), origin (4), the limit (5), session found and
 * not ended (6–7), in `channel` when one is required (8), the template present and valid (13).
 */
export async function gateSessionWave(
  { db, redis, config }: { db: Database; redis: Redis; config: Config },
  { request, sessionId, widgetId, bucket, channel }: {
    request: Request;
    sessionId: string;
    widgetId: string;
    bucket: Exclude<RateLimitBucket, "session_create">;
    /** The channel the session must be in; any channel when absent. */
    channel?: Channel;
  },
): Promise<OpenSessionTarget> {
  const [count, { widget, session, template }] = await Promise.all([
    countRateLimit(createRedisBatch(redis), { keyPrefix: config.redisKeyPrefix, bucket, widgetKey: widgetId, ipKey: clientIpKey(request) }),
    getWidgetSessionTemplate(db, { widgetId, sessionId }),
  ]);
  if (!widget?.active) throw new ApiError("widget_inactive");
  assertOriginAllowed(pageOrigin(request), widget, { required: false });
  const limit = await judgeRateLimit(redis, count, widget.messagesPerIpHour);
  if (!limit.ok) throw rateLimitError(limit);
  if (!session) throw new ApiError("session_not_found");
  if (session.status === "ended") throw new ApiError("session_ended");
  if (channel) assertSessionOpenFor(session, channel);
  if (!template) throw new ApiError("template_missing");
  return { widget, session, template: validateTemplate(template) };
}
