import { createMiddleware } from "hono/factory";
import { getTranscribeSnapshot } from "../db/transcribe-queries";
import type { Template } from "../db/schema";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import { clientIpKey, countRateLimit, judgeRateLimit, rateLimitError } from "../limits";
import { assertOriginAllowed, pageOrigin } from "../sessions/origin";
import { assertSessionOpenForChat } from "../sessions/status";
import { validateTemplate } from "../templates/validate";
import { readRecording, type Recording } from "../transcribe/recording";
import type { TokenVariables } from "./token";

export interface TranscribeVariables {
  recording: Recording;
  /** The session's template, validated: its model provider transcribes. */
  template: Template;
}

/**
 * The gates of `/transcribe`, in the turn table's order: the recording (2), then one wave — the
 * `transcribe` rate-limit count (a bucket of its own, judged against the widget's per-IP message
 * limit) in parallel with one Neon read — then widget (3), origin (4), limit (5), session open for
 * chat (6–8), the template (13) and its `presentation.voiceInput` (403 `voice_input_disabled`).
 */
export const transcribeGate = () =>
  createMiddleware<GateEnv<TokenVariables & TranscribeVariables>>(async function transcribeGate(c, next) {
    const { db, redis, config, claims } = c.var;
    const recording = await readRecording(c.req.raw);
    const [count, snapshot] = await Promise.all([
      countRateLimit(redis, { keyPrefix: config.redisKeyPrefix, bucket: "transcribe", widgetKey: claims.wid, ipKey: clientIpKey(c.req.raw) }),
      getTranscribeSnapshot(db, { sessionId: claims.sid, widgetId: claims.wid }),
    ]);
    const { widget, session } = snapshot;
    if (!widget?.active) throw new ApiError("widget_inactive");
    assertOriginAllowed(pageOrigin(c.req.raw), widget, { required: false });
    const limit = await judgeRateLimit(redis, count, widget.messagesPerIpHour);
    if (!limit.ok) throw rateLimitError(limit);
    assertSessionOpenForChat(session);
    if (!snapshot.template) throw new ApiError("template_missing");
    const template = validateTemplate(snapshot.template);
    if (!template.presentation.voiceInput) throw new ApiError("voice_input_disabled");
    c.set("recording", recording);
    c.set("template", template);
    await next();
  });
