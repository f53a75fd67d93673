import { and, eq, sql } from "drizzle-orm";
import type { Database } from "./client";
import { turnUsage, type NewTurnUsage } from "./schema";

/** Midnight UTC today, as Postgres computes it: where a daily budget's count starts. */
export const startOfUtcDay = sql`date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'`;

/** Appends one turn's usage record (`turn_usage` is never updated). */
export async function recordTurnUsage(db: Database, { usage }: { usage: NewTurnUsage }): Promise<void> {
  await db.insert(turnUsage).values(usage);
}

/** Model tokens (in + out) the widget's turns used since midnight UTC: what its daily budget counts. */
export async function getWidgetTokensToday(db: Database, { widgetId }: { widgetId: string }): Promise<number> {
  const [row] = await db
    .select({ tokens: sql<number>`coalesce(sum(${turnUsage.inputTokens} + ${turnUsage.outputTokens}), 0)::int` })
    .from(turnUsage)
    .where(and(eq(turnUsage.widgetId, widgetId), sql`${turnUsage.createdAt} >= ${startOfUtcDay}`));
  return row?.tokens ?? 0;
}
