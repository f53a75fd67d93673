import type { Redis } from "@upstash/redis/cloudflare";
import { createMiddleware } from "hono/factory";
import { getLatestVisitorSession } from "../db/identity-queries";
import { getWidgetWithTemplateByPublicKey } from "../db/queries";
import type { ChatSession, Template, Widget } from "../db/schema";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import { clientIpKey, countRateLimit, judgeRateLimit, rateLimitError, type RateLimitCount } from "../limits";
import { createRedisBatch } from "../redis-batch";
import { verifyTurnstile } from "../sessions/turnstile";
import { validateTemplate } from "../templates/validate";
import type { CreateBodyVariables } from "./body";
import { assertOriginAllowed, pageOrigin } from "../sessions/origin";
import type { VerifiedIdentity } from "../identity/token";
import { claimedVisitorId, identifyVisitor } from "../identity/visitor";

export interface SessionCreateVariables {
  /** The widget the public key names, and its validated template. */
  opening: {
    widget: Widget;
    template: Template;
    /** The verified visitor, or null for an anonymous one. */
    identity: VerifiedIdentity | null;
    /** That visitor's latest active session on the widget, when the widget resumes them. */
    resumable: ChatSession | null;
  };
}

/**
 * The gates of session create on one wave: the `session_create` count (keyed by the public key,
 * the one widget identity known before the read) in parallel with the widget + template read;
 * then widget, origin (required), rate limit and template, in that order, then the identity
 * token, then Turnstile. With an identity token the wave also reads the latest active session of
 * the visitor it claims, used only once the token is verified.
 */
export const sessionCreateGate = () =>
  createMiddleware<GateEnv<CreateBodyVariables & SessionCreateVariables>>(async function sessionCreateGate(c, next) {
    const { db, redis, config, createBody } = c.var;
    const claimed = claimedVisitorId(createBody.identityToken);
    const [count, found, latest] = await Promise.all([
      countRateLimit(createRedisBatch(redis), {
        keyPrefix: config.redisKeyPrefix,
        bucket: "session_create",
        widgetKey: createBody.publicKey,
        ipKey: clientIpKey(c.req.raw),
      }),
      getWidgetWithTemplateByPublicKey(db, { publicKey: createBody.publicKey }),
      claimed === null ? null : getLatestVisitorSession(db, { publicKey: createBody.publicKey, visitorId: claimed }),
    ]);
    const { widget, template } = await judgeCreateWave({ count, found }, { origin: pageOrigin(c.req.raw), redis });
    const identity = await identifyVisitor(widget, { token: createBody.identityToken, keyMaterial: config.identityKeyMaterial });
    const resumable = identity && widget.resumeVisitorSessions && latest?.visitorId === identity.visitorId && latest.widgetId === widget.id ? latest : null;
    await assertChallengePassed(widget, {
      token: createBody.turnstileToken,
      verifyUrl: c.var.config.turnstileVerifyUrl,
      remoteIp: c.req.header("cf-connecting-ip") ?? null,
    });
    c.set("opening", { widget, template, identity, resumable });
    await next();
  });

/** The session create gates on a wave's results, in order. Throws the first refusal. */
export async function judgeCreateWave(
  { count, found }: { count: RateLimitCount; found: { widget: Widget; template: Template | null } | null },
  { origin, redis }: { origin: string | null; redis: Redis },
): Promise<Pick<SessionCreateVariables["opening"], "widget" | "template">> {
  if (!found?.widget.active) throw new ApiError("widget_not_found");
  const { widget } = found;
  assertOriginAllowed(origin, widget, { required: true });
  const limit = await judgeRateLimit(redis, count, widget.sessionsPerIpHour);
  if (!limit.ok) throw rateLimitError(limit);
  if (!found.template) throw new ApiError("template_missing");
  return { widget, template: validateTemplate(found.template) };
}

/**
 * The widget's Turnstile challenge, when it has one, after the cheaper gates (so a flood is
 * rate limited before Turnstile is asked): no token → 403 `challenge_required`, a token
 * Turnstile refuses → 403 `challenge_failed`, both with the site key the page renders the
 * challenge with; Turnstile unreachable → 503.
 */
export async function assertChallengePassed(
  widget: Pick<Widget, "turnstileSiteKey" | "turnstileSecret">,
  { token, verifyUrl, remoteIp }: { token: string | undefined; verifyUrl: string; remoteIp: string | null },
): Promise<void> {
  const { turnstileSiteKey: siteKey, turnstileSecret: secret } = widget;
  if (!siteKey || !secret) return;
  if (!token) throw new ApiError("challenge_required", { details: { siteKey } });
  const outcome = await verifyTurnstile({ verifyUrl, secret, token, remoteIp });
  if (outcome.ok) return;
  if (outcome.reason === "unavailable") {
    throw new ApiError("unavailable", { message: "The challenge cannot be verified right now; retry shortly.", details: { store: "turnstile" } });
  }
  throw new ApiError("challenge_failed", { details: { siteKey, errorCodes: outcome.errorCodes ?? [] } });
}
