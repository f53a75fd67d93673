import type { ChatSession } from "../db/schema";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";

/**
 * Gates 6–8 on a session read: it exists for the token's widget (a session of another widget
 * gets the same 404), is not ended, and is in chat. Used before the lock and again under it.
 */
export function assertSessionOpenForChat(session: ChatSession | null): ChatSession {
  if (!session) throw new ApiError("session_not_found");
  if (session.status === "ended") throw new ApiError("session_ended");
  if (session.channel !== "chat") throw new ApiError("voice_active");
  return session;
}

/** Gates 6–8 on the session read by `widgetGate`. */
export const sessionGate = () =>
  createMiddleware<AppEnv>(async function sessionGate(c, next) {
    assertSessionOpenForChat(c.var.session);
    await next();
  });
