import {
  experimental_streamTextLowMemory as streamTextSingleConsumer,
  isStepCount,
  type FinishReason,
  type LanguageModel,
  type LanguageModelUsage,
} from "ai";
import { loadMcpTools, type McpToolset } from "../agent/mcp";
import { createRedactor } from "../agent/redact";
import { buildToolset, type FlowState } from "../agent/toolset";
import { ModelUnavailableError } from "../model/provider";
import { logModelError, streamErrorText, type StreamErrorCode } from "./errors";
import type { ParleyChunk } from "./message";
import { currentNodeName, kickoffText, modelMessages, systemPrompt } from "./prompt";
import { labelVisitorValues } from "../templates/visitor-values";
import { chunkRedactor } from "./redact-chunks";
import { clientToolNamesOf } from "./pending";
import { uiChunkMapper } from "./ui-chunks";
import type { TurnDeps, TurnPlan } from "./plan";
import type { AbortReason } from "./stops";

/** At most this many model steps (tool round trips) per turn. */
export const MAX_STEPS = 20;
/** One retry of a failed provider call: more would keep the visitor waiting (back-off 2 s, 4 s…). */
const MODEL_RETRIES = 1;

export interface ModelOutcome {
  failed: boolean;
  errorCode?: StreamErrorCode;
  finishReason?: FinishReason;
  usage?: LanguageModelUsage;
  /** The flow node the conversation is in after this turn. */
  node: string | null;
  /** Set when the call was aborted before the model finished. */
  abortReason: AbortReason | null;
  /** Usage of each finished provider call: what an aborted turn still reports. */
  stepUsage?: LanguageModelUsage[];
  /** From the call's start to its first token (text, reasoning or tool input), in ms; null if none came. */
  timeToFirstTokenMs?: number | null;
  /** From the call's start to the end of its output, in ms. */
  durationMs?: number;
  /** Tool calls the model made, flow transitions included. */
  toolCalls?: number;
}

/** Chunks that carry the model's first token, for time to first token. */
const FIRST_TOKEN_CHUNKS = new Set<string>(["text-delta", "reasoning-delta", "tool-input-start"]);

/**
 * Streams the model's reply into `send`, without `finish` (the turn writes it last): the
 * agent's tools for the current node, transitions between nodes, secrets redacted from every
 * chunk on its way out.
 */
export async function streamModel(
  plan: TurnPlan,
  { deps, abortSignal, send, toolsets }: {
    deps: TurnDeps;
    abortSignal: AbortSignal;
    send: (chunk: ParleyChunk) => void;
    toolsets: McpToolset[];
  },
): Promise<ModelOutcome> {
  const { template, templateVars: vars, sessionId } = plan;
  // What the model reads marks the page's unverified values; tools get the values themselves.
  const promptVars = labelVisitorValues(vars, plan.visitorProvidedVars);
  const startedAt = Date.now();
  const state: FlowState = { node: currentNodeName(template, plan.storedNode) };
  let model: LanguageModel;
  try {
    model = deps.resolveModel(template.model, deps.config);
  } catch (error) {
    const message = error instanceof ModelUnavailableError ? error.message : undefined;
    send({ type: "error", errorText: streamErrorText("model_unavailable", message) });
    return { failed: true, errorCode: "model_unavailable", node: state.node, abortReason: null };
  }

  const redactor = createRedactor(template.secrets);
  const mcp = template.mcpServers.length
    ? await loadMcpTools({ redis: deps.redis, keyPrefix: deps.config.redisKeyPrefix, templateId: template.id, servers: template.mcpServers, secrets: template.secrets })
    : null;
  if (mcp) toolsets.push(mcp);
  const toolset = buildToolset({
    template,
    state,
    httpContext: { vars, secrets: template.secrets, redactor },
    mcpTools: mcp?.tools ?? {},
  });

  const stepUsage: LanguageModelUsage[] = [];
  // The single-consumer variant of `streamText` (same engine, same parts): the turn reads the
  // stream once, so the SDK need not tee every part into a replay copy and read it again when
  // `totalUsage` is asked for (measured with `npm run bench`, README "Performance").
  const result = streamTextSingleConsumer({
    model,
    system: systemPrompt(template, promptVars, state.node),
    messages: await modelMessages({
      sessionId,
      history: plan.history,
      // A continued turn's history already ends with the answered call: nothing is appended.
      appendUserText: plan.continuation
        ? undefined
        : plan.user
          ? plan.user.storedIdx === undefined
            ? plan.user.text
            : undefined
          : kickoffText(template, promptVars),
      pageContext: plan.pageContext,
    }),
    tools: toolset.tools,
    // Each step sees the node it is in now: a transition in step n changes step n+1.
    prepareStep: () => ({ instructions: systemPrompt(template, promptVars, state.node), activeTools: toolset.activeTools(state.node) }),
    abortSignal,
    stopWhen: isStepCount(MAX_STEPS),
    maxRetries: MODEL_RETRIES,
    temperature: template.model.temperature,
    maxOutputTokens: template.model.maxOutputTokens,
    onError: ({ error }) => logModelError(error, { sessionId }),
    // Per provider call, before its tools run: a turn canceled during a tool still counts the call.
    onLanguageModelCallEnd: (call) => void stepUsage.push(call.usage),
  });

  let failed = false;
  let finishReason: FinishReason | undefined;
  let firstTokenAt: number | null = null;
  let toolCalls = 0;
  // Calls that wait for the visitor (an approval, a client tool): the turn ends at them, no error.
  const browserTools = clientToolNamesOf(template);
  const waiting = new Set<string>();
  const redactChunk = chunkRedactor(redactor);
  const toChunk = uiChunkMapper(() => streamErrorText("model_error"));
  const reader = result.stream.getReader();
  try {
    for (;;) {
      const { done, value: part } = await reader.read();
      if (done) break;
      const value = toChunk(part);
      if (!value) continue;
      if (value.type === "finish") {
        finishReason = value.finishReason;
        continue;
      }
      if (value.type === "error") failed = true;
      if (firstTokenAt === null && FIRST_TOKEN_CHUNKS.has(value.type)) firstTokenAt = Date.now();
      if (value.type === "tool-input-available") {
        toolCalls++;
        if (browserTools.has(value.toolName)) waiting.add(value.toolCallId);
      }
      if (value.type === "tool-approval-request") waiting.add(value.toolCallId);
      if (value.type === "tool-output-available" || value.type === "tool-output-error" || value.type === "tool-output-denied") waiting.delete(value.toolCallId);
      redactChunk(value).forEach(send);
      const transition = value.type === "tool-output-available" ? toolset.transitions.get(value.toolCallId) : undefined;
      if (transition) send({ type: "data-node-transition", data: transition });
    }
  } catch (error) {
    // A provider connection dropped mid-stream surfaces as a thrown read, not an error part.
    void reader.cancel(error).catch(() => {});
    logModelError(error, { sessionId });
    if (!abortSignal.aborted) {
      send({ type: "error", errorText: streamErrorText("model_error") });
      failed = true;
    }
  }
  // Judged as the stream ends: a cancel arriving later does not turn a finished reply into a canceled one.
  const abortReason = abortSignal.aborted ? (abortSignal.reason as AbortReason) : null;
  const usage = await Promise.resolve(result.totalUsage).catch(() => undefined);
  const timing = { timeToFirstTokenMs: firstTokenAt === null ? null : firstTokenAt - startedAt, durationMs: Date.now() - startedAt };
  const ended = { finishReason, usage, node: state.node, abortReason, stepUsage, toolCalls, ...timing };
  if (!failed && !abortReason && finishReason === "tool-calls" && waiting.size === 0) {
    send({ type: "error", errorText: streamErrorText("tool_cycle_limit") });
    return { failed: true, errorCode: "tool_cycle_limit", ...ended };
  }
  return { failed, ...(failed ? { errorCode: "model_error" as const } : {}), ...ended };
}
