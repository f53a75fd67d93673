import type { Widget } from "../db/schema";
import { ApiError } from "../errors";

/**
 * The page's origin: the `Origin` header, else the origin of `Referer`. Null when the request
 * carries neither (a server or curl, not a browser page).
 */
export function pageOrigin(request: Request): string | null {
  const origin = request.headers.get("origin");
  if (origin) return origin;
  const referer = request.headers.get("referer");
  if (!referer) return null;
  try {
    return new URL(referer).origin;
  } catch {
    return null;
  }
}

/**
 * Gate 4, the one origin rule: a page origin, when known, must be exactly on the widget's
 * allow-list (an empty list denies every origin). `required` — session create — also refuses a
 * request that names no page at all: sessions are opened from the merchant's pages only, while a
 * turn of an existing session may come from a server holding its token.
 */
export function assertOriginAllowed(origin: string | null, widget: Pick<Widget, "allowedOrigins">, { required }: { required: boolean }): void {
  if (origin === null) {
    if (!required) return;
    throw new ApiError("origin_not_allowed", {
      message: "Send the page's Origin (or Referer) header: sessions are created from allowed pages only.",
      details: { origin },
    });
  }
  if (!widget.allowedOrigins.includes(origin)) {
    throw new ApiError("origin_not_allowed", {
      message: `This page's origin (${origin}) is not on the widget's allowed origins.`,
      details: { origin },
    });
  }
}
