import type { Channel, ChatSession } from "../db/schema";
import { ApiError } from "../errors";

/**
 * Gates 6–8 on a session as read: it exists for the token's widget (a session of another widget
 * gets the same 404), is not ended, and is in chat. Checked on the wave's read, and again by the
 * turn's opening write (gate 10).
 */
export function assertSessionOpenForChat<S extends Pick<ChatSession, "status" | "channel">>(session: S | null): S {
  return assertSessionOpenFor(session, "chat");
}

/**
 * Gates 6–8 for a turn of `channel`: a chat turn needs the session in chat (409 `voice_active`
 * while a call is attached), a voice turn needs voice attached (409 `voice_not_attached`).
 */
export function assertSessionOpenFor<S extends Pick<ChatSession, "status" | "channel">>(session: S | null, channel: Channel): S {
  if (!session) throw new ApiError("session_not_found");
  if (session.status === "ended") throw new ApiError("session_ended");
  if (session.channel !== channel) throw new ApiError(channel === "chat" ? "voice_active" : "voice_not_attached");
  return session;
}
