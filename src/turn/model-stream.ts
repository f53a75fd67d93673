import {
  isStepCount,
  streamText,
  toUIMessageStream,
  type FinishReason,
  type LanguageModel,
  type LanguageModelUsage,
  type ToolSet,
} from "ai";
import { loadMcpTools, type McpToolset } from "../agent/mcp";
import { createRedactor } from "../agent/redact";
import { buildToolset, type FlowState } from "../agent/toolset";
import { ModelUnavailableError } from "../model/provider";
import { logModelError, streamErrorText, type StreamErrorCode } from "./errors";
import type { ParleyChunk, ParleyUIMessage } from "./message";
import { currentNodeName, kickoffText, modelMessages, systemPrompt } from "./prompt";
import { chunkRedactor } from "./redact-chunks";
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
}

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

  const result = streamText({
    model,
    system: systemPrompt(template, vars, state.node),
    messages: await modelMessages({
      sessionId,
      history: plan.history,
      appendUserText: plan.user ? (plan.user.storedIdx === undefined ? plan.user.text : undefined) : kickoffText(template, vars),
    }),
    tools: toolset.tools,
    // Each step sees the node it is in now: a transition in step n changes step n+1.
    prepareStep: () => ({ instructions: systemPrompt(template, vars, state.node), activeTools: toolset.activeTools(state.node) }),
    abortSignal,
    stopWhen: isStepCount(MAX_STEPS),
    maxRetries: MODEL_RETRIES,
    temperature: template.model.temperature,
    maxOutputTokens: template.model.maxOutputTokens,
    onError: ({ error }) => logModelError(error, { sessionId }),
  });

  let failed = false;
  let finishReason: FinishReason | undefined;
  const redactChunk = chunkRedactor(redactor);
  const reader = toUIMessageStream<ToolSet, ParleyUIMessage>({
    stream: result.stream,
    sendStart: false,
    onError: () => streamErrorText("model_error"),
  }).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.type === "finish") {
        finishReason = value.finishReason;
        continue;
      }
      if (value.type === "error") failed = true;
      redactChunk(value).forEach(send);
      const transition = value.type === "tool-output-available" ? toolset.transitions.get(value.toolCallId) : undefined;
      if (transition) send({ type: "data-node-transition", data: transition });
    }
  } catch (error) {
    // A provider connection dropped mid-stream surfaces as a thrown read, not an error part.
    logModelError(error, { sessionId });
    if (!abortSignal.aborted) {
      send({ type: "error", errorText: streamErrorText("model_error") });
      failed = true;
    }
  }
  // Judged as the stream ends: a cancel arriving later does not turn a finished reply into a canceled one.
  const abortReason = abortSignal.aborted ? (abortSignal.reason as AbortReason) : null;
  const usage = await Promise.resolve(result.totalUsage).catch(() => undefined);
  const ended = { finishReason, usage, node: state.node, abortReason };
  if (!failed && !abortReason && finishReason === "tool-calls") {
    send({ type: "error", errorText: streamErrorText("tool_cycle_limit") });
    return { failed: true, errorCode: "tool_cycle_limit", ...ended };
  }
  return { failed, ...(failed ? { errorCode: "model_error" as const } : {}), ...ended };
}
