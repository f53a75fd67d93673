import { and, eq, lt, sql } from "drizzle-orm";
import type { Database } from "./client";
import { chatSessions, templates, widgets, type ChatSession, type Template, type Widget } from "./schema";

/**
 * Stores a session's page context in one conditional UPDATE: only while the session is active,
 * and only if `revision` is higher than the stored one — without a revision it always applies and
 * the stored revision goes up by one. Row locking makes two concurrent pushes apply in revision
 * order whichever arrives first (the later one re-checks the condition on the row the earlier one
 * wrote). Resolves the stored revision, or null when nothing changed (stale, ended or gone).
 */
export async function applyPageContext(
  db: Database,
  { sessionId, widgetId, context, revision }: { sessionId: string; widgetId: string; context: Record<string, unknown>; revision?: number },
): Promise<number | null> {
  const [row] = await db
    .update(chatSessions)
    .set({ pageContext: context, pageContextRevision: revision ?? sql`${chatSessions.pageContextRevision} + 1` })
    .where(
      and(
        eq(chatSessions.id, sessionId),
        eq(chatSessions.widgetId, widgetId),
        eq(chatSessions.status, "active"),
        revision === undefined ? undefined : lt(chatSessions.pageContextRevision, revision),
      ),
    )
    .returning({ revision: chatSessions.pageContextRevision });
  return row ? Number(row.revision) : null;
}

/** A session's status and page context revision as they are now; null when it is gone. */
export async function getPageContextRevision(
  db: Database,
  { sessionId, widgetId }: { sessionId: string; widgetId: string },
): Promise<Pick<ChatSession, "status" | "pageContextRevision"> | null> {
  const [row] = await db
    .select({ status: chatSessions.status, pageContextRevision: chatSessions.pageContextRevision })
    .from(chatSessions)
    .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.widgetId, widgetId)))
    .limit(1);
  return row ?? null;
}
