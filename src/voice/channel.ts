import type { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { ChatSession } from "../db/schema";
import { attachVoice, detachVoice, type ChannelMove } from "../db/voice-queries";
import { ApiError } from "../errors";
import { acquireLock, heldLock } from "../lock";

/** The answer of the service API's channel moves. */
export interface VoiceChannelState {
  sessionId: string;
  status: ChatSession["status"];
  channel: ChatSession["channel"];
  /** The attached call; null in chat. */
  voiceLeadId: string | null;
  lastActivityAt: Date;
  /** False when the move changed nothing: a retried attach of the same call, a stale detach. */
  changed: boolean;
}

function channelState({ changed, session }: ChannelMove & { session: ChatSession }): VoiceChannelState {
  const { id, status, channel, voiceLeadId, lastActivityAt } = session;
  return { sessionId: id, status, channel, voiceLeadId, lastActivityAt, changed };
}

/**
 * CHAT → VOICE, under the session's turn lock, so no chat turn is in flight while the call
 * takes over (409 `turn_in_progress` when one is). Only from chat: 409 `voice_active` when
 * another call is attached; the same call again answers as it stands (`changed: false`), so a
 * retried attach is harmless. 404 / 410 for a missing / ended session.
 */
export async function attachVoiceChannel(
  { db, redis, config }: { db: Database; redis: Redis; config: Pick<Config, "lockLeaseMs" | "redisKeyPrefix"> },
  { sessionId, leadId }: { sessionId: string; leadId: string },
): Promise<VoiceChannelState> {
  const keyPrefix = config.redisKeyPrefix;
  const acquired = await acquireLock(redis, { sessionId, keyPrefix, ttlMs: config.lockLeaseMs }).catch((cause: unknown) => {
    throw new ApiError("unavailable", { message: "The session lock store is unreachable; retry shortly.", details: { store: "redis" }, cause });
  });
  if (!acquired.ok) throw new ApiError("turn_in_progress", { message: "A reply is being generated for this session; attach the call once it has finished." });
  const lock = heldLock(redis, { sessionId, keyPrefix, token: acquired.token, turnSeq: acquired.turnSeq });
  try {
    const move = await attachVoice(db, { sessionId, leadId });
    if (!move.session) throw new ApiError("session_not_found");
    if (move.session.status === "ended") throw new ApiError("session_ended");
    if (!move.changed && move.session.voiceLeadId !== leadId) {
      throw new ApiError("voice_active", { message: "Another voice call is attached to this session; detach it first." });
    }
    return channelState({ ...move, session: move.session });
  } finally {
    // Awaited: a voice turn sent right after the answer must find the lock free. No turn ran,
    // so the turn sequence stays as it is.
    await lock.release();
  }
}

/**
 * VOICE → CHAT when `leadId` is the attached call (any call when null: the visitor's own
 * "back to chat"). Takes no lock: a voice turn still in flight finishes and stores its reply,
 * and chat turns wait for its lock as for any turn. A stale detach (another call, or already in
 * chat) changes nothing and answers 200 with `changed: false`: the caller has nothing to retry.
 */
export async function detachVoiceChannel(db: Database, options: { sessionId: string; leadId: string | null; widgetId?: string }): Promise<VoiceChannelState> {
  const move = await detachVoice(db, options);
  if (!move.session) throw new ApiError("session_not_found");
  return channelState({ ...move, session: move.session });
}
