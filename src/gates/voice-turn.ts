import { createMiddleware } from "hono/factory";
import { z } from "zod";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import type { MessageVariables } from "./body";
import { gateTurn, type TurnVariables } from "./turn";

const sessionId = z.uuid();

/** The service API's `:id`: a session id (UUID); anything else is a session that cannot exist. */
export function sessionIdParam(value: string | undefined): string {
  const parsed = sessionId.safeParse(value);
  if (!parsed.success) throw new ApiError("session_not_found");
  return parsed.data;
}

/**
 * The voice turn's gates: the turn wave and gates 3–16 as for `/message` — the session's widget
 * read in the same wave (the service API names sessions by id alone) — with gate 8 reversed
 * (voice must be attached: 409 `voice_not_attached`) and no rate limit (gate 5).
 */
export const voiceTurnGate = () =>
  createMiddleware<GateEnv<MessageVariables & TurnVariables>>(async function voiceTurnGate(c, next) {
    const id = sessionIdParam(c.req.param("id"));
    c.set(
      "turn",
      await gateTurn(c.var, {
        kind: "voice",
        request: c.req.raw,
        sessionId: id,
        widgetId: null,
        clientMessageId: c.var.message.id,
        waitUntil: (work) => c.executionCtx.waitUntil(work),
      }),
    );
    await next();
  });
