import { z } from "zod";
import { errorBodySchema } from "../admin/schemas";
import { messageBody } from "../turn/request";
import { voiceLeadBody } from "../voice/request";
import type { ApiRegistry } from "./openapi-widget";

// The service API (src/routes/internal.ts) in the OpenAPI document: the voice bot's side of a
// session's channel, behind SERVICE_API_KEY.

const timestamp = z.iso.datetime({ offset: true });
const sessionParams = z.object({ id: z.uuid().meta({ param: { name: "id", in: "path" } }) });

const ERRORS: Record<number, string> = {
  400: "`invalid_request`: the body is not valid (zod issues in `details`)",
  401: "`unauthorized`: no or a wrong service key, or the API is off (`SERVICE_API_KEY` not set); also `widget_inactive` on a turn",
  403: "`origin_not_allowed` (a turn sent with an `Origin` not on the widget's list)",
  404: "`session_not_found`",
  409: "`turn_in_progress`, `voice_active` (another call is attached) or `voice_not_attached` (a turn without a call)",
  410: "`session_ended`",
  413: "`payload_too_large`: a body over 64 KB",
  429: "`session_limit` or `budget_exhausted` (with `Retry-After`)",
  500: "`internal`, `misconfigured`, `template_missing` or `template_invalid`",
  503: "`unavailable`: Redis (the lock) or PostgreSQL cannot be reached; `details.store` names it",
};

const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, { description: ERRORS[status] ?? "Error", content: { "application/json": { schema: errorBodySchema } } }]));

export const voiceChannelStateSchema = z
  .object({
    sessionId: z.uuid(),
    status: z.enum(["active", "ended"]),
    channel: z.enum(["chat", "voice"]),
    voiceLeadId: z.string().nullable().meta({ description: "The attached call; null in chat" }),
    lastActivityAt: timestamp,
    changed: z.boolean().meta({ description: "False when nothing changed: a retried attach of the same call, or a stale detach" }),
  })
  .meta({ id: "VoiceChannelState" });

const leadBody = { body: { required: true, content: { "application/json": { schema: voiceLeadBody } } } };
const json = (description: string) => ({ description, content: { "application/json": { schema: voiceChannelStateSchema } } });

/** Registers the service API (`/v1/internal`) in `registry`. */
export function describeInternalApi(registry: ApiRegistry): void {
  registry.registerComponent("securitySchemes", "serviceKey", {
    type: "http",
    scheme: "bearer",
    description: "The service key (`SERVICE_API_KEY`) of the voice bot; no widget token or admin key opens this API",
  });
  const tags = ["Internal"];
  const security = [{ serviceKey: [] }];
  registry.registerPath({
    method: "post",
    path: "/v1/internal/session/{id}/voice/attach",
    tags,
    security,
    summary: "Attach a voice call: CHAT → VOICE",
    description: "Under the session's turn lock; chat turns then answer 409 `voice_active`. The same `leadId` again answers 200 with `changed: false`.",
    request: { params: sessionParams, ...leadBody },
    responses: { 200: json("The call is attached"), ...errorResponses(400, 401, 404, 409, 410, 413, 500, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/internal/session/{id}/voice/detach",
    tags,
    security,
    summary: "Detach the voice call: VOICE → CHAT, only for the attached `leadId`",
    description: "A stale detach (another call, or already in chat) changes nothing and answers 200 with `changed: false`.",
    request: { params: sessionParams, ...leadBody },
    responses: { 200: json("The session as it now stands"), ...errorResponses(400, 401, 404, 413, 500, 503) },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/internal/session/{id}/voice/turn",
    tags,
    security,
    summary: "One turn of the session's agent for a finished utterance, while voice is attached",
    description: "The same lock, storage and idempotency as the widget's `/message`: a retry with the same `id` replays the stored reply.",
    request: { params: sessionParams, body: { required: true, content: { "application/json": { schema: messageBody } } } },
    responses: {
      200: {
        description: "AI SDK UI message stream v1, as `/v1/widget/session/{id}/message` answers it",
        content: { "text/event-stream": { schema: z.string() } },
      },
      ...errorResponses(400, 401, 403, 404, 409, 410, 413, 429, 500, 503),
    },
  });
}
