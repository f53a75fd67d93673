import { Hono, type MiddlewareHandler } from "hono";
import { every } from "hono/combine";
import { cors } from "hono/cors";
import { signSessionToken } from "../auth/session-token";
import { createSession, endSession, getSessionState, getWidgetWithTemplateByPublicKey } from "../db/queries";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { jsonBody, messageGate } from "../gates/body";
import { lockGate } from "../gates/lock";
import { isOriginAllowed, originGate, requestOrigin } from "../gates/origin";
import { enforceRateLimit, rateLimitGate } from "../gates/rate-limit";
import { sessionGate } from "../gates/session";
import { tokenGate } from "../gates/token";
import { widgetGate } from "../gates/widget";
import { requestCancel } from "../lock";
import { clients } from "../middleware/clients";
import { renderText } from "../templates/render";
import { validateTemplate } from "../templates/validate";
import { resolveTemplateVars } from "../templates/variables";
import { currentNodeName } from "../turn/prompt";
import { startTurn } from "../turn/start";
import { visibleMessage } from "../turn/visible";
import { createSessionBody } from "./schemas";

/** Gates 1–9 of the turn routes, in the design's order; `body` is gate 2 when the route has one. */
function turnGates(body?: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  return every(
    tokenGate(),
    ...(body ? [body] : []),
    widgetGate(),
    originGate(),
    rateLimitGate("message"),
    sessionGate(),
    lockGate(),
  );
}

/** Token, widget and origin: the gates of the session routes that run no turn. */
const sessionRouteGates = () => every(tokenGate(), widgetGate(), originGate());

export const widget = new Hono<AppEnv>()
  .use(
    "*",
    cors({
      // Any origin may ask; the widget's allow-list decides (gate 4), per widget.
      origin: (origin) => origin,
      allowMethods: ["GET", "POST", "OPTIONS"],
      allowHeaders: ["authorization", "content-type", "last-event-id"],
      maxAge: 600,
      credentials: false,
    }),
  )
  .use("*", clients())

  .post("/session", jsonBody(createSessionBody), async (c) => {
    const { db, config } = c.var;
    const body = c.req.valid("json");
    const found = await getWidgetWithTemplateByPublicKey(db, { publicKey: body.publicKey });
    if (!found?.widget.active) throw new ApiError("widget_not_found");
    const { widget } = found;

    const origin = requestOrigin(c.req.raw);
    if (!origin || !isOriginAllowed(origin, widget.allowedOrigins)) {
      throw new ApiError("origin_not_allowed", {
        message: origin
          ? "This page's origin is not on the widget's allowed origins."
          : "Send the page's Origin (or Referer) header: sessions are created from allowed pages only.",
        details: { origin },
      });
    }
    await enforceRateLimit(c, { bucket: "session_create", widget });
    if (!found.template) throw new ApiError("template_missing");
    const template = validateTemplate(found.template);

    const vars = resolveTemplateVars(template.variables, body.templateVars);
    if (!vars.ok) {
      throw new ApiError("invalid_request", {
        message: `Invalid template variables: ${vars.issues.map((i) => i.message).join("; ")}.`,
        details: vars.issues,
      });
    }
    const greeting = template.greeting === null ? null : renderText(template.greeting, vars.vars);
    const sessionId = crypto.randomUUID();
    const session = await createSession(db, {
      session: {
        id: sessionId,
        widgetId: widget.id,
        templateId: template.id,
        tenantId: widget.tenantId,
        currentNode: currentNodeName(template, null),
        templateVars: vars.vars,
        metadata: body.metadata,
      },
      greeting,
    });
    const { token, expiresAt } = await signSessionToken({ sessionId, widgetId: widget.id }, config.sessionTokenSecret);
    return c.json(
      {
        sessionId,
        token,
        expiresAt: expiresAt.toISOString(),
        status: session.status,
        channel: session.channel,
        currentNode: session.currentNode,
        greeting,
        initialTurn: greeting === null ? ("llm" as const) : null,
        quickReplies: template.presentation.quickReplies,
        textInput: template.presentation.textInput,
      },
      201,
    );
  })

  .get("/session/:id", sessionRouteGates(), async (c) => {
    const state = await getSessionState(c.var.db, { sessionId: c.var.claims.sid, widgetId: c.var.claims.wid });
    if (!state) throw new ApiError("session_not_found");
    const { session, template, messages } = state;
    return c.json({
      sessionId: session.id,
      status: session.status,
      channel: session.channel,
      currentNode: session.currentNode,
      createdAt: session.createdAt,
      lastActivityAt: session.lastActivityAt,
      endedAt: session.endedAt,
      endedReason: session.endedReason,
      quickReplies: template?.presentation.quickReplies ?? [],
      textInput: template?.presentation.textInput ?? true,
      messages: messages.map((message) => visibleMessage(session.id, message)),
    });
  })

  .post("/session/:id/initial-turn", turnGates(), (c) => startTurn(c, { kind: "initial" }))

  .post("/session/:id/message", turnGates(messageGate()), (c) => startTurn(c, { kind: "message", ...c.var.message }))

  .post("/session/:id/cancel", sessionRouteGates(), async (c) => {
    if (!c.var.session) throw new ApiError("session_not_found");
    const canceled = await requestCancel(c.var.redis, c.var.claims.sid).catch((cause: unknown) => {
      throw new ApiError("unavailable", { message: "The turn store is unreachable; retry shortly.", cause });
    });
    return c.json({ sessionId: c.var.claims.sid, turnInFlight: canceled }, 202);
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
    return c.json({
      sessionId: session.id,
      status: session.status,
      endedAt: session.endedAt,
      endedReason: session.endedReason,
    });
  });
