import { createMiddleware } from "hono/factory";
import { getWidgetAndSession } from "../db/queries";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";

/**
 * Gate 3: the token's widget exists and is active. The session is read in the same round trip
 * and kept for `sessionGate`, which judges it only after the origin and rate-limit gates.
 */
export const widgetGate = () =>
  createMiddleware<AppEnv>(async function widgetGate(c, next) {
    const { widget, session } = await getWidgetAndSession(c.var.db, {
      widgetId: c.var.claims.wid,
      sessionId: c.var.claims.sid,
    });
    if (!widget?.active) throw new ApiError("widget_inactive");
    c.set("widget", widget);
    c.set("session", session);
    await next();
  });
