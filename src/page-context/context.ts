import { ApiError } from "../errors";
import type { PageContextSettings } from "../templates/config";

/** Page context as stored and rendered: top-level keys from the template's allow-list, JSON values. */
export type PageContext = Record<string, unknown>;

/** What the allow-list made of a context the page sent. */
export interface FilteredContext {
  /** The allowed keys the page set, in the template's `allowedKeys` order. */
  context: PageContext;
  accepted: string[];
  /** Keys the page set that are not on the allow-list, in the page's order: not stored, never rendered. */
  dropped: string[];
}

/**
 * Keeps the keys of `context` that `settings.allowedKeys` names, in the allow-list's order (so
 * the model always sees them in the same order, whatever the page's).
 */
export function filterContext(context: PageContext, settings: Pick<PageContextSettings, "allowedKeys">): FilteredContext {
  const allowed = new Set(settings.allowedKeys);
  // fromEntries defines own keys: an allowed `__proto__` stays a key, never a prototype.
  const kept: PageContext = Object.fromEntries(settings.allowedKeys.filter((key) => Object.hasOwn(context, key)).map((key) => [key, context[key]]));
  return { context: kept, accepted: Object.keys(kept), dropped: Object.keys(context).filter((key) => !allowed.has(key)) };
}

/** The size the cap is judged on: the context as JSON, in UTF-8 bytes. */
export function contextBytes(context: PageContext): number {
  return new TextEncoder().encode(JSON.stringify(context)).byteLength;
}

/**
 * 413 `context_too_large` when the context (allowed keys only) is over the template's
 * `pageContext.maxBytes`; nothing is stored or sent then.
 */
export function assertWithinCap(context: PageContext, settings: Pick<PageContextSettings, "maxBytes">): void {
  const bytes = contextBytes(context);
  if (bytes <= settings.maxBytes) return;
  throw new ApiError("context_too_large", {
    message: `The page context is ${bytes} bytes as JSON; this widget's template allows at most ${settings.maxBytes}. Send less (only what the assistant needs).`,
    details: { bytes, maxBytes: settings.maxBytes },
  });
}

/**
 * The context a turn renders: the stored one, overlaid key by key with the message's own
 * `context` (for that turn only, never stored), both through the template's current allow-list.
 * A message's context makes the whole over the cap → 413.
 */
export function turnContext(stored: PageContext, messageContext: PageContext | undefined, settings: PageContextSettings): PageContext {
  const base = filterContext(stored, settings).context;
  if (messageContext === undefined) return base;
  const merged = filterContext({ ...base, ...filterContext(messageContext, settings).context }, settings).context;
  assertWithinCap(merged, settings);
  return merged;
}
