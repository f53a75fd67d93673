import type { Database } from "../db/client";
import { applyPageContext, getPageContextRevision } from "../db/page-context-queries";
import { ApiError } from "../errors";
import type { PageContextSettings } from "../templates/config";
import { assertWithinCap, contextBytes, filterContext } from "./context";
import type { PushContextBody } from "./request";

/** The answer of `POST /v1/widget/session/:id/context`. */
export interface PushOutcome {
  /** False when a higher revision was stored first: nothing changed. */
  applied: boolean;
  /** Set when `applied` is false. */
  reason?: "stale_revision";
  /** The revision stored now (this push's, or the one that made it stale). */
  revision: number;
  /** Keys kept (on the template's allow-list); on a stale push, the keys it would have kept. */
  accepted: string[];
  /** Keys off the allow-list: never stored. */
  dropped: string[];
  /** The accepted context as JSON, in UTF-8 bytes: what the cap is judged on. */
  bytes: number;
}

/**
 * A page context push: keeps the allowed keys, refuses more than the cap (413, nothing changed),
 * and replaces the stored context in one conditional write — never under the turn lock, so a
 * turn streaming meanwhile is not disturbed (its model input was rendered already; the next turn
 * reads the new context). A stale revision changes nothing and answers `applied: false`.
 */
export async function pushPageContext(
  db: Database,
  { sessionId, widgetId, settings, body }: { sessionId: string; widgetId: string; settings: PageContextSettings; body: PushContextBody },
): Promise<PushOutcome> {
  const { context, accepted, dropped } = filterContext(body.context, settings);
  assertWithinCap(context, settings);
  const bytes = contextBytes(context);
  const stored = await applyPageContext(db, { sessionId, widgetId, context, ...(body.revision === undefined ? {} : { revision: body.revision }) });
  if (stored !== null) return { applied: true, revision: stored, accepted, dropped, bytes };
  // Nothing written: the session ended or went away since the gates read it, or the revision is stale.
  const now = await getPageContextRevision(db, { sessionId, widgetId });
  if (!now) throw new ApiError("session_not_found");
  if (now.status === "ended") throw new ApiError("session_ended");
  return { applied: false, reason: "stale_revision", revision: Number(now.pageContextRevision), accepted, dropped, bytes };
}
