import { createMiddleware } from "hono/factory";
import { validator } from "hono/validator";
import type { z } from "zod";
import type { AppEnv } from "../env";
import { ApiError, describeIssues } from "../errors";
import { messageBody } from "../routes/schemas";

/** Parses `value` with `schema` or throws 400 `invalid_request` naming each bad field. */
export function parseBody<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ApiError("invalid_request", {
    message: `Invalid request body: ${describeIssues(parsed.error.issues, "body")}.`,
    details: parsed.error.issues,
  });
}

/** A JSON body validated by `schema`, read with `c.req.valid("json")`. */
export const jsonBody = <T extends z.ZodType>(schema: T) =>
  validator("json", (value): z.infer<T> => parseBody(schema, value));

/** Gate 2 of the message route: `{ id, text }`, kept as `c.var.message`. */
export const messageGate = () =>
  createMiddleware<AppEnv>(async function messageGate(c, next) {
    const raw: unknown = await c.req.json().catch(() => {
      throw new ApiError("invalid_request", { message: 'The body must be JSON: {"id": "<client message id>", "text": "…"}.' });
    });
    c.set("message", parseBody(messageBody, raw));
    await next();
  });
