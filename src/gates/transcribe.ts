import { createMiddleware } from "hono/factory";
import type { Template } from "../db/schema";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import { readRecording, type Recording } from "../transcribe/recording";
import { gateSessionWave } from "./session-wave";
import type { TokenVariables } from "./token";

export interface TranscribeVariables {
  recording: Recording;
  /** The session's template, validated: its model provider transcribes. */
  template: Template;
}

/**
 * The gates of `/transcribe`, in the turn table's order: the recording (2), then one wave without
 * the lock (`gateSessionWave`: the `transcribe` count, widget, origin, limit, session open for
 * chat, template), then the template's `presentation.voiceInput` (403 `voice_input_disabled`).
 */
export const transcribeGate = () =>
  createMiddleware<GateEnv<TokenVariables & TranscribeVariables>>(async function transcribeGate(c, next) {
    const { claims } = c.var;
    const recording = await readRecording(c.req.raw);
    const { template } = await gateSessionWave(c.var, { request: c.req.raw, sessionId: claims.sid, widgetId: claims.wid, bucket: "transcribe", channel: "chat" });
    if (!template.presentation.voiceInput) throw new ApiError("voice_input_disabled");
    c.set("recording", recording);
    c.set("template", template);
    await next();
  });
