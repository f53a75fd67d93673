import { APICallError } from "ai";
import { errorFields, log } from "../log/log";

/** Codes of failures reported inside a stream, as `error` parts: `"<code>: <message>"`. */
export type StreamErrorCode =
  | "model_unavailable"
  | "model_error"
  | "turn_deadline"
  | "tool_cycle_limit"
  | "persist_failed"
  | "turn_interrupted";

const MESSAGES: Record<StreamErrorCode, string> = {
  model_unavailable: "The assistant's model is not available.",
  model_error: "The assistant could not answer. Please try again.",
  turn_deadline: "The reply took too long and was stopped.",
  tool_cycle_limit: "The assistant used too many tool steps and was stopped.",
  persist_failed: "The reply could not be saved. Please try again.",
  turn_interrupted: "The reply was interrupted. Please try again.",
};

/** The text of an `error` part: a code and a message safe to show a visitor. */
export function streamErrorText(code: StreamErrorCode, message = MESSAGES[code]): string {
  return `${code}: ${message}`;
}

/** Logs a model failure with what helps an operator, never the request's prompt or secrets. */
export function logModelError(error: unknown, context: { sessionId: string }): void {
  if (APICallError.isInstance(error)) {
    log("error", "model call failed", { ...context, status: error.statusCode, url: error.url, retryable: error.isRetryable });
  } else {
    log("error", "model stream failed", { ...context, ...errorFields(error) });
  }
}
