import type { MessageBody } from "./request";
import type { TurnDeps, TurnPlan } from "./plan";
import { runTurn } from "./run";
import type { ContinuedTurn } from "./continue";
import { supersede } from "./pending";
import { completedStreamResponse } from "./stream";
import type { GatedTurn } from "./wave";

export interface StartTurnOptions {
  /** The message route's body; absent on the initial turn. */
  message?: MessageBody;
  /** Hands the turn's work to the runtime (`ctx.waitUntil`), so it outlives the response. */
  waitUntil: (work: Promise<unknown>) => void;
  /** The request's abort signal: it fires when the client disconnects. */
  requestSignal?: AbortSignal;
  /** The request's id, for the turn's log lines. */
  requestId?: string;
  /** Approval and tool-result routes: the waiting reply the turn continues (gate 17). */
  continued?: ContinuedTurn;
}

/**
 * Starts a turn the gates let through. A replay (gate 12) answers at once and frees the lock.
 * Otherwise the turn runs in `waitUntil`, and the response resolves once its opening write has
 * settled: 200 with the stream, or the status of a session that changed meanwhile (gate 10).
 */
export function startTurn(turn: GatedTurn, deps: TurnDeps, { message, waitUntil, requestSignal, requestId, continued }: StartTurnOptions): Promise<Response> {
  if (turn.action === "replay") {
    waitUntil(turn.lock.release());
    return Promise.resolve(completedStreamResponse(turn.chunks));
  }
  const { session, template, snapshot, lock } = turn;
  // A new message while the last reply waits for the visitor settles that wait (the model is told).
  const waiting = message ? snapshot.history.findLast((stored) => stored.role === "assistant") : undefined;
  const superseded = waiting ? supersede(waiting) : null;
  const history = continued?.history ?? (superseded ? snapshot.history.map((stored) => (stored.idx === superseded.idx ? superseded : stored)) : snapshot.history);
  const plan: TurnPlan = {
    sessionId: session.id,
    widgetId: session.widgetId,
    template,
    templateVars: session.templateVars,
    visitorProvidedVars: session.visitorProvidedVars,
    storedNode: session.currentNode,
    history,
    nextIdx: snapshot.messageCount,
    turnSeq: session.turnSeq,
    gateRoundTrips: 1 + turn.fenceRereads,
    pageContext: turn.pageContext,
    channel: session.channel,
    ...(continued ? { continuation: continued.continuation } : {}),
    ...(superseded ? { superseded } : {}),
    ...(message
      ? { user: { clientMessageId: message.id, text: message.text, ...(turn.storedUserIdx === undefined ? {} : { storedIdx: turn.storedUserIdx }) } }
      : {}),
  };
  return new Promise<Response>((respond) => {
    waitUntil(runTurn(plan, { ...deps, lock, respond, ...(requestSignal ? { requestSignal } : {}), ...(requestId ? { requestId } : {}) }));
  });
}
