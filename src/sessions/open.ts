import { signSessionToken } from "../auth/session-token";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { createSession } from "../db/queries";
import type { ChatSession, Template, Widget } from "../db/schema";
import { ApiError } from "../errors";
import type { VerifiedIdentity } from "../identity/token";
import { renderText } from "../templates/render";
import { resolveTemplateVars } from "../templates/variables";
import { currentNodeName } from "../turn/prompt";
import type { CreateSessionBody } from "./request";

/**
 * `POST /v1/widget/session`, once its gates passed (widget, origin, rate limit, template,
 * identity, challenge): resolves the template variables, then either resumes the verified
 * visitor's latest active session (`resumable`) or stores a new one (and a static greeting as
 * message 0), and signs its token.
 */
export async function openSession(
  { db, config }: { db: Database; config: Pick<Config, "sessionTokenSecret"> },
  {
    widget,
    template,
    body,
    identity = null,
    resumable = null,
  }: { widget: Widget; template: Template; body: CreateSessionBody; identity?: VerifiedIdentity | null; resumable?: ChatSession | null },
) {
  // A variable only a verified visitor can set, and no token: the page must send one.
  const needsToken = template.variables.find((v) => v.trusted && v.required && v.default === undefined);
  if (!identity && needsToken) {
    throw new ApiError("identity_required", {
      message: `This widget's template needs "${needsToken.name}", which only a verified visitor's identity token can set: send identityToken.`,
    });
  }
  const vars = resolveTemplateVars(template.variables, body.templateVars, identity?.vars ?? null);
  if (!vars.ok) {
    throw new ApiError("invalid_request", {
      message: `Invalid template variables: ${vars.issues.map((i) => i.message).join("; ")}.`,
      details: vars.issues,
    });
  }
  const presentation = { quickReplies: template.presentation.quickReplies, textInput: template.presentation.textInput, voiceInput: template.presentation.voiceInput ?? false };
  if (resumable) {
    // The conversation goes on as it was, its variables included; the widget loads its transcript.
    const { token, expiresAt } = await signSessionToken({ sessionId: resumable.id, widgetId: widget.id }, config.sessionTokenSecret);
    return {
      sessionId: resumable.id,
      token,
      expiresAt: expiresAt.toISOString(),
      status: resumable.status,
      channel: resumable.channel,
      currentNode: resumable.currentNode,
      greeting: null,
      initialTurn: null,
      ...presentation,
      resumed: true,
      visitorId: resumable.visitorId,
      ignoredVars: vars.ignored,
    };
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
      visitorProvidedVars: vars.visitorProvided,
      visitorId: identity?.visitorId ?? null,
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
    ...presentation,
    resumed: false,
    visitorId: session.visitorId,
    ignoredVars: vars.ignored,
  };
}
