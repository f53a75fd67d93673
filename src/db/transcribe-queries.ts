import { and, eq } from "drizzle-orm";
import type { Database } from "./client";
import { chatSessions, templates, widgets, type ChatSession, type Template, type Widget } from "./schema";

/** What push-to-talk reads before the provider call: widget, session (of that widget) and its template. */
export interface TranscribeSnapshot {
  widget: Widget | null;
  session: ChatSession | null;
  template: Template | null;
}

/** One Neon request, sent in parallel with the rate-limit count. */
export async function getTranscribeSnapshot(db: Database, { sessionId, widgetId }: { sessionId: string; widgetId: string }): Promise<TranscribeSnapshot> {
  const [widgetRows, sessionRows] = await db.batch([
    db.select().from(widgets).where(eq(widgets.id, widgetId)).limit(1),
    db
      .select({ session: chatSessions, template: templates })
      .from(chatSessions)
      .leftJoin(templates, eq(templates.id, chatSessions.templateId))
      .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.widgetId, widgetId)))
      .limit(1),
  ]);
  return { widget: widgetRows[0] ?? null, session: sessionRows[0]?.session ?? null, template: sessionRows[0]?.template ?? null };
}
