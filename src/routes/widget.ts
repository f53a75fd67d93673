import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { endSession, getSessionState } from "../db/queries";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import {
  answerGate,
  apiBodyLimit,
  approvalGate,
  contextBodyGate,
  contextPushGate,
  createBodyGate,
  messageGate,
  pageOrigin,
  sessionCreateGate,
  sessionReadGate,
  tokenGate,
  toolResultGate,
  transcribeGate,
  turnGate,
} from "../gates";
import { requestCancel } from "../lock";
import { errorFields, log } from "../log/log";
import { clients } from "../middleware/clients";
import { pushPageContext } from "../page-context/push";
import { openSession } from "../sessions/open";
import { sessionState } from "../sessions/state";
import { widgetConfig } from "../sessions/widget-config";
import { resumeReply } from "../turn/resume-stream";
import { startTurn } from "../turn/start";
import { MAX_TRANSCRIBE_BODY_BYTES, recordingTooLarge } from "../transcribe/recording";
import { transcribeRecording, transcriptionModelFor } from "../transcribe/transcribe";
import { detachVoiceChannel } from "../voice/channel";
import { turnDeps, turnRuntime } from "./turn-runtime";

const widgetBodyLimit = apiBodyLimit();

/** Push-to-talk recordings have a limit of their own (10 MB), in place of the API's 64 KB. */
const isRecordingUpload = (path: string) => path.endsWith("/transcribe");

/** The widget API (docs/architecture.md), mounted at `/v1/widget`. */
export const widget = new Hono<AppEnv>()
  .use(
    "*",
    cors({
      // Any origin may ask; the widget's allow-list decides, per widget.
      origin: (origin) => origin,
      allowMethods: ["GET", "POST", "OPTIONS"],
      allowHeaders: ["authorization", "content-type", "last-event-id"],
      maxAge: 600,
      credentials: false,
    }),
  )
  .use("*", (c, next) => (isRecordingUpload(c.req.path) ? next() : widgetBodyLimit(c, next)))
  .use("*", clients())

  .get("/config", async (c) => {
    const config = await widgetConfig(c.var.db, { publicKey: c.req.query("publicKey") ?? "", origin: pageOrigin(c.req.raw) });
    // Per page origin, briefly: a page view costs at most one read a minute per origin and CDN edge.
    c.header("cache-control", "public, max-age=60");
    c.header("vary", "Origin");
    return c.json(config);
  })

  .post("/session", createBodyGate(), sessionCreateGate(), async (c) => {
    const opened = await openSession(c.var, { ...c.var.opening, body: c.var.createBody });
    // A returning visitor's resumed session existed already: 200, not 201.
    return c.json(opened, opened.resumed ? 200 : 201);
  })

  .get("/session/:id", tokenGate(), sessionReadGate(), async (c) => {
    const state = await getSessionState(c.var.db, { sessionId: c.var.claims.sid, widgetId: c.var.claims.wid });
    if (!state) throw new ApiError("session_not_found");
    return c.json(sessionState(state));
  })

  .post("/session/:id/initial-turn", tokenGate(), turnGate("initial"), (c) => startTurn(c.var.turn, turnDeps(c.var), turnRuntime(c)))

  .post("/session/:id/message", tokenGate(), messageGate(), turnGate("message"), (c) =>
    startTurn(c.var.turn, turnDeps(c.var), { ...turnRuntime(c), message: c.var.message }),
  )

  // No turn gate, no lock: a push never waits for a turn nor makes one 409.
  .post("/session/:id/context", tokenGate(), contextBodyGate(), contextPushGate(), async (c) => {
    const { claims, contextBody, contextTarget } = c.var;
    return c.json(
      await pushPageContext(c.var.db, { sessionId: claims.sid, widgetId: claims.wid, settings: contextTarget.template.pageContext, body: contextBody }),
    );
  })

  .get("/session/:id/stream", tokenGate(), sessionReadGate(), (c) => {
    if (!c.var.session) throw new ApiError("session_not_found");
    const { redis, config, claims } = c.var;
    return resumeReply(redis, {
      sessionId: claims.sid,
      keyPrefix: config.redisKeyPrefix,
      lastEventId: c.req.header("last-event-id"),
      maxFollowMs: config.turnDeadlineMs + config.lockLeaseMs,
      ...turnRuntime(c),
    });
  })
  .post("/session/:id/approval", tokenGate(), approvalGate(), turnGate("approval"), answerGate(), (c) =>
    startTurn(c.var.turn, turnDeps(c.var), { ...turnRuntime(c), continued: c.var.continued }),
  )

  .post("/session/:id/tool-result", tokenGate(), toolResultGate(), turnGate("tool_result"), answerGate(), (c) =>
    startTurn(c.var.turn, turnDeps(c.var), { ...turnRuntime(c), continued: c.var.continued }),
  )

  .post("/session/:id/cancel", tokenGate(), sessionReadGate(), async (c) => {
    if (!c.var.session) throw new ApiError("session_not_found");
    const turnInFlight = await requestCancel(c.var.redis, c.var.claims.sid, c.var.config.redisKeyPrefix).catch((cause: unknown) => {
      throw new ApiError("unavailable", { message: "The turn store is unreachable; retry shortly.", details: { store: "redis" }, cause });
    });
    return c.json({ sessionId: c.var.claims.sid, turnInFlight }, 202);
  })

  .post("/session/:id/end", tokenGate(), sessionReadGate(), async (c) => {
    const { db, redis, config, claims } = c.var;
    const session = await endSession(db, { sessionId: claims.sid, widgetId: claims.wid, reason: "user_ended" });
    if (!session) throw new ApiError("session_not_found");
    // A reply still streaming stops too; the session is already ended if Redis cannot be reached.
    c.executionCtx.waitUntil(
      requestCancel(redis, claims.sid, config.redisKeyPrefix).catch((error: unknown) =>
        log("error", "cancel on end failed", { requestId: c.var.requestId, sessionId: claims.sid, ...errorFields(error) }),
      ),
    );
    return c.json({ sessionId: session.id, status: session.status, endedAt: session.endedAt, endedReason: session.endedReason });
  })

  // Push-to-talk: the recording's text, for the composer; no turn starts, nothing is stored.
  .post(
    "/session/:id/transcribe",
    bodyLimit({ maxSize: MAX_TRANSCRIBE_BODY_BYTES, onError: () => recordingTooLarge().toResponse() }),
    tokenGate(),
    transcribeGate(),
    async (c) => {
      const model = transcriptionModelFor(c.var.template.model, c.var.config);
      return c.json(await transcribeRecording(model, c.var.recording, { requestId: c.var.requestId, sessionId: c.var.claims.sid }));
    },
  )

  // The visitor asks to go back to chat: detaches whichever call is attached.
  .post("/session/:id/voice/end", tokenGate(), sessionReadGate(), async (c) => {
    if (!c.var.session) throw new ApiError("session_not_found");
    const state = await detachVoiceChannel(c.var.db, { sessionId: c.var.claims.sid, widgetId: c.var.claims.wid, leadId: null });
    return c.json({ sessionId: state.sessionId, channel: state.channel, changed: state.changed });
  });
