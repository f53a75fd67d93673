import { signSessionToken } from "../auth/session-token";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { createSession } from "../db/queries";
import type { Template, Widget } from "../db/schema";
import { ApiError } from "../errors";
import { renderText } from "../templates/render";
import { resolveTemplateVars } from "../templates/variables";
import { currentNodeName } from "../turn/prompt";
import type { CreateSessionBody } from "./request";

/**
 * `POST /v1/widget/session`, once its gates passed (widget, origin, rate limit, template):
 * resolves the template variables, stores the session (and a static greeting as message 0) and
 * signs its token.
 */
export async function openSession(
  { db, config }: { db: Database; config: Pick<Config, "sessionTokenSecret"> },
  { widget, template, body }: { widget: Widget; template: Template; body: CreateSessionBody },
) {
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
    voiceInput: template.presentation.voiceInput ?? false,
  };
}
