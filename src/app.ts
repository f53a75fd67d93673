import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import type { AppEnv } from "./env";
import { isDatabaseUnavailable } from "./db/errors";
import { ApiError } from "./errors";
import { errorFields, log } from "./log/log";
import { requestLog } from "./log/request-log";
import { resolveModel, type ModelResolver } from "./model/provider";
import { adminApi } from "./routes/admin";
import { DEMO_BASE_PATH, demo } from "./routes/demo";
import { health } from "./routes/health";
import { internal } from "./routes/internal";
import { serveApiDocs } from "./routes/openapi";
import { widget } from "./routes/widget";

export interface AppOptions {
  /** Chooses each turn's model. @default resolveModel */
  resolveModel?: ModelResolver;
}

/** The parley HTTP app: routes, the JSON error shape and the fallback 404. */
export function createApp({ resolveModel: chooseModel = resolveModel }: AppOptions = {}) {
  // OpenAPIHono: a Hono app that also keeps the OpenAPI registry of every route (/openapi.json).
  const app = new OpenAPIHono<AppEnv>();
  // `x-request-id`: the caller's when it is short and plain, else a fresh one; echoed back.
  app.use("*", requestId({ headerName: "x-request-id" }), requestLog());
  app.use("*", async (c, next) => {
    c.set("resolveModel", chooseModel);
    await next();
  });
  app.route("/", health);
  app.route("/v1/widget", widget);
  app.route("/v1/admin", adminApi());
  app.route("/v1/internal", internal);
  app.route(DEMO_BASE_PATH, demo);
  serveApiDocs(app);

  app.notFound(() => new ApiError("not_found").toResponse());
  app.onError((error, c) => {
    const requestId = c.var.requestId;
    if (error instanceof ApiError) {
      if (error.status >= 500) log("error", error.code, { requestId, ...(error.cause ? errorFields(error.cause) : {}) });
      return error.toResponse();
    }
    if (error instanceof HTTPException) {
      const code = error.status === 413 ? "payload_too_large" : error.status === 401 ? "unauthorized" : "invalid_request";
      return Response.json({ error: { code, message: error.message || "Bad request." } }, { status: error.status });
    }
    if (isDatabaseUnavailable(error)) {
      log("error", "database unavailable", { requestId, ...errorFields(error) });
      return new ApiError("unavailable", { message: "The database is unreachable; retry shortly.", details: { store: "postgres" } }).toResponse();
    }
    log("error", "unhandled error", { requestId, ...errorFields(error) });
    return new ApiError("internal").toResponse();
  });
  return app;
}
