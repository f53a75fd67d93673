import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { endSession, getSessionState } from "../db/queries";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { jsonBody, sessionRouteGates, turnGates } from "../gates";
import { requestCancel } from "../lock";
import { clients } from "../middleware/clients";
import { openSession } from "../sessions/open";
import { sessionState } from "../sessions/state";
import { startTurn } from "../turn/start";
import { createSessionBody } from "./schemas";

const MAX_BODY_BYTES = 64 * 1024;

/** The widget API (DESIGN §2), mounted at `/v1/widget`. */
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
  // Far above any valid body (a message is at most 4000 characters): refused before parsing.
  .use("*", bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => new ApiError("payload_too_large").toResponse() }))
  .use("*", clients())

  .post("/session", jsonBody(createSessionBody), async (c) => c.json(await openSession(c, c.req.valid("json")), 201))

  .get("/session/:id", sessionRouteGates(), async (c) => {
    const state = await getSessionState(c.var.db, { sessionId: c.var.claims.sid, widgetId: c.var.claims.wid });
    if (!state) throw new ApiError("session_not_found");
    return c.json(sessionState(state));
  })

  .post("/session/:id/initial-turn", turnGates(), (c) => startTurn(c, { kind: "initial" }))

  .post("/session/:id/message", turnGates({ message: true }), (c) => startTurn(c, { kind: "message", ...c.var.message }))

  .post("/session/:id/cancel", sessionRouteGates(), async (c) => {
    if (!c.var.session) throw new ApiError("session_not_found");
    const turnInFlight = await requestCancel(c.var.redis, c.var.claims.sid).catch((cause: unknown) => {
      throw new ApiError("unavailable", { message: "The turn store is unreachable; retry shortly.", cause });
    });
    return c.json({ sessionId: c.var.claims.sid, turnInFlight }, 202);
  })

  .post("/session/:id/end", sessionRouteGates(), async (c) => {
    const { db, redis, claims } = c.var;
    const session = await endSession(db, { sessionId: claims.sid, widgetId: claims.wid, reason: "user_ended" });
    if (!session) throw new ApiError("session_not_found");
    // A reply still streaming stops too; the session is already ended if Redis cannot be reached.
    c.executionCtx.waitUntil(
      requestCancel(redis, claims.sid).catch((error: unknown) =>
        console.error("cancel on end failed", { sessionId: claims.sid, error: String(error) }),
      ),
    );
    return c.json({ sessionId: session.id, status: session.status, endedAt: session.endedAt, endedReason: session.endedReason });
  });
