import type { Context } from "hono";
import type { z } from "zod";
import { signSessionToken } from "../auth/session-token";
import { createSession, getWidgetWithTemplateByPublicKey } from "../db/queries";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { enforceRateLimit, isOriginAllowed, requestOrigin } from "../gates";
import type { createSessionBody } from "../routes/schemas";
import { renderText } from "../templates/render";
import { validateTemplate } from "../templates/validate";
import { resolveTemplateVars } from "../templates/variables";
import { currentNodeName } from "../turn/prompt";

/**
 * `POST /v1/widget/session`: checks the widget, the page's origin, the rate limit and the
 * template variables, in that order; stores the session (and a static greeting as message 0)
 * and signs its token.
 */
export async function openSession(c: Context<AppEnv>, body: z.infer<typeof createSessionBody>) {
  const { db, config } = c.var;
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
  // Variables only: a greeting is shown to the visitor, so secrets never go into it.
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
  return {
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
  };
}
