import { and, asc, eq, gt, inArray, lt, or, sql } from "drizzle-orm";
import type { Database } from "./client";
import { chatMessages, chatSessions, type ChatMessage } from "./schema";

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

/** The version of the message aliased `m`: its parts and metadata as stored (jsonb's text form is canonical). */
const VERSION_OF_M = sql.raw("md5(m.parts::text || m.metadata::text)");

/** A session's last message while it waits for the visitor, as read before the sweep ends the session. */
export interface WaitingReply extends Pick<ChatMessage, "sessionId" | "idx" | "parts" | "metadata"> {
  /** A digest of the stored parts and metadata: the write settles the reply only if it is unchanged. */
  version: string;
}

/**
 * The last message of each given session, where it waits for the visitor (`metadata.awaiting`):
 * one query, one primary-key probe per session (its highest idx).
 */
export async function findWaitingReplies(db: Database, sessionIds: string[]): Promise<WaitingReply[]> {
  if (sessionIds.length === 0) return [];
  const result = await db.execute<{ session_id: string; idx: number; parts: ChatMessage["parts"]; metadata: ChatMessage["metadata"]; version: string }>(sql`
    select m.session_id, m.idx, m.parts, m.metadata, ${VERSION_OF_M} as version
    from (values ${sql.join(sessionIds.map((id) => sql`(${id}::uuid)`), sql`, `)}) as s(id)
    cross join lateral (
      select session_id, idx, parts, metadata from ${chatMessages} where session_id = s.id order by idx desc limit 1
    ) m
    where (m.metadata -> 'awaiting') is not null`);
  return result.rows.map((row) => ({ sessionId: row.session_id, idx: row.idx, parts: row.parts, metadata: row.metadata, version: row.version }));
}

/** What a waiting reply's settlement writes, with the version it was computed from. */
export type SettledReply = WaitingReply;

/**
 * Ends the given sessions with reason `idle_timeout`, each only if it is still active, in chat
 * and idle since before `before`: a session that ended, moved to voice or saw a turn since it
 * was read is left alone. `last_activity_at` keeps the visitor's last activity. In the same
 * statement, the waiting replies in `settle` of the sessions it ended are replaced by their
 * settled selves — each only if still the version read, so a reply that changed is not
 * overwritten. Returns the ids it ended and how many replies it settled.
 */
export async function endIdleSessions(
  db: Database,
  { sessionIds, before, settle = [] }: { sessionIds: string[]; before: Date; settle?: SettledReply[] },
): Promise<{ ended: string[]; settled: number }> {
  if (sessionIds.length === 0) return { ended: [], settled: 0 };
  const guard = and(
    inArray(chatSessions.id, sessionIds),
    eq(chatSessions.status, "active"),
    eq(chatSessions.channel, "chat"),
    lt(chatSessions.lastActivityAt, before),
  );
  const replies = settle.map(({ sessionId, idx, parts, metadata, version }) => ({ session_id: sessionId, idx, parts, metadata, version }));
  const result = await db.execute<{ id: string; settled: boolean }>(sql`
    with ended as (
      update ${chatSessions} set status = 'ended', ended_at = now(), ended_reason = ${IDLE_TIMEOUT_REASON}
      where ${guard}
      returning id
    ), settled as (
      update ${chatMessages} m set parts = v.parts, metadata = v.metadata
      from jsonb_to_recordset(${JSON.stringify(replies)}::jsonb) as v(session_id uuid, idx integer, parts jsonb, metadata jsonb, version text)
      where m.session_id = v.session_id and m.idx = v.idx and m.session_id in (select id from ended) and ${VERSION_OF_M} = v.version
      returning m.session_id
    )
    select ended.id, exists (select 1 from settled where settled.session_id = ended.id) as settled from ended`);
  return { ended: result.rows.map((row) => row.id), settled: result.rows.filter((row) => row.settled).length };
}

/** `chat_sessions.ended_reason` of a session the idle sweep ended. */
export const IDLE_TIMEOUT_REASON = "idle_timeout";
