import { createMiddleware } from "hono/factory";
import { secretsEqual } from "../admin/keys";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";

const CHALLENGE = { "www-authenticate": 'Bearer realm="parley-internal"' };

const unauthorized = (message: string) => new ApiError("unauthorized", { message, headers: CHALLENGE });

/**
 * The service API's one credential: `Authorization: Bearer <SERVICE_API_KEY>`, compared in
 * constant time. Widget tokens and admin keys never match it (the configuration refuses a
 * service key equal to the admin key). A deployment without `SERVICE_API_KEY` refuses every
 * request: the API is off.
 */
export const serviceKeyGate = () =>
  createMiddleware<AppEnv>(async function serviceKeyGate(c, next) {
    const expected = c.var.config.serviceApiKey;
    if (!expected) throw unauthorized("The service API is off on this deployment: SERVICE_API_KEY is not set.");
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    if (!match) throw unauthorized("Send the service key as `Authorization: Bearer <SERVICE_API_KEY>`.");
    if (!(await secretsEqual(match[1]!, expected))) throw unauthorized("This service key is not valid.");
    await next();
  });
