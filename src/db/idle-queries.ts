import { and, asc, eq, gt, inArray, lt, or, sql } from "drizzle-orm";
import type { Database } from "./client";
import { chatSessions } from "./schema";

/** Where a sweep stopped reading: the last candidate's activity and id (keyset paging). */
export interface IdleCursor {
  lastActivityAt: Date;
  id: string;
}

/**
 * Active chat sessions whose last activity is before `before`, oldest first, after `after`
 * (keyset paging on `(last_activity_at, id)`, served by `chat_sessions_status_activity_idx`).
 * Sessions with voice attached are never candidates: a call is activity parley does not see.
 */
export async function findIdleSessions(
  db: Database,
  { before, after, limit }: { before: Date; after?: IdleCursor; limit: number },
): Promise<IdleCursor[]> {
  const page = after
    ? or(gt(chatSessions.lastActivityAt, after.lastActivityAt), and(eq(chatSessions.lastActivityAt, after.lastActivityAt), gt(chatSessions.id, after.id)))
    : undefined;
  return db
    .select({ id: chatSessions.id, lastActivityAt: chatSessions.lastActivityAt })
    .from(chatSessions)
    .where(and(eq(chatSessions.status, "active"), eq(chatSessions.channel, "chat"), lt(chatSessions.lastActivityAt, before), page))
    .orderBy(asc(chatSessions.lastActivityAt), asc(chatSessions.id))
    .limit(limit);
}

/**
 * Ends the given sessions with reason `idle_timeout`, in one statement, each only if it is still
 * active, in chat and idle since before `before`: a session that ended, moved to voice or saw a
 * turn since it was read is left alone. `last_activity_at` keeps the visitor's last activity.
 * Returns the ids it ended.
 */
export async function endIdleSessions(db: Database, { sessionIds, before }: { sessionIds: string[]; before: Date }): Promise<string[]> {
  if (sessionIds.length === 0) return [];
  const rows = await db
    .update(chatSessions)
    .set({ status: "ended", endedAt: sql`now()`, endedReason: IDLE_TIMEOUT_REASON })
    .where(
      and(
        inArray(chatSessions.id, sessionIds),
        eq(chatSessions.status, "active"),
        eq(chatSessions.channel, "chat"),
        lt(chatSessions.lastActivityAt, before),
      ),
    )
    .returning({ id: chatSessions.id });
  return rows.map((row) => row.id);
}

/** `chat_sessions.ended_reason` of a session the idle sweep ended. */
export const IDLE_TIMEOUT_REASON = "idle_timeout";
