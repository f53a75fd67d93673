import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";

/**
 * The page's origin: the `Origin` header, else the origin of `Referer`. Null when the request
 * carries neither (a server or curl, not a browser page).
 */
export function requestOrigin(request: Request): string | null {
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

/** True when `origin` is exactly on the allow-list; an empty list denies every origin. */
export function isOriginAllowed(origin: string, allowedOrigins: string[]): boolean {
  return allowedOrigins.includes(origin);
}

/** Gate 4: the request's `Origin`, when sent, is on the widget's allow-list. */
export const originGate = () =>
  createMiddleware<AppEnv>(async function originGate(c, next) {
    const origin = c.req.header("origin");
    if (origin && !isOriginAllowed(origin, c.var.widget.allowedOrigins)) {
      throw new ApiError("origin_not_allowed", { details: { origin } });
    }
    await next();
  });
