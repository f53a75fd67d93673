import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./env";
import { ApiError } from "./errors";
import { health } from "./routes/health";
import { widget } from "./routes/widget";

/** The parley HTTP app: routes, the JSON error shape and the fallback 404. */
export function createApp() {
  const app = new Hono<AppEnv>();
  app.route("/", health);
  app.route("/v1/widget", widget);

  app.notFound(() => new ApiError("not_found").toResponse());
  app.onError((error) => {
    if (error instanceof ApiError) {
      if (error.status >= 500) console.error(`${error.code}: ${error.message}`, error.cause ?? "");
      return error.toResponse();
    }
    if (error instanceof HTTPException) {
      const code = error.status === 413 ? "payload_too_large" : error.status === 401 ? "unauthorized" : "invalid_request";
      return Response.json({ error: { code, message: error.message || "Bad request." } }, { status: error.status });
    }
    console.error("unhandled error", error);
    return new ApiError("internal").toResponse();
  });
  return app;
}
