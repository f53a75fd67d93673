import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { apiBodyLimit, messageGate, parseBody } from "../gates";
import { serviceKeyGate } from "../gates/service-key";
import { sessionIdParam, voiceTurnGate } from "../gates/voice-turn";
import { clients } from "../middleware/clients";
import { startTurn } from "../turn/start";
import { attachVoiceChannel, detachVoiceChannel } from "../voice/channel";
import { voiceLeadBody } from "../voice/request";
import { turnDeps, turnRuntime } from "./turn-runtime";

async function leadOf(c: Context<AppEnv>): Promise<string> {
  const json = await c.req.json().catch(() => {
    throw new ApiError("invalid_request", { message: 'The body must be JSON: {"leadId": "<the voice platform\'s call id>"}.' });
  });
  return parseBody(voiceLeadBody, json).leadId;
}

/**
 * The service API (docs/architecture.md, "The voice channel"), mounted at `/v1/internal`: the
 * voice bot's side of a session's channel. Only `SERVICE_API_KEY` opens it.
 */
export const internal = new Hono<AppEnv>()
  .use("*", apiBodyLimit())
  .use("*", clients())
  .use("*", serviceKeyGate())

  .post("/session/:id/voice/attach", async (c) => {
    const sessionId = sessionIdParam(c.req.param("id"));
    return c.json(await attachVoiceChannel(c.var, { sessionId, leadId: await leadOf(c) }));
  })

  .post("/session/:id/voice/detach", async (c) => {
    const sessionId = sessionIdParam(c.req.param("id"));
    return c.json(await detachVoiceChannel(c.var.db, { sessionId, leadId: await leadOf(c) }));
  })

  .post("/session/:id/voice/turn", messageGate(), voiceTurnGate(), (c) =>
    startTurn(c.var.turn, turnDeps(c.var), { ...turnRuntime(c), message: c.var.message }),
  );
