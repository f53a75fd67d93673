import type { Redis } from "@upstash/redis/cloudflare";
import { createMiddleware } from "hono/factory";
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import { clientIpKey, judgeRateLimit, rateLimitError } from "../limits";
import { assertSessionOpenFor } from "../sessions/status";
import { validateTemplate } from "../templates/validate";
import { fenceSnapshot } from "../turn/fence";
import { replayChunks } from "../turn/replay";
import type { TurnKind } from "../turn/plan";
import { readSnapshot, readTurnWave, type GatedTurn, type TurnWave, type TurnWaveInput } from "../turn/wave";
import { turnContext, type PageContext } from "../page-context/context";
import { answeredCallPattern } from "../turn/pending";
import type { AnswerVariables } from "./answer-body";
import type { MessageVariables } from "./body";
import { assertOriginAllowed, pageOrigin } from "../sessions/origin";
import type { TokenVariables } from "./token";

export interface TurnVariables {
  /** What gates 3–16 decided: run the turn, or replay a stored reply (gate 12). */
  turn: GatedTurn;
}

/**
 * Gates 3–13 of a turn route on one wave (docs/architecture.md): one Upstash request in
 * parallel with one Neon request, then every check in the design's order on what they returned.
 * A refusal after the lock was taken releases it, off the response path.
 */
export const turnGate = (kind: Exclude<TurnKind, "voice">) =>
  createMiddleware<GateEnv<TokenVariables & Partial<MessageVariables> & Partial<AnswerVariables> & TurnVariables>>(async function turnGate(c, next) {
    const clientMessageId = kind === "message" ? c.var.message?.id : undefined;
    const messageContext = kind === "message" ? c.var.message?.context : undefined;
    const partsContaining = c.var.answer ? answeredCallPattern(c.var.answer) : undefined;
    c.set(
      "turn",
      await gateTurn(c.var, {
        kind,
        request: c.req.raw,
        sessionId: c.var.claims.sid,
        widgetId: c.var.claims.wid,
        waitUntil: (work) => c.executionCtx.waitUntil(work),
        ...(clientMessageId === undefined ? {} : { clientMessageId }),
        ...(messageContext === undefined ? {} : { messageContext }),
        ...(partsContaining === undefined ? {} : { partsContaining }),
      }),
    );
    await next();
  });

/**
 * The wave and gates 3–16 for a turn of `kind` on a session of a widget. Voice turns (the
 * service API) are not rate-limited: gate 5 counts visitors, and one voice bot speaks for many.
 */
export async function gateTurn(
  { db, redis, config }: { db: Database; redis: Redis; config: Config },
  { kind, request, sessionId, widgetId, clientMessageId, partsContaining, messageContext, waitUntil }: {
    kind: TurnKind;
    request: Request;
    sessionId: string;
    /** The token's widget; null: the session's own, read in the same wave (voice turns). */
    widgetId: string | null;
    clientMessageId?: string;
    /** An answer turn's pattern for the stored reply holding the call it answers (gate 17). */
    partsContaining?: TurnWaveInput["partsContaining"];
    /** The message's own page `context`, for this turn only. */
    messageContext?: PageContext;
    waitUntil: (work: Promise<unknown>) => void;
  },
): Promise<GatedTurn> {
  const input: TurnWaveInput = {
    sessionId,
    widgetId,
    ipKey: kind === "voice" ? null : clientIpKey(request),
    historyLimit: config.historyLimit,
    lockTtlMs: config.lockLeaseMs,
    keyPrefix: config.redisKeyPrefix,
    ...(clientMessageId === undefined ? {} : { clientMessageId }),
    ...(partsContaining === undefined ? {} : { partsContaining }),
  };
  const wave = await readTurnWave({ db, redis }, input);
  try {
    return await judgeTurnWave(wave, {
      kind,
      origin: pageOrigin(request),
      redis,
      readAgain: () => readSnapshot(db, input),
      ...(messageContext === undefined ? {} : { messageContext }),
    });
  } catch (error) {
    if (wave.lock.ok) waitUntil(wave.lock.lock.release());
    throw error;
  }
}

/**
 * Gates 3–16 on a wave's results, in the design's order (14: the session's turn cap, 15: the
 * widget's daily token budget, 16: the page context within its cap). Throws the first refusal.
 */
export async function judgeTurnWave(
  wave: TurnWave,
  { kind, origin, redis, readAgain, messageContext }: {
    kind: TurnKind;
    origin: string | null;
    redis: Redis;
    readAgain: () => ReturnType<typeof readSnapshot>;
    /** The message's own `context`, for this turn only. */
    messageContext?: PageContext;
  },
): Promise<GatedTurn> {
  if (!wave.snapshot.ok) throw wave.snapshot.error;
  const { widget } = wave.snapshot.value;
  // 3 — a voice turn names no widget: its widget is its session's, and a session that does not
  // exist has none (gate 6's 404, answered first).
  if (kind === "voice" && !wave.snapshot.value.session) throw new ApiError("session_not_found");
  if (!widget?.active) throw new ApiError("widget_inactive");
  // 4
  assertOriginAllowed(origin, widget, { required: false });
  // 5 (not for voice turns: see gateTurn)
  if (wave.rateLimit) {
    const limit = await judgeRateLimit(redis, wave.rateLimit, widget.messagesPerIpHour);
    if (!limit.ok) throw rateLimitError(limit);
  }
  // 6–8: chat turns need the session in chat, voice turns need voice attached
  const channel = kind === "voice" ? "voice" : "chat";
  assertSessionOpenFor(wave.snapshot.value.session, channel);
  // 9
  if (!wave.lock.ok) {
    if (wave.lock.reason === "busy") throw new ApiError("turn_in_progress");
    throw new ApiError("unavailable", {
      message: "The session lock store is unreachable; retry shortly.",
      details: { store: "redis" },
      cause: wave.lock.cause,
    });
  }
  const { lock } = wave.lock;
  // The fence: never judge 6–13 on a read older than the previous turn's final write.
  const { snapshot, rereads: fenceRereads } = await fenceSnapshot(wave.snapshot.value, lock.turnSeq, async () => {
    const again = await readAgain();
    if (!again.ok) throw again.error;
    return again.value;
  });
  const session = assertSessionOpenFor(snapshot.session, channel);
  // 11
  if (kind === "initial" && snapshot.messageCount > 0) throw new ApiError("session_not_fresh");
  // 12
  let storedUserIdx: number | undefined;
  if (kind !== "initial" && snapshot.existingUserMessage) {
    const userIdx = snapshot.existingUserMessage.idx;
    const reply = snapshot.replyToExisting;
    if (reply) {
      const answer = reply.role === "assistant" ? reply : null;
      return { action: "replay", lock, chunks: replayChunks({ sessionId: session.id, userIdx, reply: answer }) };
    }
    // Stored, never answered (its turn failed before any output): answer it now.
    storedUserIdx = userIdx;
  }
  // 13
  if (!snapshot.template) throw new ApiError("template_missing");
  const template = validateTemplate(snapshot.template);
  // 14
  if (template.turnsPerSession > 0 && session.turnSeq >= template.turnsPerSession) {
    throw new ApiError("session_limit", { details: { turnsPerSession: template.turnsPerSession } });
  }
  // 15
  if (widget.dailyTokenBudget !== null && snapshot.widgetTokensToday >= widget.dailyTokenBudget) {
    const retryAfterSeconds = secondsUntilUtcMidnight();
    throw new ApiError("budget_exhausted", {
      details: { dailyTokenBudget: widget.dailyTokenBudget, retryAfterSeconds },
      headers: { "Retry-After": String(retryAfterSeconds) },
    });
  }
  // 16: the page context this turn renders; a message's own context may not take it over the cap.
  const pageContext = turnContext(session.pageContext, messageContext, template.pageContext);
  return {
    action: "run",
    lock,
    widget,
    session,
    template,
    snapshot,
    fenceRereads,
    pageContext,
    ...(storedUserIdx === undefined ? {} : { storedUserIdx }),
  };
}

/** Seconds until the next midnight UTC, when the daily token budget starts over; at least 1. */
function secondsUntilUtcMidnight(now = Date.now()): number {
  const midnight = new Date(now);
  midnight.setUTCHours(24, 0, 0, 0);
  return Math.max(1, Math.ceil((midnight.getTime() - now) / 1000));
}
