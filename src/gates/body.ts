import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { z } from "zod";
import type { GateEnv } from "../env";
import { ApiError, describeIssues } from "../errors";
import { createSessionBody, type CreateSessionBody } from "../sessions/request";
import { messageBody, type MessageBody } from "../turn/request";

/**
 * Largest request body the widget API reads, in bytes; a bigger one is refused before parsing.
 * Far above any valid body: a message is at most 4000 characters, metadata 8 KB.
 */
export const MAX_WIDGET_BODY_BYTES = 65_536;

/** The API's body cap as middleware: 413 `payload_too_large` before any gate reads a byte more. */
export const apiBodyLimit = () =>
  bodyLimit({
    maxSize: MAX_WIDGET_BODY_BYTES,
    onError: () => new ApiError("payload_too_large", { message: `The request body is too large (at most ${MAX_WIDGET_BODY_BYTES / 1024} KB).` }).toResponse(),
  });

/** Parses `value` with `schema` or throws 400 `invalid_request` naming each bad field. */
export function parseBody<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ApiError("invalid_request", {
    message: `Invalid request body: ${describeIssues(parsed.error.issues, "body")}.`,
    details: parsed.error.issues,
  });
}

async function readJson(c: Context, shape: string): Promise<unknown> {
  return c.req.json().catch(() => {
    throw new ApiError("invalid_request", { message: `The body must be JSON: ${shape}.` });
  });
}

export interface MessageVariables {
  /** The message route's body. */
  message: MessageBody;
}

/** Gate 2 of the message route: `{ id, text }`, kept as `c.var.message`. */
export const messageGate = () =>
  createMiddleware<GateEnv<MessageVariables>>(async function messageGate(c, next) {
    c.set("message", parseBody(messageBody, await readJson(c, '{"id": "<client message id>", "text": "…"}')));
    await next();
  });

export interface CreateBodyVariables {
  /** The session create body. */
  createBody: CreateSessionBody;
}

/** The session create route's body: `{ publicKey, templateVars?, metadata? }`. */
export const createBodyGate = () =>
  createMiddleware<GateEnv<CreateBodyVariables>>(async function createBodyGate(c, next) {
    c.set("createBody", parseBody(createSessionBody, await readJson(c, '{"publicKey": "pk_…"}')));
    await next();
  });
