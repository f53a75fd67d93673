import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { errorBodySchema } from "../admin/schemas";
import { createSessionBody } from "../sessions/request";
import { DEMO_PAGE_PATHS } from "./demo";
import { approvalBody, toolResultBody } from "../turn/answer-request";
import { messageBody } from "../turn/request";
import { pushContextBody } from "../page-context/request";

// The widget API and the health probes in the OpenAPI document. Their routes are plain Hono
// (src/routes/widget.ts, health.ts); the shapes here are the request schemas those routes parse
// and the bodies they answer, checked against real responses by the tests.

const timestamp = z.iso.datetime({ offset: true });
const sessionParams = z.object({ id: z.uuid().meta({ param: { name: "id", in: "path" } }) });

const GATE_ERRORS: Record<number, string> = {
  400: "`invalid_request`: the body is not valid (zod issues in `details`)",
  401: "`invalid_token` (missing, invalid or expired session token) or `widget_inactive`; on create `invalid_identity` (the identity token does not verify) or `identity_required`",
  403: "`origin_not_allowed` (the page's origin is not on the widget's allow-list), or on create `challenge_required` / `challenge_failed` (Turnstile), or on transcribe `voice_input_disabled`",
  404: "`widget_not_found` or `session_not_found` (also for a token of another session)",
  409: "`turn_in_progress`, `voice_active` (a voice call is attached) or `session_not_fresh`",
  410: "`session_ended`",
  413: "`payload_too_large`: a body over 64 KB; `context_too_large`: page context over the template's `pageContext.maxBytes`",
  429: "`rate_limited` with `Retry-After`; on turns also `session_limit` and `budget_exhausted` (with `Retry-After`)",
  500: "`internal`, `misconfigured`, `template_missing` or `template_invalid`",
  502: "`transcription_failed`: the model provider could not transcribe the recording",
  503: "`unavailable`: Redis (rate limits, lock) or PostgreSQL cannot be reached; `details.store` names it",
};

function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [status, { description: GATE_ERRORS[status] ?? "Error", content: { "application/json": { schema: errorBodySchema } } }]),
  );
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

export const widgetConfigSchema = z
  .object({
    turnstileSiteKey: z.string().nullable().meta({ description: "Set when sessions open only after a Turnstile challenge" }),
  })
  .meta({ id: "WidgetConfig" });

export const sessionCreatedSchema = z
  .object({
    sessionId: z.uuid(),
    token: z.string().meta({ description: "HS256 session token, 24 h; send as `Authorization: Bearer`" }),
    expiresAt: timestamp,
    status: z.enum(["active", "ended"]),
    channel: z.enum(["chat", "voice"]),
    currentNode: z.string().nullable(),
    greeting: z.string().nullable().meta({ description: "The static greeting, stored as message 0; null when the model writes it" }),
    initialTurn: z.literal("llm").nullable().meta({ description: '"llm": call `/initial-turn` for the greeting' }),
    quickReplies: z.array(z.string()),
    textInput: z.boolean(),
    resumed: z.boolean().meta({ description: "True when a verified visitor's latest active session was resumed (status 200): load its transcript with `GET /session/{id}`" }),
    visitorId: z.string().nullable().meta({ description: "The verified visitor (`sub` of the identity token); null: anonymous" }),
    ignoredVars: z
      .array(z.string())
      .meta({ description: "Template variables the request set but that were not used: trusted ones (only the identity token sets them) or ones the token set" }),
    voiceInput: z.boolean().meta({ description: "Push-to-talk: show a microphone button (`/transcribe`)" }),
  })
  .meta({ id: "WidgetSessionCreated" });

export const widgetMessageSchema = z
  .object({
    id: z.string(),
    idx: z.number().int(),
    role: z.enum(["user", "assistant"]),
    text: z.string(),
    parts: z.array(z.record(z.string(), z.unknown())).meta({ description: "AI SDK UI parts a widget renders: text, tool calls with results, data-node-transition" }),
    status: z.enum(["complete", "canceled", "interrupted"]),
    awaiting: z
      .object({ expiresAt: timestamp, clientCalls: z.array(z.string()) })
      .optional()
      .meta({ description: "Present while the reply waits for the visitor: `clientCalls` are the tool call ids the page must answer (`/tool-result`)" }),
    createdAt: timestamp,
  })
  .meta({ id: "WidgetMessage" });

export const widgetSessionStateSchema = z
  .object({
    sessionId: z.uuid(),
    status: z.enum(["active", "ended"]),
    channel: z.enum(["chat", "voice"]),
    currentNode: z.string().nullable(),
    createdAt: timestamp,
    lastActivityAt: timestamp,
    endedAt: timestamp.nullable(),
    endedReason: z.string().nullable(),
    quickReplies: z.array(z.string()),
    textInput: z.boolean(),
    voiceInput: z.boolean().meta({ description: "Push-to-talk: show a microphone button (`/transcribe`)" }),
    messages: z.array(widgetMessageSchema),
  })
  .meta({ id: "WidgetSessionState" });

export const pageContextPushedSchema = z
  .object({
    applied: z.boolean().meta({ description: "False when the stored revision is already this high or higher: nothing changed" }),
    reason: z.literal("stale_revision").optional().meta({ description: "Set when `applied` is false" }),
    revision: z.number().int().meta({ description: "The revision stored now" }),
    accepted: z.array(z.string()).meta({ description: "Keys on the template's allow-list (stored when applied)" }),
    dropped: z.array(z.string()).meta({ description: "Keys off the allow-list: never stored" }),
    bytes: z.number().int().meta({ description: "The accepted context as JSON, in UTF-8 bytes (the cap is judged on it)" }),
  })
  .meta({ id: "PageContextPushed" });

const uiMessageStream = {
  description:
    "AI SDK UI message stream v1 (`x-vercel-ai-ui-message-stream: v1`): `data:` frames of JSON chunks, " +
    "`data-turn-end` `{ status, assistantIdx }` always last before `finish`, then `[DONE]`",
  content: { "text/event-stream": { schema: z.string() } },
};

/** The registry of an OpenAPIHono app. */
export type ApiRegistry = OpenAPIHono["openAPIRegistry"];

/** Registers the widget API (`/v1/widget`), the health probes and the demo shop pages in `registry`. */
export function describeWidgetApi(registry: ApiRegistry): void {
  registry.registerComponent("securitySchemes", "sessionToken", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The session token from `POST /v1/widget/session`",
  });
  const tags = ["Widget"];
  const security = [{ sessionToken: [] }];

  registry.registerPath({
    method: "get",
    path: "/v1/widget/config",
    tags,
    summary: "What the widget needs before a session: may this page show it, and does it need a challenge",
    description:
      "No session, no rate-limit count: `widget.js` asks on page load so that a page whose origin is not allowed shows no launcher. Cacheable per page origin for 60 s.",
    request: { query: z.object({ publicKey: z.string().meta({ description: "The snippet's `data-public-key`" }) }) },
    responses: { 200: json(widgetConfigSchema, "The page may show the widget"), ...errorResponses(400, 403, 404, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/widget/session",
    tags,
    summary: "Open a session",
    description: "`publicKey` names the widget; the page's `Origin` (or `Referer`) must be on its allow-list.",
    request: { body: { required: true, content: { "application/json": { schema: createSessionBody } } } },
    responses: {
      200: json(sessionCreatedSchema, "A verified visitor's latest active session, resumed, with a new token"),
      201: json(sessionCreatedSchema, "The session and its token"),
      ...errorResponses(400, 401, 403, 404, 413, 429, 500, 503),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/widget/session/{id}",
    tags,
    summary: "A session's state and visible messages",
    security,
    request: { params: sessionParams },
    responses: { 200: json(widgetSessionStateSchema, "State and messages"), ...errorResponses(401, 403, 404, 500, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/widget/session/{id}/initial-turn",
    tags,
    summary: "Stream the model's greeting",
    security,
    request: { params: sessionParams },
    responses: { 200: uiMessageStream, ...errorResponses(401, 403, 404, 409, 410, 413, 429, 500, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/widget/session/{id}/message",
    tags,
    summary: "Send a message and stream the reply",
    description: "A retry with the same `id` replays the stored reply without calling the model.",
    security,
    request: { params: sessionParams, body: { required: true, content: { "application/json": { schema: messageBody } } } },
    responses: { 200: uiMessageStream, ...errorResponses(400, 401, 403, 404, 409, 410, 413, 429, 500, 503) },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/widget/session/{id}/stream",
    tags,
    summary: "Resume the reply in flight (the AI SDK's `resume: true` convention)",
    description:
      "204 when no turn of the session is in flight; otherwise the turn's stream replayed from its `start`, then live until `finish`. " +
      "Frames carry event ids `<turnId>-<n>`; a `Last-Event-ID` naming one of this turn's skips what the client has. " +
      "A turn whose producer died ends with `turn_interrupted` and a failed `data-turn-end`.",
    security,
    request: {
      params: sessionParams,
      headers: z.object({ "last-event-id": z.string().optional().meta({ description: "The id of the last event the client has" }) }),
    },
    responses: {
      200: uiMessageStream,
      204: { description: "No turn in flight: nothing to resume" },
      ...errorResponses(401, 403, 404, 500, 503),
    },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/widget/session/{id}/context",
    tags,
    summary: "Set the page context the next turns render for the model",
    description:
      "Replaces the session's page context with the keys of `context` on the template's `pageContext.allowedKeys` (others are dropped and named in `dropped`). " +
      "Never takes the turn lock: a push during a streaming turn succeeds and applies from the next turn. A `revision` not higher than the stored one changes nothing (`applied: false`). " +
      "413 `context_too_large` when the accepted keys are over the template's `pageContext.maxBytes` as JSON (default 4096); nothing changes.",
    security,
    request: { params: sessionParams, body: { required: true, content: { "application/json": { schema: pushContextBody } } } },
    responses: {
      200: json(pageContextPushedSchema, "Applied, or ignored as stale"),
      ...errorResponses(400, 401, 403, 404, 410, 413, 429, 500, 503),
    },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/widget/session/{id}/approval",
    tags,
    summary: "Approve or deny a tool call the reply waits on, and stream the reply going on",
    description:
      "The same gates as a message turn (lock included). `approvalId` is the stream's `tool-approval-request`. An approved tool runs; a denied one is reported to the model with `reason`; after the template's `pendingTimeoutSeconds` the model is told the request timed out. 404 `approval_not_found`; 409 `already_decided` with `details.decision`.",
    security,
    request: { params: sessionParams, body: { required: true, content: { "application/json": { schema: approvalBody } } } },
    responses: { 200: uiMessageStream, ...errorResponses(400, 401, 403, 404, 409, 410, 413, 429, 500, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/widget/session/{id}/tool-result",
    tags,
    summary: "Answer a client tool call the reply waits on, and stream the reply going on",
    description:
      "The same gates as a message turn (lock included). `toolCallId` is the stream's `tool-input-available` of a client tool; `output` is any JSON of at most 16 KB (413 otherwise). After the template's `pendingTimeoutSeconds` the model is told the call timed out. 404 `tool_call_not_found`; 409 `already_answered` with `details.answer`.",
    security,
    request: { params: sessionParams, body: { required: true, content: { "application/json": { schema: toolResultBody } } } },
    responses: { 200: uiMessageStream, ...errorResponses(400, 401, 403, 404, 409, 410, 413, 429, 500, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/widget/session/{id}/cancel",
    tags,
    summary: "Stop the reply in flight",
    security,
    request: { params: sessionParams },
    responses: {
      202: json(z.object({ sessionId: z.uuid(), turnInFlight: z.boolean() }).meta({ id: "WidgetCancel" }), "Asked; `turnInFlight` false when none was running"),
      ...errorResponses(401, 403, 404, 500, 503),
    },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/widget/session/{id}/end",
    tags,
    summary: "End the session (idempotent)",
    security,
    request: { params: sessionParams },
    responses: {
      200: json(
        z.object({ sessionId: z.uuid(), status: z.enum(["active", "ended"]), endedAt: timestamp.nullable(), endedReason: z.string().nullable() }).meta({ id: "WidgetSessionEnded" }),
        "The session as it now stands",
      ),
      ...errorResponses(401, 403, 404, 500, 503),
    },
  });

  registry.registerPath({
    method: "post",
    path: "/v1/widget/session/{id}/transcribe",
    tags,
    summary: "Push-to-talk: the text of a recording (no turn starts, nothing is stored)",
    description:
      "For a template with `presentation.voiceInput`. Same gates as a turn (rate limit: a `transcribe` bucket of its own against the widget's per-IP limit); the template's model provider transcribes. " +
      "413 over 10 MB, 400 for an empty or non-audio file, 403 `voice_input_disabled`, 502 `transcription_failed` when the provider fails.",
    security,
    request: {
      params: sessionParams,
      body: {
        required: true,
        content: { "multipart/form-data": { schema: z.object({ audio: z.string().meta({ format: "binary", description: "The recording (audio/*, at most 10 MB)" }) }) } },
      },
    },
    responses: {
      200: json(z.object({ text: z.string() }).meta({ id: "WidgetTranscript" }), "The recording's text"),
      ...errorResponses(400, 401, 403, 404, 409, 410, 413, 429, 500, 502, 503),
    },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/widget/session/{id}/voice/end",
    tags,
    summary: "Back to chat: detach the voice call (idempotent)",
    description: "Detaches whichever call is attached; `changed: false` when the session was already in chat.",
    security,
    request: { params: sessionParams },
    responses: {
      200: json(z.object({ sessionId: z.uuid(), channel: z.enum(["chat", "voice"]), changed: z.boolean() }).meta({ id: "WidgetVoiceEnded" }), "The session's channel now"),
      ...errorResponses(401, 403, 404, 500, 503),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/healthz",
    tags: ["Health"],
    summary: "Liveness (no I/O)",
    responses: { 200: json(z.object({ ok: z.literal(true) }), "Alive") },
  });
  registry.registerPath({
    method: "get",
    path: "/readyz",
    tags: ["Health"],
    summary: "Readiness: one round trip to Redis and to PostgreSQL",
    responses: {
      200: json(z.object({ redis: z.literal("ok"), db: z.literal("ok") }), "Both reachable"),
      ...errorResponses(500, 503),
    },
  });
  for (const path of DEMO_PAGE_PATHS) {
    registry.registerPath({
      method: "get",
      path,
      tags: ["Demo"],
      summary: "A demo shop page embedding a demo widget (development and previews)",
      responses: {
        200: { description: "An HTML page with the widget snippet and a strict Content-Security-Policy", content: { "text/html": { schema: z.string() } } },
        404: { description: "`not_found`: production serves no demo shop", content: { "application/json": { schema: errorBodySchema } } },
      },
    });
  }
}
