import type { FinishReason } from "ai";
import type { McpToolset } from "../agent/mcp";
import { openTurn, type TurnOpening } from "../db/queries";
import { ApiError } from "../errors";
import type { SessionLock } from "../lock";
import { assertSessionOpenFor } from "../sessions/status";
import { errorFields, log } from "../log/log";
import { streamErrorText } from "./errors";
import { assembleMessage, messageId, type AssistantMetadata, type ParleyChunk, type ParleyUIMessage, type TurnStatus } from "./message";
import { streamModel, type ModelOutcome } from "./model-stream";
import { awaitingFor, awaitingStatus, clientToolNamesOf } from "./pending";
import { storeReply, turnStatus } from "./persist";
import type { TurnDeps, TurnPlan } from "./plan";
import { watchStops } from "./stops";
import { recordUsage, turnUsageRow } from "./usage-record";
import { openResumableTurnStream } from "./resume-buffer";
import { createRedis } from "../redis";

export interface RunTurnDeps extends TurnDeps {
  /** The session lock, handed over by the gate that took it. */
  lock: SessionLock;
  /** Called once, when the opening write has settled: with the stream, or with a refusal. */
  respond: (response: Response) => void;
  /** The request's abort signal: it fires when the client disconnects. */
  requestSignal?: AbortSignal;
  /** The request's id, for the turn's log lines. */
  requestId?: string;
}

/**
 * Runs one turn to its end (docs/architecture.md, "A turn"):
 *
 * 1. the opening write (the user message, guarded by the session still being open) and the
 *    model request start together; model output is held back until the write has committed;
 * 2. the response is given: 200 with the stream, or the refusal of a session that changed;
 * 3. the model streams; then the final write and the lock's release run in parallel — one round
 *    trip — before `data-turn-end` and `finish`.
 *
 * Never rejects: it runs in `waitUntil`, and every path ends in `finally`.
 */
export async function runTurn(plan: TurnPlan, deps: RunTurnDeps): Promise<void> {
  const { db, lock, config } = deps;
  const { sessionId } = plan;
  // Also buffered in Redis, so a client that reloads can resume the reply (GET /stream). The
  // buffer's writes go through a client that leaves their (unread) replies unparsed.
  const stream = openResumableTurnStream(createRedis(config, { deserialize: false }), { sessionId, keyPrefix: config.redisKeyPrefix, lockToken: lock.token, requestSignal: deps.requestSignal });
  const stops = watchStops({
    redis: deps.redis,
    keyPrefix: config.redisKeyPrefix,
    lock,
    leaseMs: config.lockLeaseMs,
    deadlineMs: config.turnDeadlineMs,
    disconnectGraceMs: config.disconnectGraceMs,
    clientGone: stream.clientGone,
  });
  const toolsets: McpToolset[] = [];
  // Started after the final write, awaited only once the stream is closed: the usage record.
  const afterwards: Promise<void>[] = [];

  const storesUser = plan.user !== undefined && plan.user.storedIdx === undefined;
  const userIdx = plan.user?.storedIdx ?? plan.nextIdx;
  // A continued reply keeps its idx and grows in place.
  const assistantIdx = plan.continuation?.idx ?? plan.nextIdx + (storesUser ? 1 : 0);
  const metadata: AssistantMetadata = { sessionId, idx: assistantIdx };
  const start: ParleyChunk = { type: "start", messageId: messageId(sessionId, assistantIdx), messageMetadata: metadata };

  // For the turn's log line: ids, codes and figures, never text.
  const startedAt = Date.now();
  let ttftMs: number | undefined;
  let errorCode: string | undefined;
  let usage: ModelOutcome["usage"];
  let openingSettled = false;
  let finalWriteDone = false;

  const modelChunks: ParleyChunk[] = [];
  // Nothing of the model's goes out before the user message is stored: held until then.
  let held: ParleyChunk[] | null = [];
  const send = (chunk: ParleyChunk) => {
    if (ttftMs === undefined && (chunk.type === "text-delta" || chunk.type === "tool-input-available")) ttftMs = Date.now() - startedAt;
    if (chunk.type === "error") errorCode ??= chunk.errorText.slice(0, chunk.errorText.indexOf(":"));
    modelChunks.push(chunk);
    if (held) held.push(chunk);
    else stream.write(chunk);
  };
  const end = (status: TurnStatus, storedIdx: number | null, finishReason?: FinishReason) => {
    stream.write({ type: "data-turn-end", data: { status, assistantIdx: storedIdx }, transient: true });
    stream.write({ type: "finish", messageMetadata: metadata, ...(finishReason ? { finishReason } : {}) });
    log(status === "failed" ? "warn" : "info", "turn", {
      requestId: deps.requestId,
      sessionId,
      widgetId: plan.widgetId,
      kind: plan.continuation?.kind ?? (plan.user ? (plan.channel === "voice" ? "voice" : "message") : "initial"),
      status,
      assistantIdx: storedIdx,
      errorCode,
      finishReason,
      ttftMs,
      durationMs: Date.now() - startedAt,
      // Sequential round trips the turn waited on: the gates', the opening write, the final write.
      storeRoundTrips: plan.gateRoundTrips + (openingSettled ? 1 : 0) + (finalWriteDone ? 1 : 0),
      inputTokens: usage?.inputTokens,
      outputTokens: usage?.outputTokens,
    });
  };
  let responded = false;
  const respond = (response: Response) => {
    if (responded) return;
    responded = true;
    deps.respond(response);
  };

  try {
    const opening = openTurn(db, {
      sessionId,
      widgetId: plan.widgetId,
      expectedTurnSeq: plan.turnSeq,
      channel: plan.channel ?? "chat",
      ...(storesUser && plan.user
        ? {
            userMessage: {
              sessionId,
              idx: userIdx,
              clientMessageId: plan.user.clientMessageId,
              role: "user" as const,
              text: plan.user.text,
              parts: [{ type: "text" as const, text: plan.user.text }],
            },
          }
        : {}),
    }).then(
      (found): { ok: true; found: TurnOpening } => ({ ok: true, found }),
      (error: unknown): { ok: false; error: unknown } => ({ ok: false, error }),
    );
    plan.continuation?.lead.forEach(send);
    const model = plan.continuation?.stillWaiting ? Promise.resolve(waitingOutcome(plan)) : streamModel(plan, { deps, abortSignal: stops.signal, send, toolsets });
    // Awaited only after the opening write: a failure meanwhile must not count as unhandled.
    model.catch(() => undefined);
    const opened = await opening;
    openingSettled = true;

    if (!opened.ok || !opened.found.written) {
      stops.stop("refused");
      await model.catch(() => undefined);
      await lock.release();
      if (opened.ok) return respond(refusal(opened.found, plan.channel ?? "chat"));
      log("error", "storing the user message failed", { requestId: deps.requestId, sessionId, ...errorFields(opened.error) });
      stream.write(start);
      errorCode = "persist_failed";
      stream.write({ type: "error", errorText: streamErrorText("persist_failed", "Your message could not be saved. Please try again.") });
      end("failed", null);
      return respond(stream.response);
    }

    stream.write(start);
    if (plan.user) stream.write({ type: "data-user-committed", data: { idx: userIdx }, transient: true });
    held.forEach((chunk) => stream.write(chunk));
    held = null;
    respond(stream.response);

    const outcome = await model;
    usage = outcome.usage;
    if (outcome.abortReason === "deadline") send({ type: "error", errorText: streamErrorText("turn_deadline") });
    if (outcome.abortReason === "lease_lost") send({ type: "error", errorText: streamErrorText("turn_interrupted") });
    const { status, storedIdx } = await finishTurn(plan, deps, { outcome, reply: [start, ...modelChunks], assistantIdx, afterwards });
    finalWriteDone = true;
    if (storedIdx === undefined) send({ type: "error", errorText: streamErrorText("persist_failed") });
    end(status, storedIdx ?? null, outcome.finishReason);
  } catch (error) {
    log("error", "turn failed unexpectedly", { requestId: deps.requestId, sessionId, ...errorFields(error) });
    await lock.release();
    if (!responded) stream.write(start);
    held = null;
    send({ type: "error", errorText: streamErrorText("model_error") });
    end("failed", null);
    respond(stream.response);
  } finally {
    stops.dispose();
    await lock.release();
    stream.close();
    respond(stream.response);
    await lock.settled();
    await Promise.all([stream.settled(), ...toolsets.map((toolset) => toolset.close()), ...afterwards]);
  }
}

/**
 * The turn's final write and the lock's release, in parallel: one round trip after the last
 * token. The release leaves the new turn sequence for the fence of the next turn, which may
 * start before the write is visible. `storedIdx` is undefined when the write failed.
 */
async function finishTurn(
  plan: TurnPlan,
  { db, lock }: Pick<RunTurnDeps, "db" | "lock">,
  { outcome, reply, assistantIdx, afterwards }: { outcome: ModelOutcome; reply: ParleyChunk[]; assistantIdx: number; afterwards: Promise<void>[] },
): Promise<{ status: TurnStatus; storedIdx: number | null | undefined }> {
  const message = await assembleMessage(reply, plan.continuation?.message);
  const awaiting = awaitingOf(plan, message);
  const modelStatus = turnStatus(outcome);
  // The model finished by calling a tool that waits for the visitor: the turn ends waiting.
  const status = modelStatus === "completed" && awaiting ? awaitingStatus({ parts: message.parts, metadata: { status: "complete", awaiting } }) ?? modelStatus : modelStatus;
  const [storedIdx] = await Promise.all([
    storeReply(db, { plan, idx: assistantIdx, reply: message, outcome, status, ...(awaiting ? { awaiting } : {}) }).catch((error: unknown) => {
      log("error", "storing the reply failed", { sessionId: plan.sessionId, ...errorFields(error) });
      return undefined;
    }),
    lock.release({ turnSeq: plan.turnSeq + 1 }),
  ]);
  const final = storedIdx === undefined ? "failed" : status;
  // Not awaited here: `data-turn-end` and `finish` go out while the usage record is written.
  // The usage record knows the model's part only: a turn ending in a wait completed it.
  afterwards.push(recordUsage(db, turnUsageRow(plan, outcome, { status: storedIdx === undefined ? "failed" : modelStatus, storedIdx })));
  return { status: final, storedIdx };
}

/** The wait a reply ends in, if any; while other calls of a continued reply wait, the original one. */
function awaitingOf(plan: TurnPlan, message: ParleyUIMessage) {
  const awaiting = awaitingFor(message, clientToolNamesOf(plan.template), plan.template.pendingTimeoutSeconds);
  const kept = plan.continuation?.stillWaiting ? plan.continuation.expiresAt : undefined;
  return awaiting && kept ? { ...awaiting, expiresAt: kept } : awaiting;
}

/** The outcome of a continued turn whose reply still waits on other calls: the model is not asked. */
function waitingOutcome(plan: TurnPlan): ModelOutcome {
  return { failed: false, node: plan.storedNode, abortReason: null, stepUsage: [], toolCalls: 0, finishReason: "tool-calls" };
}

/** The answer for a session that changed between the wave and the opening write (gate 10). */
function refusal(found: TurnOpening, channel: NonNullable<TurnPlan["channel"]>): Response {
  try {
    assertSessionOpenFor(found.session, channel);
  } catch (error) {
    if (error instanceof ApiError) return error.toResponse();
    throw error;
  }
  // Open for chat, yet nothing was written: the session moved on under us; ask for a retry.
  return new ApiError("turn_in_progress").toResponse();
}
