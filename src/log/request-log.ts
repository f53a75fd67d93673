import { createMiddleware } from "hono/factory";
import type { RequestIdVariables } from "hono/request-id";
import { log } from "./log";

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * One structured line per request, after it is answered: request id, method, route (ids
 * replaced by `:id`), status, duration, and the session id from the path when there is one.
 * Streams are answered when their headers are: the turn logs its own line when it ends.
 */
export const requestLog = () =>
  createMiddleware<{ Variables: RequestIdVariables }>(async function requestLog(c, next) {
    const started = Date.now();
    await next();
    const path = c.req.path;
    const sessionId = path.match(UUID)?.[0];
    log(c.res.status >= 500 ? "error" : "info", "request", {
      requestId: c.var.requestId,
      method: c.req.method,
      route: path.replace(UUID, ":id"),
      status: c.res.status,
      durationMs: Date.now() - started,
      ...(sessionId ? { sessionId } : {}),
    });
  });
