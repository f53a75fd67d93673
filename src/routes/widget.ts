import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { endSession, getSessionState } from "../db/queries";
import type { AppEnv, AppVariables } from "../env";
import { ApiError } from "../errors";
import {
  answerGate,
  approvalGate,
  createBodyGate,
  MAX_WIDGET_BODY_BYTES,
  messageGate,
  pageOrigin,
  sessionCreateGate,
  sessionReadGate,
  tokenGate,
  toolResultGate,
  turnGate,
} from "../gates";
import { requestCancel } from "../lock";
import { errorFields, log } from "../log/log";
import { clients } from "../middleware/clients";
import { openSession } from "../sessions/open";
import { sessionState } from "../sessions/state";
import { widgetConfig } from "../sessions/widget-config";
import type { TurnDeps } from "../turn/plan";
import { startTurn } from "../turn/start";

/** The stores and settings a turn runs with, from the request's clients. */
const turnDeps = ({ db, redis, config, resolveModel }: AppVariables): TurnDeps => ({ db, redis, config, resolveModel });

/** How a turn hands work to the runtime and hears of a client that left. */
const turnRuntime = (c: Pick<Context<AppEnv>, "executionCtx" | "req" | "var">) => ({
  waitUntil: (work: Promise<unknown>) => c.executionCtx.waitUntil(work),
  requestSignal: c.req.raw.signal,
  requestId: c.var.requestId,
});

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
  .use(
    "*",
    bodyLimit({
      maxSize: MAX_WIDGET_BODY_BYTES,
      onError: () =>
        new ApiError("payload_too_large", { message: `The request body is too large (at most ${MAX_WIDGET_BODY_BYTES / 1024} KB).` }).toResponse(),
    }),
  )
  .use("*", clients())

  .get("/config", async (c) => {
    const config = await widgetConfig(c.var.db, { publicKey: c.req.query("publicKey") ?? "", origin: pageOrigin(c.req.raw) });
    // Per page origin, briefly: a page view costs at most one read a minute per origin and CDN edge.
    c.header("cache-control", "public, max-age=60");
    c.header("vary", "Origin");
    return c.json(config);
  })

  .post("/session", createBodyGate(), sessionCreateGate(), async (c) =>
    c.json(await openSession(c.var, { ...c.var.opening, body: c.var.createBody }), 201),
  )

  .get("/session/:id", tokenGate(), sessionReadGate(), async (c) => {
    const state = await getSessionState(c.var.db, { sessionId: c.var.claims.sid, widgetId: c.var.claims.wid });
    if (!state) throw new ApiError("session_not_found");
    return c.json(sessionState(state));
  })

  .post("/session/:id/initial-turn", tokenGate(), turnGate("initial"), (c) => startTurn(c.var.turn, turnDeps(c.var), turnRuntime(c)))

  .post("/session/:id/message", tokenGate(), messageGate(), turnGate("message"), (c) =>
    startTurn(c.var.turn, turnDeps(c.var), { ...turnRuntime(c), message: c.var.message }),
  )

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
  });
