import { z } from "zod";
import { sessionStatuses } from "../db/schema";
import { storableString } from "../storable-text";
import { templateFieldsSchema } from "../templates/config";

// The admin API's request and response shapes. Each `.meta({ id })` names a component of the
// OpenAPI document; the same schemas validate requests.

const uuid = z.uuid();
const timestamp = z.iso.datetime({ offset: true }).meta({ description: "ISO 8601, UTC" });

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: "snake_case, stable: branch on it" }),
      message: z.string(),
      details: z.unknown().optional().meta({ description: "For 400: the zod issues; otherwise what the code needs (e.g. the widgets using a template)" }),
    }),
  })
  .meta({ id: "Error" });

/** `limit` and `cursor`, the query of every list. */
export const pageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: "Items per page, 1–100" }),
  cursor: z.string().min(1).max(500).optional().meta({ description: "`nextCursor` of the previous page" }),
});

const page = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).meta({ id });

export const idParamSchema = z.object({ id: uuid.meta({ param: { name: "id", in: "path" } }) });

export const ifMatchHeaderSchema = z.object({
  "if-match": z.string().optional().meta({ description: "An ETag from a read: the write is refused with 412 if the resource changed since" }),
});

// ——— tenants and keys ———

export const tenantIdSchema = z.string().regex(/^[a-z0-9_]{3,64}$/, "3–64 characters of a–z, 0–9 and _");

export const createTenantBodySchema = z
  .object({
    id: tenantIdSchema.optional().meta({ description: "Chosen id; generated (`tn_…`) when omitted" }),
    name: storableString().min(1).max(200),
  })
  .meta({ id: "CreateTenant" });

export const tenantParamSchema = z.object({ tenantId: tenantIdSchema.or(z.string().regex(/^tn_[A-Za-z0-9_-]{16}$/)) });

export const createKeyBodySchema = z.object({ name: storableString().max(200).default("") }).meta({ id: "CreateAdminKey" });

export const adminKeySchema = z
  .object({
    id: uuid,
    tenantId: z.string(),
    name: z.string(),
    displayPrefix: z.string().meta({ description: "The key's first characters, to tell keys apart" }),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable().meta({ description: "Updated at most once a minute" }),
    revokedAt: timestamp.nullable(),
  })
  .meta({ id: "AdminKey" });

export const createdKeySchema = adminKeySchema
  .extend({ key: z.string().meta({ description: "The whole key, `sk_<env>_…`: shown only in this answer" }) })
  .meta({ id: "CreatedAdminKey" });

export const tenantSchema = z.object({ id: z.string(), name: z.string(), createdAt: timestamp }).meta({ id: "Tenant" });

export const createdTenantSchema = z.object({ tenant: tenantSchema, key: createdKeySchema }).meta({ id: "CreatedTenant" });

export const adminKeyPageSchema = page(adminKeySchema, "AdminKeyPage");

// ——— templates ———

type OptionalWithoutDefaults<S extends z.ZodRawShape> = {
  [K in keyof S]: z.ZodOptional<S[K] extends z.ZodDefault<infer Inner extends z.ZodType> ? Inner : S[K]>;
};

/**
 * Every field optional and without its default: zod's `.partial()` would still fill defaults in,
 * and a partial update must leave an omitted field as stored.
 */
function optionalWithoutDefaults<S extends z.ZodRawShape>(shape: S): OptionalWithoutDefaults<S> {
  const fields = Object.entries(shape).map(([key, field]) => [key, z.optional(field instanceof z.ZodDefault ? field.unwrap() : field)]);
  return Object.fromEntries(fields) as OptionalWithoutDefaults<S>;
}

/**
 * `PATCH /templates/:id`: any subset of the fields, each replacing the stored one, checked as a
 * whole template once merged; `secrets` merges instead (a value sets one, null removes one).
 */
export const templatePatchSchema = z
  .object(optionalWithoutDefaults(templateFieldsSchema.shape))
  .extend({
    secrets: z
      .record(z.string(), z.string().max(10_000).nullable())
      .optional()
      .meta({ description: "Merged into the stored secrets: a value sets one, null removes one, an omitted name is kept" }),
  })
  .meta({ id: "TemplatePatch" });

export const templateSchema = templateFieldsSchema
  .omit({ secrets: true })
  .extend({
    id: uuid,
    secrets: z.array(z.string()).meta({ description: "Names only: secret values are write-only" }),
    version: z.number().int().meta({ description: "Also sent as the ETag" }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Template" });

export const templatePageSchema = page(templateSchema, "TemplatePage");

export const templateInUseDetailsSchema = z.object({ widgets: z.array(z.object({ id: uuid, publicKey: z.string() })) });

// ——— widgets ———

const widgetFields = {
  templateId: uuid,
  allowedOrigins: z
    .array(z.string().max(300))
    .max(50)
    .meta({ description: "Exact origins (`https://shop.example`, no path); `http://` only for localhost outside development" }),
  sessionsPerIpHour: z.number().int().min(0).max(1_000_000).meta({ description: "Sessions one IP may open per hour; 0 disables" }),
  messagesPerIpHour: z.number().int().min(0).max(1_000_000).meta({ description: "Messages one IP may send per hour; 0 disables" }),
  dailyTokenBudget: z
    .number()
    .int()
    .min(1)
    .max(2_000_000_000)
    .nullable()
    .meta({ description: "Model tokens (in + out) all the widget's turns may use per UTC day, then 429 `budget_exhausted`; null: no budget" }),
  active: z.boolean().meta({ description: "An inactive widget opens no sessions and answers 401 on its sessions' routes" }),
  requireIdentity: z
    .boolean()
    .meta({ description: "Open sessions only for verified visitors: a create without a valid `identityToken` answers 401 `identity_required`" }),
  resumeVisitorSessions: z
    .boolean()
    .meta({ description: "A verified visitor's create resumes their latest active session on this widget (200, `resumed: true`) instead of opening another" }),
};

/** Cloudflare Turnstile on session create: both keys of one Turnstile widget, written together. */
const turnstileSettings = z
  .object({
    siteKey: z.string().min(1).max(200).meta({ description: "The public site key the chat widget renders the challenge with" }),
    secret: z.string().min(1).max(500).meta({ description: "The secret key that verifies tokens; write-only, never returned" }),
  })
  .nullable()
  .meta({ description: "Ask visitors to pass a Turnstile challenge before a session opens (403 `challenge_required` / `challenge_failed`); null: off" });

export const createWidgetBodySchema = z
  .object({
    ...widgetFields,
    allowedOrigins: widgetFields.allowedOrigins.default([]),
    sessionsPerIpHour: widgetFields.sessionsPerIpHour.default(60),
    messagesPerIpHour: widgetFields.messagesPerIpHour.default(600),
    dailyTokenBudget: widgetFields.dailyTokenBudget.default(null),
    active: widgetFields.active.default(true),
    requireIdentity: widgetFields.requireIdentity.default(false),
    resumeVisitorSessions: widgetFields.resumeVisitorSessions.default(true),
    turnstile: turnstileSettings.default(null),
  })
  .meta({ id: "CreateWidget" });

export const widgetPatchSchema = z.object({ ...widgetFields, turnstile: turnstileSettings }).partial().meta({ id: "WidgetPatch" });

export const widgetSchema = z
  .object({
    id: uuid,
    publicKey: z.string().meta({ description: "`pk_` + 32 random bytes, base64url: what the page's script sends" }),
    ...widgetFields,
    turnstileSiteKey: z.string().nullable().meta({ description: "The Turnstile site key when a challenge is on; its secret is never shown" }),
    identitySecretCreatedAt: timestamp
      .nullable()
      .meta({ description: "When the identity secret was created or last rotated; null: none, so no visitor can be verified. The secret itself is never shown again" }),
    version: z.number().int(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Widget" });

export const widgetPageSchema = page(widgetSchema, "WidgetPage");

export const identitySecretSchema = z
  .object({
    identitySecret: z
      .string()
      .meta({ description: "`pis_` + 32 random bytes, base64url: the HS256 key the merchant's server signs identity tokens with. Shown this once" }),
    widget: widgetSchema,
  })
  .meta({ id: "WidgetIdentitySecret" });

export const widgetBudgetSchema = z
  .object({
    dailyTokenBudget: widgetFields.dailyTokenBudget,
    usedToday: z.number().int().meta({ description: "Tokens (in + out) of the widget's turns since midnight UTC" }),
    exhausted: z.boolean().meta({ description: "True while turns answer 429 `budget_exhausted`" }),
    resetsAt: z.string().meta({ description: "The next midnight UTC, when the count starts over" }),
  })
  .meta({ id: "WidgetBudget" });

export const widgetListQuerySchema = pageQuerySchema.extend({ templateId: uuid.optional() });

// ——— sessions ———

const range = (what: string) => ({
  from: timestamp.optional().meta({ description: `${what} at or after` }),
  to: timestamp.optional().meta({ description: `${what} before` }),
});

export const sessionListQuerySchema = pageQuerySchema.extend({
  widgetId: uuid.optional(),
  visitorId: storableString().min(1).max(255).optional().meta({ description: "The merchant's visitor id (`sub` of the identity token)" }),
  status: z.enum(sessionStatuses).optional(),
  createdFrom: range("Created").from,
  createdTo: range("Created").to,
  lastActivityFrom: range("Last activity").from,
  lastActivityTo: range("Last activity").to,
});

export const sessionSchema = z
  .object({
    id: uuid,
    widgetId: uuid,
    templateId: uuid.nullable(),
    status: z.enum(sessionStatuses),
    channel: z.enum(["chat", "voice"]),
    currentNode: z.string().nullable(),
    templateVars: z.record(z.string(), z.string()),
    visitorProvidedVars: z.array(z.string()).meta({ description: "The variables whose value the visitor's page supplied (unverified)" }),
    visitorId: z.string().nullable().meta({ description: "The verified visitor (`sub` of the identity token); null: anonymous" }),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: timestamp,
    lastActivityAt: timestamp,
    endedAt: timestamp.nullable(),
    endedReason: z.string().nullable(),
  })
  .meta({ id: "Session" });

export const sessionPageSchema = page(sessionSchema, "SessionPage");

export const turnMetricsSchema = z
  .object({
    kind: z.enum(["initial", "message", "approval", "tool_result"]),
    status: z.enum(["completed", "canceled", "failed"]),
    messageIdx: z.number().int().nullable().meta({ description: "The assistant message it stored; null when none" }),
    model: z.string(),
    finishReason: z.string().nullable(),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    cachedInputTokens: z.number().int().nullable().meta({ description: "Null when the provider does not report it" }),
    reasoningTokens: z.number().int().nullable().meta({ description: "Null when the provider does not report it" }),
    toolCalls: z.number().int(),
    timeToFirstTokenMs: z.number().int().nullable(),
    durationMs: z.number().int(),
    createdAt: timestamp,
  })
  .meta({ id: "TurnMetrics" });

export const transcriptMessageSchema = z
  .object({
    idx: z.number().int(),
    role: z.enum(["user", "assistant"]),
    text: z.string(),
    parts: z.array(z.record(z.string(), z.unknown())).meta({ description: "AI SDK UI message parts, tool calls and results included" }),
    status: z.enum(["complete", "canceled", "interrupted"]),
    createdAt: timestamp,
    turn: turnMetricsSchema.nullable().meta({ description: "Assistant messages: the metrics of the turn that wrote it" }),
  })
  .meta({ id: "TranscriptMessage" });

export const transcriptSchema = sessionSchema
  .extend({
    messages: z.array(transcriptMessageSchema),
    turns: z.array(turnMetricsSchema).meta({ description: "Every turn, in order, including those that stored no message" }),
  })
  .meta({ id: "Transcript" });

// ——— usage ———

const day = z.iso.date().meta({ description: "UTC day, YYYY-MM-DD" });

export const usageQuerySchema = pageQuerySchema.extend({
  from: day.meta({ description: "First UTC day, inclusive" }),
  to: day.meta({ description: "Last UTC day, inclusive" }),
  widgetId: uuid.optional(),
});

const usageTotals = {
  turns: z.number().int(),
  sessions: z.number().int().meta({ description: "Sessions with at least one turn" }),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cachedInputTokens: z.number().int(),
  reasoningTokens: z.number().int(),
  toolCalls: z.number().int(),
};

export const usageSchema = z
  .object({
    from: day,
    to: day,
    totals: z.object(usageTotals).meta({ description: "Over the whole range (all pages)" }),
    items: z.array(z.object({ date: day, widgetId: uuid, ...usageTotals })),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: "Usage" });
