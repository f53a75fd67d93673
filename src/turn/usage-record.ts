import type { LanguageModelUsage } from "ai";
import type { Database } from "../db/client";
import type { NewTurnUsage } from "../db/schema";
import { recordTurnUsage } from "../db/usage-queries";
import type { ModelTurnStatus } from "./message";
import type { ModelOutcome } from "./model-stream";
import type { TurnPlan } from "./plan";

/** Token counts of a turn; the details are null when the provider did not report them. */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number | null;
  reasoningTokens: number | null;
}

/**
 * A turn's token counts from the AI SDK's usage (summed over its steps). An aborted turn's
 * total may be empty while finished steps reported theirs: `stepUsage` is the fallback.
 */
export function tokenCounts(usage: LanguageModelUsage | undefined, stepUsage: LanguageModelUsage[] = []): TokenCounts {
  const reported = usage && (usage.inputTokens !== undefined || usage.outputTokens !== undefined) ? [usage] : stepUsage;
  const sum = (pick: (u: LanguageModelUsage) => number | undefined): number | null =>
    reported.reduce<number | null>((total, u) => (pick(u) === undefined ? total : (total ?? 0) + pick(u)!), null);
  return {
    inputTokens: sum((u) => u.inputTokens) ?? 0,
    outputTokens: sum((u) => u.outputTokens) ?? 0,
    cachedInputTokens: sum((u) => u.inputTokenDetails?.cacheReadTokens),
    reasoningTokens: sum((u) => u.outputTokenDetails?.reasoningTokens),
  };
}

/** The usage record of a finished turn. */
export function turnUsageRow(
  plan: TurnPlan,
  outcome: ModelOutcome,
  { status, storedIdx }: { status: ModelTurnStatus; storedIdx: number | null | undefined },
): NewTurnUsage {
  return {
    tenantId: plan.template.tenantId,
    widgetId: plan.widgetId,
    sessionId: plan.sessionId,
    templateId: plan.template.id,
    messageIdx: storedIdx ?? null,
    kind: plan.continuation?.kind ?? (plan.user ? "message" : "initial"),
    status,
    model: plan.template.model.modelId,
    finishReason: outcome.finishReason ?? null,
    ...tokenCounts(outcome.usage, outcome.stepUsage),
    toolCalls: outcome.toolCalls ?? 0,
    timeToFirstTokenMs: outcome.timeToFirstTokenMs ?? null,
    durationMs: outcome.durationMs ?? 0,
  };
}

/**
 * Appends the turn's usage record. Runs after the reply is stored (the record names its idx)
 * and never on the response path; a failure is logged, the turn is not affected.
 */
export function recordUsage(db: Database, row: NewTurnUsage): Promise<void> {
  return recordTurnUsage(db, { usage: row }).catch((error: unknown) =>
    console.error("recording the turn's usage failed", { sessionId: row.sessionId, error: String(error) }),
  );
}
