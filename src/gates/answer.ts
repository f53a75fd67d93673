import { createMiddleware } from "hono/factory";
import type { GateEnv } from "../env";
import { continueWaitingReply, type ContinuedTurn } from "../turn/continue";
import type { AnswerVariables } from "./answer-body";
import type { TurnVariables } from "./turn";

export interface ContinuedTurnVariables {
  /** Gate 17: the waiting reply the answer continues, answered. */
  continued: ContinuedTurn;
}

/**
 * Gate 17 of the approval and tool-result routes (docs/architecture.md): the answer names a call
 * that waits in the session's last reply. Runs after the turn gates, on their snapshot; a refusal
 * releases the lock they took, off the response path.
 */
export const answerGate = () =>
  createMiddleware<GateEnv<AnswerVariables & TurnVariables & ContinuedTurnVariables>>(async function answerGate(c, next) {
    const { turn, answer } = c.var;
    try {
      if (turn.action !== "run") throw new Error("an answer turn is never a replay");
      c.set("continued", continueWaitingReply({ sessionId: turn.session.id, snapshot: turn.snapshot, answer }));
    } catch (error) {
      c.executionCtx.waitUntil(turn.lock.release());
      throw error;
    }
    await next();
  });
