import { sql } from "drizzle-orm";
import type { Database } from "./client";
import { moveSessionOn } from "./queries";
import { chatMessages, type NewChatMessage } from "./schema";

// The final writes of turns that touch a reply which waited for the visitor (docs/architecture.md,
// "Waiting for the visitor"). Each is one statement under the same guard as `saveReply`
// (`moveSessionOn`): the session's turn sequence must still be the one the turn read.

/**
 * A continued turn's final write: the reply that waited is replaced by its grown self, at its own
 * idx, and the session moves on. Resolves false when another turn moved the session on.
 */
export async function saveContinuedReply(
  db: Database,
  { message, currentNode, expectedTurnSeq }: { message: NewChatMessage; currentNode: string | null; expectedTurnSeq: number },
): Promise<boolean> {
  const result = await db.execute(sql`
    with moved as (${moveSessionOn({ sessionId: message.sessionId, currentNode, expectedTurnSeq })})
    update ${chatMessages} set text = ${message.text ?? ""}, parts = ${JSON.stringify(message.parts ?? [])}::jsonb,
           metadata = ${JSON.stringify(message.metadata ?? {})}::jsonb
    where session_id = (select id from moved) and idx = ${message.idx}
    returning idx`);
  return result.rows.length > 0;
}

/**
 * A message turn's final write when the visitor wrote instead of answering a waiting reply: the
 * new reply is stored and the superseded one settled (its calls denied or failed), in one
 * statement. Resolves false when another turn moved the session on.
 */
export async function saveReplySettling(
  db: Database,
  { message, settled, currentNode, expectedTurnSeq }: {
    message: NewChatMessage;
    settled: Pick<NewChatMessage, "idx" | "parts" | "metadata">;
    currentNode: string | null;
    expectedTurnSeq: number;
  },
): Promise<boolean> {
  const result = await db.execute(sql`
    with moved as (${moveSessionOn({ sessionId: message.sessionId, currentNode, expectedTurnSeq })}), settled as (
      update ${chatMessages} set parts = ${JSON.stringify(settled.parts ?? [])}::jsonb, metadata = ${JSON.stringify(settled.metadata ?? {})}::jsonb
      where session_id = (select id from moved) and idx = ${settled.idx}
      returning 1
    )
    insert into ${chatMessages} (session_id, idx, role, text, parts, metadata)
    select id, ${message.idx}, ${message.role}, ${message.text ?? ""}, ${JSON.stringify(message.parts ?? [])}::jsonb,
           ${JSON.stringify(message.metadata ?? {})}::jsonb
    from moved
    returning idx`);
  return result.rows.length > 0;
}
