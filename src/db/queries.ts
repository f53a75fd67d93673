import { and, desc, eq, sql, type SQL } from "drizzle-orm";
import type { Database } from "./client";
import { startOfUtcDay } from "./usage-queries";
import {
  chatMessages,
  chatSessions,
  templates,
  turnUsage,
  widgets,
  type ChatMessage,
  type ChatSession,
  type MessageMetadata,
  type NewChatMessage,
  type Template,
  type Widget,
} from "./schema";

export async function getWidgetWithTemplateByPublicKey(
  db: Database,
  { publicKey }: { publicKey: string },
): Promise<{ widget: Widget; template: Template | null } | null> {
  const [row] = await db
    .select({ widget: widgets, template: templates })
    .from(widgets)
    .leftJoin(templates, eq(templates.id, widgets.templateId))
    .where(eq(widgets.publicKey, publicKey))
    .limit(1);
  return row ?? null;
}

/** A widget, its session and the session's template, as one lock-free route reads them. */
export interface WidgetSessionTemplate {
  widget: Widget | null;
  /** The token's session when it belongs to the widget. */
  session: ChatSession | null;
  /** The session's template. */
  template: Template | null;
}

/** The widget, the session (of that widget only) and the session's template: one HTTP round trip. */
export async function getWidgetSessionTemplate(
  db: Database,
  { widgetId, sessionId }: { widgetId: string; sessionId: string },
): Promise<WidgetSessionTemplate> {
  const [widgetRows, sessionRows] = await db.batch([
    db.select().from(widgets).where(eq(widgets.id, widgetId)).limit(1),
    db
      .select({ session: chatSessions, template: templates })
      .from(chatSessions)
      .leftJoin(templates, eq(templates.id, chatSessions.templateId))
      .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.widgetId, widgetId)))
      .limit(1),
  ]);
  const row = sessionRows[0];
  return { widget: widgetRows[0] ?? null, session: row?.session ?? null, template: row?.template ?? null };
}

/** The widget and, when it belongs to that widget, the session: one HTTP round trip. */
export async function getWidgetAndSession(
  db: Database,
  { widgetId, sessionId }: { widgetId: string; sessionId: string },
): Promise<{ widget: Widget | null; session: ChatSession | null }> {
  const [widgetRows, sessionRows] = await db.batch([
    db.select().from(widgets).where(eq(widgets.id, widgetId)).limit(1),
    db
      .select()
      .from(chatSessions)
      .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.widgetId, widgetId)))
      .limit(1),
  ]);
  return { widget: widgetRows[0] ?? null, session: sessionRows[0] ?? null };
}

export interface TurnSnapshot {
  widget: Widget | null;
  session: ChatSession | null;
  template: Template | null;
  /** The last `historyLimit` messages, oldest first. */
  history: ChatMessage[];
  /** Total stored messages: the next message's idx. */
  messageCount: number;
  /** Model tokens (in + out) the widget's turns used since midnight UTC: its daily budget's count (0 without a budget). */
  widgetTokensToday: number;
  /** The stored user message with the request's client id, if any. */
  existingUserMessage: ChatMessage | null;
  /** The message right after `existingUserMessage`, if any. */
  replyToExisting: ChatMessage | null;
  /** Approval and tool-result routes: the latest message whose parts contain `partsContaining`. */
  messageWithCall: ChatMessage | null;
}

/**
 * Everything a turn reads before the model, in one batch (one HTTP round trip), sent in
 * parallel with the Redis part of the wave: the widget, the session (of that widget only), its
 * template, the history, and the stored message with the request's client id and its reply.
 */
export async function getTurnSnapshot(
  db: Database,
  { sessionId, widgetId, historyLimit, clientMessageId, partsContaining }: {
    sessionId: string;
    /** The token's widget; null: the session's own, whatever it is (the service API). */
    widgetId: string | null;
    historyLimit: number;
    clientMessageId?: string;
    /** A JSON value the parts must contain (`@>`), e.g. `[{ "toolCallId": "…" }]`. */
    partsContaining?: unknown;
  },
): Promise<TurnSnapshot> {
  const sessionTemplateId = db
    .select({ id: chatSessions.templateId })
    .from(chatSessions)
    .where(eq(chatSessions.id, sessionId));
  const widgetOf = widgetId ?? sql`(${db.select({ id: chatSessions.widgetId }).from(chatSessions).where(eq(chatSessions.id, sessionId))})`;
  // Client ids are at least one character long, so "" matches nothing on a turn without one.
  const clientId = clientMessageId ?? "";
  const existingIdx = db
    .select({ idx: chatMessages.idx })
    .from(chatMessages)
    .where(and(eq(chatMessages.sessionId, sessionId), eq(chatMessages.clientMessageId, clientId)));
  const containing = partsContaining === undefined ? sql`false` : sql`${chatMessages.parts} @> ${JSON.stringify(partsContaining)}::jsonb`;
  const [widgetRows, sessionRows, templateRows, historyRows, countRows, existingRows, replyRows, tokenRows, callRows] = await db.batch([
    db.select().from(widgets).where(eq(widgets.id, widgetOf)).limit(1),
    db
      .select()
      .from(chatSessions)
      .where(widgetId === null ? eq(chatSessions.id, sessionId) : and(eq(chatSessions.id, sessionId), eq(chatSessions.widgetId, widgetId)))
      .limit(1),
    db.select().from(templates).where(eq(templates.id, sql`(${sessionTemplateId})`)).limit(1),
    db
      .select()
      .from(chatMessages)
      .where(eq(chatMessages.sessionId, sessionId))
      .orderBy(desc(chatMessages.idx))
      .limit(historyLimit),
    db
      .select({ count: sql<number>`count(*)::int` })
      .from(chatMessages)
      .where(eq(chatMessages.sessionId, sessionId)),
    db
      .select()
      .from(chatMessages)
      .where(and(eq(chatMessages.sessionId, sessionId), eq(chatMessages.clientMessageId, clientId)))
      .limit(1),
    db
      .select()
      .from(chatMessages)
      .where(and(eq(chatMessages.sessionId, sessionId), eq(chatMessages.idx, sql`(${existingIdx}) + 1`)))
      .limit(1),
    db
      .select({ tokens: sql<number>`coalesce(sum(${turnUsage.inputTokens} + ${turnUsage.outputTokens}), 0)::int` })
      .from(turnUsage)
      .where(
        and(
          eq(turnUsage.widgetId, widgetOf),
          sql`${turnUsage.createdAt} >= ${startOfUtcDay}`,
          // Summed only for a widget with a budget: the widget row is read in the same batch.
          sql`exists (select 1 from ${widgets} where ${widgets.id} = ${widgetOf} and ${widgets.dailyTokenBudget} is not null)`,
        ),
      ),
    db
      .select()
      .from(chatMessages)
      .where(and(eq(chatMessages.sessionId, sessionId), containing))
      .orderBy(desc(chatMessages.idx))
      .limit(1),
  ]);
  return {
    widget: widgetRows[0] ?? null,
    session: sessionRows[0] ?? null,
    template: templateRows[0] ?? null,
    history: historyRows.reverse(),
    messageCount: countRows[0]?.count ?? 0,
    existingUserMessage: existingRows[0] ?? null,
    replyToExisting: replyRows[0] ?? null,
    widgetTokensToday: tokenRows[0]?.tokens ?? 0,
    messageWithCall: callRows[0] ?? null,
  };
}

/** Creates a session and, when given, its greeting as message 0, atomically. */
export async function createSession(
  db: Database,
  {
    session,
    greeting,
  }: {
    session: typeof chatSessions.$inferInsert & { id: string };
    greeting: string | null;
  },
): Promise<ChatSession> {
  const insertSession = db.insert(chatSessions).values(session).returning();
  if (greeting === null) {
    const [row] = await insertSession;
    return row!;
  }
  const [[row]] = await db.batch([
    insertSession,
    db.insert(chatMessages).values({
      sessionId: session.id,
      idx: 0,
      role: "assistant",
      text: greeting,
      parts: [{ type: "text", text: greeting }],
      metadata: { status: "complete", greeting: true } satisfies MessageMetadata,
    }),
  ]);
  return row!;
}

export async function getSessionForWidget(
  db: Database,
  { sessionId, widgetId }: { sessionId: string; widgetId: string },
): Promise<ChatSession | null> {
  const [row] = await db
    .select()
    .from(chatSessions)
    .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.widgetId, widgetId)))
    .limit(1);
  return row ?? null;
}

export async function getSessionState(
  db: Database,
  { sessionId, widgetId }: { sessionId: string; widgetId: string },
): Promise<{ session: ChatSession; template: Template | null; messages: ChatMessage[] } | null> {
  const [sessionRows, messageRows] = await db.batch([
    db
      .select({ session: chatSessions, template: templates })
      .from(chatSessions)
      .leftJoin(templates, eq(templates.id, chatSessions.templateId))
      .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.widgetId, widgetId)))
      .limit(1),
    db.select().from(chatMessages).where(eq(chatMessages.sessionId, sessionId)).orderBy(chatMessages.idx),
  ]);
  const row = sessionRows[0];
  return row ? { session: row.session, template: row.template, messages: messageRows } : null;
}

export async function insertMessage(db: Database, { message }: { message: NewChatMessage }): Promise<void> {
  await db.insert(chatMessages).values(message);
}

/**
 * The guard of every turn's final write, as a statement for a `moved` CTE: moves the session on
 * (activity, node, turn sequence to `expectedTurnSeq + 1`) only if its turn sequence is still
 * `expectedTurnSeq`, returning its id — no row when another turn moved it on first.
 */
export function moveSessionOn({ sessionId, currentNode, expectedTurnSeq }: { sessionId: string; currentNode: string | null; expectedTurnSeq: number }): SQL {
  return sql`update ${chatSessions} set last_activity_at = now(), current_node = ${currentNode}, turn_seq = ${expectedTurnSeq + 1}
      where id = ${sessionId} and turn_seq = ${expectedTurnSeq}
      returning id`;
}

/**
 * A turn's final write: stores its reply and moves the session on (activity, node, turn sequence
 * to `expectedTurnSeq + 1`), in one statement — only if the session's turn sequence is still
 * `expectedTurnSeq`. A turn that lost its lease while a successor wrote finds it moved, and
 * writes nothing over that successor's history. Resolves false then.
 */
export async function saveReply(
  db: Database,
  { message, currentNode, expectedTurnSeq }: { message: NewChatMessage; currentNode: string | null; expectedTurnSeq: number },
): Promise<boolean> {
  const result = await db.execute(sql`
    with moved as (${moveSessionOn({ sessionId: message.sessionId, currentNode, expectedTurnSeq })})
    insert into ${chatMessages} (session_id, idx, role, text, parts, metadata)
    select id, ${message.idx}, ${message.role}, ${message.text ?? ""}, ${JSON.stringify(message.parts ?? [])}::jsonb,
           ${JSON.stringify(message.metadata ?? {})}::jsonb
    from moved
    returning idx`);
  return result.rows.length > 0;
}

/**
 * The final write of a turn that stored no reply: activity and turn sequence only, under the same
 * guard as {@link saveReply}. Resolves false when another turn moved the session on.
 */
export async function touchSession(db: Database, { sessionId, expectedTurnSeq }: { sessionId: string; expectedTurnSeq: number }): Promise<boolean> {
  const rows = await db
    .update(chatSessions)
    .set({ lastActivityAt: sql`now()`, turnSeq: expectedTurnSeq + 1 })
    .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.turnSeq, expectedTurnSeq)))
    .returning({ id: chatSessions.id });
  return rows.length > 0;
}

/** What a turn's opening write found: the session as it stands now, and whether it wrote. */
export interface TurnOpening {
  /** Null when the session no longer exists for this widget. */
  session: Pick<ChatSession, "status" | "channel"> | null;
  written: boolean;
}

/**
 * A turn's opening write, guarded by the session still being open for chat: stores the user
 * message (message turns) or marks the session active (initial turns) only if the session is
 * `active` in `chat` right now and its turn sequence is still the one the turn read. It runs
 * under the lock, in parallel with the model request, and is the turn's fresh check of gates 6–8
 * (gate 10). An open session that was not written has moved on under another turn.
 */
export async function openTurn(
  db: Database,
  {
    sessionId,
    widgetId,
    expectedTurnSeq,
    userMessage,
    channel = "chat",
  }: { sessionId: string; widgetId: string; expectedTurnSeq: number; userMessage?: NewChatMessage; channel?: ChatSession["channel"] },
): Promise<TurnOpening> {
  const open = sql`exists (select 1 from current where status = 'active' and channel = ${channel} and turn_seq = ${expectedTurnSeq})`;
  const write = userMessage
    ? sql`insert into ${chatMessages} (session_id, idx, client_message_id, role, text, parts)
          select ${sessionId}, ${userMessage.idx}, ${userMessage.clientMessageId ?? null}, 'user', ${userMessage.text ?? ""},
                 ${JSON.stringify(userMessage.parts ?? [])}::jsonb
          where ${open} returning 1`
    : sql`update ${chatSessions} set last_activity_at = now() where id = ${sessionId} and ${open} returning 1`;
  const result = await db.execute<{ status: ChatSession["status"]; channel: ChatSession["channel"]; written: number }>(sql`
    with current as (
      select status, channel, turn_seq from ${chatSessions} where id = ${sessionId} and widget_id = ${widgetId}
    ), wrote as (${write})
    select status, channel, (select count(*) from wrote)::int as written from current`);
  const row = result.rows[0];
  return row ? { session: { status: row.status, channel: row.channel }, written: row.written > 0 } : { session: null, written: false };
}

/** Ends an active session; the first end wins. Returns the session as it now stands. */
export async function endSession(
  db: Database,
  { sessionId, widgetId, reason }: { sessionId: string; widgetId: string; reason: string },
): Promise<ChatSession | null> {
  const [updated] = await db
    .update(chatSessions)
    .set({ status: "ended", endedAt: sql`now()`, endedReason: reason, lastActivityAt: sql`now()` })
    .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.widgetId, widgetId), eq(chatSessions.status, "active")))
    .returning();
  return updated ?? getSessionForWidget(db, { sessionId, widgetId });
}
