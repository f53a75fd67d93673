import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Every `error.code` parley answers with, and its HTTP status. */
const STATUS = {
  invalid_request: 400,
  invalid_token: 401,
  unauthorized: 401,
  widget_inactive: 401,
  invalid_identity: 401,
  identity_required: 401,
  origin_not_allowed: 403,
  challenge_required: 403,
  challenge_failed: 403,
  forbidden: 403,
  not_found: 404,
  widget_not_found: 404,
  session_not_found: 404,
  template_not_found: 404,
  tenant_not_found: 404,
  key_not_found: 404,
  approval_not_found: 404,
  tool_call_not_found: 404,
  turn_in_progress: 409,
  voice_active: 409,
  voice_not_attached: 409,
  session_not_fresh: 409,
  template_in_use: 409,
  conflict: 409,
  already_decided: 409,
  already_answered: 409,
  session_ended: 410,
  precondition_failed: 412,
  payload_too_large: 413,
  context_too_large: 413,
  voice_input_disabled: 403,
  rate_limited: 429,
  session_limit: 429,
  budget_exhausted: 429,
  internal: 500,
  misconfigured: 500,
  template_missing: 500,
  template_invalid: 500,
  transcription_failed: 502,
  unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof STATUS;

const DEFAULT_MESSAGE: Record<ErrorCode, string> = {
  invalid_request: "The request is not valid.",
  invalid_token: "The session token is missing, invalid, expired or not for this session.",
  unauthorized: "Missing or wrong credentials.",
  widget_inactive: "This widget does not exist or is not active.",
  invalid_identity: "The identity token is malformed, forged, expired, not HS256 or not signed for this widget.",
  identity_required: "This widget only opens sessions for verified visitors: send the merchant-signed `identityToken`.",
  origin_not_allowed: "This page's origin is not on the widget's allowed origins.",
  challenge_required: "This widget asks visitors to pass a challenge first: send its token as `turnstileToken`.",
  challenge_failed: "The challenge was not passed; try it again.",
  forbidden: "This key may not use this route.",
  not_found: "No such route.",
  widget_not_found: "No active widget has this public key.",
  session_not_found: "No such session.",
  template_not_found: "No such template.",
  tenant_not_found: "No such tenant.",
  key_not_found: "No such key.",
  approval_not_found: "No such approval request in this session.",
  tool_call_not_found: "No such client tool call in this session.",
  already_decided: "This approval request was already decided; `details.decision` is the decision that holds.",
  already_answered: "This tool call was already answered; `details.answer` is the answer that holds.",
  turn_in_progress: "A reply is already being generated for this session; wait for it to finish.",
  voice_active: "This session is in a voice call; chat turns are paused.",
  voice_not_attached: "No voice call is attached to this session; attach one first (`POST /v1/internal/session/:id/voice/attach`).",
  session_not_fresh: "The initial turn can only run on a session with no messages.",
  template_in_use: "Widgets still use this template; point them at another template or delete them first.",
  conflict: "This conflicts with an existing resource.",
  session_ended: "This session has ended; start a new one.",
  precondition_failed: "The resource changed since you read it (If-Match does not match its ETag); read it again.",
  payload_too_large: "The request body is too large.",
  context_too_large: "The page context is larger than this widget's template allows.",
  voice_input_disabled: "This assistant does not take voice input (its template's presentation.voiceInput is off).",
  transcription_failed: "The recording could not be transcribed right now; try again, or type your message.",
  rate_limited: "Too many requests; retry later.",
  session_limit: "This conversation has reached its length limit; start a new one.",
  budget_exhausted: "This assistant has used up today's budget; please come back tomorrow.",
  internal: "Something went wrong on our side.",
  misconfigured: "The server is misconfigured.",
  template_missing: "The agent template of this session no longer exists.",
  template_invalid: "The agent template of this widget is invalid.",
  unavailable: "A backing service is unavailable; retry shortly.",
};

/** zod issues as one line for an error message: `path: message; path: message`. */
export function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>, root = "value"): string {
  return issues.map((issue) => `${issue.path.map(String).join(".") || root}: ${issue.message}`).join("; ");
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** The one error type routes and gates throw; `app.onError` renders it. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    options: { message?: string; details?: unknown; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(options.message ?? DEFAULT_MESSAGE[code], { cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.status = STATUS[code];
    this.details = options.details;
    this.headers = options.headers ?? {};
  }

  get body(): ErrorBody {
    return {
      error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) },
    };
  }

  toResponse(): Response {
    return Response.json(this.body, { status: this.status, headers: this.headers });
  }
}
