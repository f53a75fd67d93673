import { and, desc, eq } from "drizzle-orm";
import type { Database } from "./client";
import { chatSessions, widgets, type ChatSession } from "./schema";

/**
 * The latest active session of `visitorId` on the widget with `publicKey`, or null. Keyed by the
 * public key so that session create can send it in parallel with the widget read; its answer is
 * used only once the visitor's identity token has been verified against that widget.
 */
export async function getLatestVisitorSession(
  db: Database,
  { publicKey, visitorId }: { publicKey: string; visitorId: string },
): Promise<ChatSession | null> {
  const [row] = await db
    .select({ session: chatSessions })
    .from(chatSessions)
    .innerJoin(widgets, eq(widgets.id, chatSessions.widgetId))
    .where(and(eq(widgets.publicKey, publicKey), eq(chatSessions.visitorId, visitorId), eq(chatSessions.status, "active")))
    .orderBy(desc(chatSessions.lastActivityAt), desc(chatSessions.createdAt))
    .limit(1);
  return row?.session ?? null;
}
