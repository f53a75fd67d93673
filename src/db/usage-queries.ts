import type { Database } from "./client";
import { turnUsage, type NewTurnUsage } from "./schema";

/** Appends one turn's usage record (`turn_usage` is never updated). */
export async function recordTurnUsage(db: Database, { usage }: { usage: NewTurnUsage }): Promise<void> {
  await db.insert(turnUsage).values(usage);
}
