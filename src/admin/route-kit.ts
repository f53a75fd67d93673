import { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "hono";
import type { z } from "zod";
import { ApiError, describeIssues } from "../errors";
import { errorBodySchema } from "./schemas";

/** What each error status means on the admin API, for the OpenAPI document. */
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "`invalid_request`: the body, query or a header is not valid (zod issues in `details`); nothing changed",
  401: "`unauthorized`: no admin key, or an unknown or revoked one",
  403: "`forbidden`: a platform key on a tenant route, or a tenant key on a platform route",
  404: "Not found — also the answer for an id of another tenant",
  409: "Conflict with the current state (the code says which)",
  412: "`precondition_failed`: `If-Match` names another version than the current one",
  413: "`payload_too_large`",
  500: "`internal` or `misconfigured`",
  503: "`unavailable`: PostgreSQL (or Redis) cannot be reached; retry shortly",
};

/** A JSON response entry of a route. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}

/** The error responses of a route, each the `{ error: { code, message, details? } }` shape. */
export function errors(...statuses: number[]) {
  // Every admin route authenticates and reads PostgreSQL: 401, 403, 500 and 503 are always possible.
  const all = [...new Set([...statuses, 401, 403, 500, 503])].sort();
  return Object.fromEntries(all.map((status) => [status, json(errorBodySchema, ERROR_DESCRIPTIONS[status] ?? "Error")])) as Record<
    number,
    ReturnType<typeof json<typeof errorBodySchema>>
  >;
}

export const TENANT_SECURITY = [{ tenantKey: [] }];
export const PLATFORM_SECURITY = [{ platformKey: [] }];

/**
 * An admin router: request validation failures become 400 `invalid_request` with the zod issues
 * in `details`, the one error shape of the API.
 */
export function adminRouter<E extends Env>() {
  return new OpenAPIHono<E>({
    defaultHook: (result) => {
      if (result.success) return;
      throw new ApiError("invalid_request", {
        message: `Invalid ${result.target}: ${describeIssues(result.error.issues, result.target)}.`,
        details: result.error.issues,
      });
    },
  });
}
