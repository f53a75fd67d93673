import { createMiddleware } from "hono/factory";
import { getWidgetAndSession } from "../db/queries";
import type { ChatSession, Widget } from "../db/schema";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import { assertOriginAllowed, pageOrigin } from "../sessions/origin";
import type { TokenVariables } from "./token";

export interface SessionReadVariables {
  widget: Widget;
  /** The token's session when it belongs to the widget; each route decides what null means. */
  session: ChatSession | null;
}

/**
 * Gates 3 and 4 of the session routes that run no turn (GET, cancel, end): the token's widget
 * is active and the page's origin, when known, is allowed. One Neon round trip, which also reads
 * the session.
 */
export const sessionReadGate = () =>
  createMiddleware<GateEnv<TokenVariables & SessionReadVariables>>(async function sessionReadGate(c, next) {
    const { widget, session } = await getWidgetAndSession(c.var.db, { widgetId: c.var.claims.wid, sessionId: c.var.claims.sid });
    if (!widget?.active) throw new ApiError("widget_inactive");
    assertOriginAllowed(pageOrigin(c.req.raw), widget, { required: false });
    c.set("widget", widget);
    c.set("session", session);
    await next();
  });
