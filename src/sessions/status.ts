import type { ChatSession } from "../db/schema";
import { ApiError } from "../errors";

/**
 * Gates 6–8 on a session as read: it exists for the token's widget (a session of another widget
 * gets the same 404), is not ended, and is in chat. Checked on the wave's read, and again by the
 * turn's opening write (gate 10).
 */
export function assertSessionOpenForChat<S extends Pick<ChatSession, "status" | "channel">>(session: S | null): S {
  if (!session) throw new ApiError("session_not_found");
  if (session.status === "ended") throw new ApiError("session_ended");
  if (session.channel !== "chat") throw new ApiError("voice_active");
  return session;
}
