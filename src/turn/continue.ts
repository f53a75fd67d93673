import type { TurnSnapshot } from "../db/queries";
import type { ChatMessage } from "../db/schema";
import { ApiError } from "../errors";
import type { VisitorAnswer } from "./answer-request";
import {
  APPROVAL_SUPERSEDED,
  APPROVAL_TIMED_OUT,
  applyDecision,
  applyToolAnswer,
  awaitingStatus,
  clientToolNamesOf,
  isExpired,
  lookupApproval,
  lookupClientCall,
  TOOL_RESULT_SUPERSEDED,
  TOOL_RESULT_TIMED_OUT,
} from "./pending";
import type { TurnContinuation } from "./plan";
import { toUIMessage } from "./prompt";

/** A continued turn's input: how it goes on, and the history the model sees (ending with the answered reply). */
export interface ContinuedTurn {
  continuation: TurnContinuation;
  history: ChatMessage[];
}

/**
 * Gate 17 (docs/architecture.md): the answer must name a call of this session that waits in its
 * last reply. An unknown id answers 404; a call already decided or answered (or settled by a
 * newer message) 409 with the first answer. An answer after the wait's end is not refused: the
 * model is told the call timed out. Returns the turn that continues the reply.
 */
export function continueWaitingReply(
  { sessionId, snapshot, answer, now = Date.now() }: { sessionId: string; snapshot: TurnSnapshot; answer: VisitorAnswer; now?: number },
): ContinuedTurn {
  const message = snapshot.messageWithCall;
  // Only the last stored message can still wait: any later turn settled it.
  const isLast = message !== null && message.idx === snapshot.messageCount - 1;
  let answered: { parts: ChatMessage["parts"]; chunk: TurnContinuation["lead"][number] };
  if (answer.kind === "approval") {
    const found = lookupApproval(message, answer.approvalId);
    if (found.found === "none") {
      throw new ApiError("approval_not_found", { message: `No approval request "${answer.approvalId}" in this session.` });
    }
    if (found.found === "decided" || !isLast) {
      const decision = found.found === "decided" ? found.decision : { approved: false, reason: APPROVAL_SUPERSEDED };
      throw new ApiError("already_decided", { details: { approvalId: answer.approvalId, decision } });
    }
    const decision = isExpired(message, now)
      ? { approved: false, reason: APPROVAL_TIMED_OUT }
      : { approved: answer.approved, ...(answer.reason === undefined ? {} : { reason: answer.reason }) };
    answered = applyDecision(message.parts as never, answer.approvalId, decision);
  } else {
    const found = lookupClientCall(message, answer.toolCallId, clientToolNamesOf(snapshot.template));
    if (found.found === "none") {
      throw new ApiError("tool_call_not_found", { message: `No call "${answer.toolCallId}" of a client tool in this session.` });
    }
    if (found.found === "answered" || !isLast) {
      const first = found.found === "answered" ? found.answer : { errorText: TOOL_RESULT_SUPERSEDED };
      throw new ApiError("already_answered", { details: { toolCallId: answer.toolCallId, answer: first } });
    }
    answered = applyToolAnswer(
      message.parts as never,
      answer.toolCallId,
      isExpired(message, now) ? { errorText: TOOL_RESULT_TIMED_OUT } : { output: answer.output },
    );
  }
  const updated: ChatMessage = { ...message, parts: answered.parts };
  const expiresAt = (message.metadata as { awaiting?: { expiresAt: string } }).awaiting?.expiresAt;
  return {
    continuation: {
      kind: answer.kind,
      idx: message.idx,
      message: toUIMessage(sessionId, message),
      lead: [answered.chunk],
      stillWaiting: awaitingStatus(updated) !== null,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    },
    history: snapshot.history.map((stored) => (stored.idx === message.idx ? updated : stored)),
  };
}
