import { and, eq, sql } from "drizzle-orm";
import type { Database } from "./client";
import { chatSessions, type ChatSession } from "./schema";

/** What a channel move did: whether it changed the session, and the session as it now stands. */
export interface ChannelMove {
  changed: boolean;
  /** Null when no such session exists. */
  session: ChatSession | null;
}

/**
 * CHAT → VOICE: attaches the call `leadId`, only if the session is active and in chat, and
 * bumps its activity; then reads the session as it stands. One Neon request (a batch).
 */
export async function attachVoice(db: Database, { sessionId, leadId }: { sessionId: string; leadId: string }): Promise<ChannelMove> {
  const [moved, current] = await db.batch([
    db
      .update(chatSessions)
      .set({ channel: "voice", voiceLeadId: leadId, lastActivityAt: sql`now()` })
      .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.status, "active"), eq(chatSessions.channel, "chat")))
      .returning({ id: chatSessions.id }),
    db.select().from(chatSessions).where(eq(chatSessions.id, sessionId)).limit(1),
  ]);
  return { changed: moved.length > 0, session: current[0] ?? null };
}

/**
 * VOICE → CHAT: detaches the call, only if `leadId` is the one attached (any lead when null: the
 * visitor's own "back to chat"), and bumps the activity; then reads the session as it stands.
 * A stale callback, naming a call that is no longer attached, changes nothing. `widgetId`
 * scopes the session to one widget (the widget route). One Neon request (a batch).
 */
export async function detachVoice(
  db: Database,
  { sessionId, leadId, widgetId }: { sessionId: string; leadId: string | null; widgetId?: string },
): Promise<ChannelMove> {
  const ofWidget = widgetId === undefined ? undefined : eq(chatSessions.widgetId, widgetId);
  const [moved, current] = await db.batch([
    db
      .update(chatSessions)
      .set({ channel: "chat", voiceLeadId: null, lastActivityAt: sql`now()` })
      .where(
        and(
          eq(chatSessions.id, sessionId),
          ofWidget,
          eq(chatSessions.channel, "voice"),
          leadId === null ? undefined : eq(chatSessions.voiceLeadId, leadId),
        ),
      )
      .returning({ id: chatSessions.id }),
    db.select().from(chatSessions).where(and(eq(chatSessions.id, sessionId), ofWidget)).limit(1),
  ]);
  return { changed: moved.length > 0, session: current[0] ?? null };
}
