import type { MiddlewareHandler } from "hono";
import { every } from "hono/combine";
import type { AppEnv } from "../env";
import { messageGate } from "./body";
import { lockGate } from "./lock";
import { originGate } from "./origin";
import { rateLimitGate } from "./rate-limit";
import { sessionGate } from "./session";
import { tokenGate } from "./token";
import { widgetGate } from "./widget";

export { jsonBody } from "./body";
export { enforceRateLimit } from "./rate-limit";
export { assertSessionOpenForChat } from "./session";
export { isOriginAllowed, requestOrigin } from "./origin";

/**
 * Gates 1–9 of the turn routes, in the design's order, each answering before the next runs;
 * the message route adds its body check as gate 2. Gates 10–13 run under the lock in
 * `turn/start.ts`.
 */
export function turnGates({ message = false }: { message?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return every(
    tokenGate(),
    ...(message ? [messageGate()] : []),
    widgetGate(),
    originGate(),
    rateLimitGate("message"),
    sessionGate(),
    lockGate(),
  );
}

/** Token, widget and origin: the gates of the session routes that run no turn. */
export function sessionRouteGates(): MiddlewareHandler<AppEnv> {
  return every(tokenGate(), widgetGate(), originGate());
}
