import type { z } from "zod";
import type { AdminKey, ChatMessage, ChatSession, MessageMetadata, Template, Tenant, TurnUsage, Widget } from "../db/schema";
import type { Transcript } from "../db/admin-queries";
import type {
  adminKeySchema,
  sessionSchema,
  templateSchema,
  tenantSchema,
  transcriptMessageSchema,
  transcriptSchema,
  turnMetricsSchema,
  widgetSchema,
} from "./schemas";

// Rows as the admin API answers them: timestamps as ISO strings, secrets as names only.

const iso = (date: Date) => date.toISOString();
const isoOrNull = (date: Date | null) => (date ? date.toISOString() : null);

export function tenantView(tenant: Tenant): z.infer<typeof tenantSchema> {
  return { id: tenant.id, name: tenant.name, createdAt: iso(tenant.createdAt) };
}

export function adminKeyView(key: AdminKey): z.infer<typeof adminKeySchema> {
  return {
    id: key.id,
    tenantId: key.tenantId,
    name: key.name,
    displayPrefix: key.displayPrefix,
    createdAt: iso(key.createdAt),
    lastUsedAt: isoOrNull(key.lastUsedAt),
    revokedAt: isoOrNull(key.revokedAt),
  };
}

/** A template without its secret values: they are write-only. */
export function templateView(template: Template): z.infer<typeof templateSchema> {
  return {
    id: template.id,
    name: template.name,
    instructions: template.instructions,
    greeting: template.greeting,
    initialTurnInstruction: template.initialTurnInstruction,
    model: template.model,
    variables: template.variables,
    secrets: Object.keys(template.secrets).sort(),
    flow: template.flow,
    tools: template.tools,
    mcpServers: template.mcpServers,
    presentation: { ...template.presentation, voiceInput: template.presentation.voiceInput ?? false },
    turnsPerSession: template.turnsPerSession,
    pageContext: template.pageContext,
    clientTools: template.clientTools,
    pendingTimeoutSeconds: template.pendingTimeoutSeconds,
    version: template.version,
    createdAt: iso(template.createdAt),
    updatedAt: iso(template.updatedAt),
  };
}

export function widgetView(widget: Widget): z.infer<typeof widgetSchema> {
  return {
    id: widget.id,
    publicKey: widget.publicKey,
    templateId: widget.templateId,
    allowedOrigins: widget.allowedOrigins,
    sessionsPerIpHour: widget.sessionsPerIpHour,
    messagesPerIpHour: widget.messagesPerIpHour,
    dailyTokenBudget: widget.dailyTokenBudget,
    active: widget.active,
    requireIdentity: widget.requireIdentity,
    resumeVisitorSessions: widget.resumeVisitorSessions,
    turnstileSiteKey: widget.turnstileSiteKey,
    identitySecretCreatedAt: isoOrNull(widget.identitySecretCreatedAt),
    version: widget.version,
    createdAt: iso(widget.createdAt),
    updatedAt: iso(widget.updatedAt),
  };
}

export function sessionView(session: ChatSession): z.infer<typeof sessionSchema> {
  return {
    id: session.id,
    widgetId: session.widgetId,
    templateId: session.templateId,
    status: session.status,
    channel: session.channel,
    currentNode: session.currentNode,
    templateVars: session.templateVars,
    visitorProvidedVars: session.visitorProvidedVars,
    visitorId: session.visitorId,
    metadata: session.metadata,
    createdAt: iso(session.createdAt),
    lastActivityAt: iso(session.lastActivityAt),
    endedAt: isoOrNull(session.endedAt),
    endedReason: session.endedReason,
  };
}

export function turnMetricsView(turn: TurnUsage): z.infer<typeof turnMetricsSchema> {
  return {
    kind: turn.kind,
    status: turn.status,
    messageIdx: turn.messageIdx,
    model: turn.model,
    finishReason: turn.finishReason,
    inputTokens: turn.inputTokens,
    outputTokens: turn.outputTokens,
    cachedInputTokens: turn.cachedInputTokens,
    reasoningTokens: turn.reasoningTokens,
    toolCalls: turn.toolCalls,
    timeToFirstTokenMs: turn.timeToFirstTokenMs,
    durationMs: turn.durationMs,
    createdAt: iso(turn.createdAt),
  };
}

function messageView(message: ChatMessage, turn: TurnUsage | undefined): z.infer<typeof transcriptMessageSchema> {
  const metadata = message.metadata as Partial<MessageMetadata>;
  return {
    idx: message.idx,
    role: message.role,
    text: message.text,
    // Everything stored, unlike the widget's GET: the merchant sees tool calls with their inputs and results.
    parts: message.parts as unknown as Array<Record<string, unknown>>,
    status: metadata.status ?? "complete",
    createdAt: iso(message.createdAt),
    turn: turn ? turnMetricsView(turn) : null,
  };
}

/** A session with every message, each assistant message with the metrics of the turn that wrote it. */
export function transcriptView({ session, messages, turns }: Transcript): z.infer<typeof transcriptSchema> {
  // A retried turn may store at an idx an earlier, failed turn also aimed at: the latest wins.
  const byIdx = new Map(turns.flatMap((turn) => (turn.messageIdx === null ? [] : [[turn.messageIdx, turn] as const])));
  return {
    ...sessionView(session),
    messages: messages.map((message) => messageView(message, message.role === "assistant" ? byIdx.get(message.idx) : undefined)),
    turns: turns.map(turnMetricsView),
  };
}
