import type { LanguageModelUsage } from "ai";
import type { Database } from "../db/client";
import { saveContinuedReply, saveReplySettling } from "../db/pending-queries";
import { saveReply, touchSession } from "../db/queries";
import type { MessageMetadata } from "../db/schema";
import type { ModelTurnStatus, ParleyUIMessage, TurnStatus } from "./message";
import type { ModelOutcome } from "./model-stream";
import type { TurnPlan } from "./plan";

const STORED_STATUS: Record<TurnStatus, MessageMetadata["status"]> = {
  completed: "complete",
  awaiting_approval: "complete",
  awaiting_tool_result: "complete",
  canceled: "canceled",
  failed: "interrupted",
};

/**
 * The final write found the session moved on by another turn (this one lost its lease): nothing
 * was written over that turn's history.
 */
export class TurnOvertakenError extends Error {
  constructor(sessionId: string) {
    super(`session ${sessionId} was moved on by another turn; this turn's reply is not stored`);
    this.name = "TurnOvertakenError";
  }
}

/** How the model part of a turn ended, as `data-turn-end` reports it. */
export function turnStatus(outcome: ModelOutcome): ModelTurnStatus {
  if (outcome.abortReason === "cancel") return "canceled";
  return outcome.failed || outcome.abortReason ? "failed" : "completed";
}

/**
 * The turn's final write: stores the reply at `idx` and moves the session on (last activity,
 * current node, turn sequence to `plan.turnSeq + 1`), atomically. A reply that failed before
 * producing anything is not stored — a retry of the same message then runs again — and only
 * bumps the session. Resolves the stored idx, or null.
 */
export async function storeReply(
  db: Database,
  { plan, idx, reply, outcome, status, awaiting }: {
    plan: TurnPlan;
    idx: number;
    reply: ParleyUIMessage;
    outcome: ModelOutcome;
    status: TurnStatus;
    /** Set when the reply ends waiting for the visitor. */
    awaiting?: MessageMetadata["awaiting"];
  },
): Promise<number | null> {
  const hasContent = reply.parts.some((part) => part.type !== "step-start");
  if (status === "failed" && !hasContent) {
    if (!(await touchSession(db, { sessionId: plan.sessionId, expectedTurnSeq: plan.turnSeq }))) throw new TurnOvertakenError(plan.sessionId);
    return null;
  }
  const errorCode =
    outcome.errorCode ??
    (outcome.abortReason === "deadline" ? "turn_deadline" : outcome.abortReason === "lease_lost" ? "turn_interrupted" : undefined);
  const metadata: MessageMetadata = {
    status: STORED_STATUS[status],
    model: plan.template.model.modelId,
    ...(outcome.finishReason ? { finishReason: outcome.finishReason } : {}),
    ...(outcome.usage ? { usage: pickUsage(outcome.usage) } : {}),
    ...(errorCode ? { error: errorCode } : {}),
    ...(awaiting ? { awaiting } : {}),
  };
  const write = {
    message: { sessionId: plan.sessionId, idx, role: "assistant" as const, text: textOf(reply), parts: finished(reply.parts), metadata },
    currentNode: outcome.node,
    expectedTurnSeq: plan.turnSeq,
  };
  const { superseded } = plan;
  const saved = plan.continuation
    ? await saveContinuedReply(db, write)
    : superseded
      ? await saveReplySettling(db, { ...write, settled: { idx: superseded.idx, parts: superseded.parts, metadata: superseded.metadata } })
      : await saveReply(db, write);
  if (!saved) throw new TurnOvertakenError(plan.sessionId);
  return idx;
}

/** Stored parts are final: a text cut short by a cancel is no longer `streaming`. */
function finished(parts: ParleyUIMessage["parts"]): ParleyUIMessage["parts"] {
  return parts.map((part) => ("state" in part && part.state === "streaming" ? { ...part, state: "done" } : part)) as ParleyUIMessage["parts"];
}

function textOf(message: ParleyUIMessage): string {
  return message.parts.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("");
}

function pickUsage(usage: LanguageModelUsage): NonNullable<MessageMetadata["usage"]> {
  return {
    ...(usage.inputTokens !== undefined ? { inputTokens: usage.inputTokens } : {}),
    ...(usage.outputTokens !== undefined ? { outputTokens: usage.outputTokens } : {}),
    ...(usage.totalTokens !== undefined ? { totalTokens: usage.totalTokens } : {}),
  };
}
