import type { Redis } from "@upstash/redis/cloudflare";
import {
  isStepCount,
  readUIMessageStream,
  streamText,
  toUIMessageStream,
  type LanguageModel,
  type LanguageModelUsage,
  type ToolSet,
} from "ai";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { insertMessage, saveReply, touchSession } from "../db/queries";
import type { ChatMessage, MessageMetadata, Template } from "../db/schema";
import { releaseLock, watchForCancel } from "../lock";
import { loadMcpTools, type McpToolset } from "../agent/mcp";
import { createRedactor, type Redactor } from "../agent/redact";
import { buildToolset, type FlowState } from "../agent/toolset";
import { ModelUnavailableError, type ModelResolver } from "../model/provider";
import { logModelError, streamErrorText } from "./errors";
import { messageId, type ParleyChunk, type ParleyUIMessage, type TurnStatus } from "./message";
import { currentNodeName, kickoffText, modelMessages, systemPrompt } from "./prompt";
import type { TurnStream } from "./stream";

/** At most this many model steps (tool round trips) per turn. */
export const MAX_STEPS = 20;
/** One retry of a failed provider call: more would keep the visitor waiting (back-off 2 s, 4 s…). */
const MODEL_RETRIES = 1;
/**
 * After a client disconnects, the generation may go on this long before it is cut off and
 * stored `interrupted`. Workers cap post-disconnect `waitUntil` work at 30 s.
 */
export const DISCONNECT_GRACE_MS = 25_000;

type AbortReason = "cancel" | "deadline" | "disconnect";

/** What the gates and the snapshot settled before the stream opened. */
export interface TurnPlan {
  sessionId: string;
  template: Template;
  templateVars: Record<string, string>;
  storedNode: string | null;
  /** Stored messages the model sees, oldest first. */
  history: ChatMessage[];
  /** idx of the next message to store. */
  nextIdx: number;
  /** Absent on the initial turn. `storedIdx` is set when a retried message is already stored. */
  user?: { clientMessageId: string; text: string; storedIdx?: number };
}

export interface TurnDeps {
  db: Database;
  redis: Redis;
  config: Config;
  resolveModel: ModelResolver;
  lockToken: string;
  stream: TurnStream;
}

/**
 * Runs one turn to its end, writing into `stream`: stores the user message, streams the model,
 * stores the reply, releases the lock, then closes the stream. Never rejects: it is handed to
 * `waitUntil`, and every path ends in `finally`.
 */
export async function runTurn(plan: TurnPlan, deps: TurnDeps): Promise<void> {
  const { db, redis, config, stream } = deps;
  const { sessionId } = plan;
  const abort = new AbortController();
  const stopWatching = new AbortController();
  const timers: number[] = [setTimeout(() => abort.abort("deadline" satisfies AbortReason), config.turnDeadlineMs)];
  const onClientGone = () => {
    timers.push(setTimeout(() => abort.abort("disconnect" satisfies AbortReason), DISCONNECT_GRACE_MS));
  };
  stream.clientGone.addEventListener("abort", onClientGone, { once: true });
  void watchForCancel(redis, { sessionId, token: deps.lockToken, signal: stopWatching.signal }).then(
    () => stopWatching.signal.aborted || abort.abort("cancel" satisfies AbortReason),
    () => {},
  );

  const sent: ParleyChunk[] = [];
  const toolsets: McpToolset[] = [];
  const send = (chunk: ParleyChunk) => {
    sent.push(chunk);
    stream.write(chunk);
  };
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    stopWatching.abort();
    await releaseLock(redis, { sessionId, token: deps.lockToken }).catch((error: unknown) =>
      console.error("lock release failed; the TTL will free it", { sessionId, error: String(error) }),
    );
  };

  const storesUser = plan.user !== undefined && plan.user.storedIdx === undefined;
  const assistantIdx = plan.nextIdx + (storesUser ? 1 : 0);
  const metadata = { sessionId, idx: assistantIdx };
  try {
    send({ type: "start", messageId: messageId(sessionId, assistantIdx), messageMetadata: metadata });

    if (plan.user) {
      const userIdx = plan.user.storedIdx ?? plan.nextIdx;
      if (storesUser) {
        try {
          await insertMessage(db, {
            message: {
              sessionId,
              idx: userIdx,
              clientMessageId: plan.user.clientMessageId,
              role: "user",
              text: plan.user.text,
              parts: [{ type: "text", text: plan.user.text }],
            },
          });
        } catch (error) {
          console.error("storing the user message failed", { sessionId, error: String(error) });
          await release();
          return end(send, { status: "failed", assistantIdx: null, metadata, error: streamErrorText("persist_failed", "Your message could not be saved. Please try again.") });
        }
      }
      send({ type: "data-user-committed", data: { idx: userIdx }, transient: true });
    }

    const outcome = await streamModel(plan, { deps, abortSignal: abort.signal, send, toolsets });
    const reason = abort.signal.aborted ? (abort.signal.reason as AbortReason) : null;
    let status: TurnStatus = reason === "cancel" ? "canceled" : outcome.failed || reason ? "failed" : "completed";
    if (reason === "deadline") send({ type: "error", errorText: streamErrorText("turn_deadline") });

    const reply = await assemble(sent);
    const hasContent = reply.parts.some((part) => part.type !== "step-start");
    let storedIdx: number | null = null;
    // A reply that failed before producing anything is not stored: a retry of the same message runs again.
    if (status !== "failed" || hasContent) {
      const stored: MessageMetadata = {
        status: status === "completed" ? "complete" : status === "canceled" ? "canceled" : "interrupted",
        model: plan.template.model.modelId,
        ...(outcome.finishReason ? { finishReason: outcome.finishReason } : {}),
        ...(outcome.usage ? { usage: pickUsage(outcome.usage) } : {}),
        ...(outcome.errorCode ? { error: outcome.errorCode } : reason === "deadline" ? { error: "turn_deadline" } : {}),
      };
      try {
        await saveReply(db, {
          message: { sessionId, idx: assistantIdx, role: "assistant", text: textOf(reply), parts: reply.parts, metadata: stored },
          currentNode: outcome.node,
        });
        storedIdx = assistantIdx;
      } catch (error) {
        console.error("storing the reply failed", { sessionId, error: String(error) });
        send({ type: "error", errorText: streamErrorText("persist_failed") });
        status = "failed";
      }
    } else {
      await touchSession(db, { sessionId }).catch(() => {});
    }
    await release();
    end(send, { status, assistantIdx: storedIdx, metadata, finishReason: outcome.finishReason });
  } catch (error) {
    console.error("turn failed unexpectedly", { sessionId, error: String(error) });
    // Released before the stream ends, as on every other path, so the next turn gets the lock.
    await release();
    end(send, { status: "failed", assistantIdx: null, metadata, error: streamErrorText("model_error") });
  } finally {
    stream.clientGone.removeEventListener("abort", onClientGone);
    for (const timer of timers) clearTimeout(timer);
    stopWatching.abort();
    await release();
    stream.close();
    await Promise.all(toolsets.map((toolset) => toolset.close()));
  }
}

function end(
  send: (chunk: ParleyChunk) => void,
  { status, assistantIdx, metadata, error, finishReason }: {
    status: TurnStatus;
    assistantIdx: number | null;
    metadata: { sessionId: string; idx: number };
    error?: string;
    finishReason?: string;
  },
): void {
  if (error) send({ type: "error", errorText: error });
  send({ type: "data-turn-end", data: { status, assistantIdx }, transient: true });
  send({
    type: "finish",
    messageMetadata: metadata,
    ...(finishReason ? { finishReason: finishReason as never } : {}),
  });
}

interface ModelOutcome {
  failed: boolean;
  errorCode?: string;
  finishReason?: string;
  usage?: LanguageModelUsage;
  /** The flow node the conversation is in after this turn. */
  node: string | null;
}

/**
 * Streams the model's reply into `send`, without `finish` (the turn writes it last): the
 * agent's tools for the current node, transitions between nodes, secrets redacted from every
 * chunk on its way out.
 */
async function streamModel(
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
    return { failed: true, errorCode: "model_unavailable", node: state.node };
  }

  const redactor = createRedactor(template.secrets);
  const mcp = template.mcpServers.length
    ? await loadMcpTools({ redis: deps.redis, templateId: template.id, servers: template.mcpServers, secrets: template.secrets })
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
  let finishReason: string | undefined;
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
  const usage = await Promise.resolve(result.totalUsage).catch(() => undefined);
  if (!failed && finishReason === "tool-calls") {
    send({ type: "error", errorText: streamErrorText("tool_cycle_limit") });
    return { failed: true, errorCode: "tool_cycle_limit", finishReason, usage, node: state.node };
  }
  return { failed, ...(failed ? { errorCode: "model_error" } : {}), finishReason, usage, node: state.node };
}

/**
 * Redacts secrets from outgoing chunks. Text is redacted as a stream (a secret split across
 * deltas is still caught), so a text part's held-back tail is flushed before its end.
 */
function chunkRedactor(redactor: Redactor): (chunk: ParleyChunk) => ParleyChunk[] {
  const texts = new Map<string, ReturnType<Redactor["stream"]>>();
  return (chunk) => {
    switch (chunk.type) {
      case "text-delta": {
        let text = texts.get(chunk.id);
        if (!text) texts.set(chunk.id, (text = redactor.stream()));
        const delta = text.push(chunk.delta);
        return delta ? [{ ...chunk, delta }] : [];
      }
      case "text-end": {
        const rest = texts.get(chunk.id)?.flush();
        texts.delete(chunk.id);
        return rest ? [{ type: "text-delta", id: chunk.id, delta: rest }, chunk] : [chunk];
      }
      case "tool-input-delta":
        // Partial JSON cannot be redacted reliably; the complete input follows as tool-input-available.
        return [];
      case "tool-input-available":
      case "tool-input-error":
      case "tool-output-available":
      case "tool-output-error":
        return [redactor.value(chunk)];
      default:
        return [chunk];
    }
  };
}

/** The message an AI SDK client assembles from the same chunks: what is stored. */
async function assemble(chunks: ParleyChunk[]): Promise<ParleyUIMessage> {
  const stream = new ReadableStream<ParleyChunk>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  let last: ParleyUIMessage | undefined;
  for await (const message of readUIMessageStream<ParleyUIMessage>({ stream, onError: () => {} })) last = message;
  return last ?? { id: "", role: "assistant", parts: [] };
}

function textOf(message: ParleyUIMessage): string {
  return message.parts.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("");
}

function pickUsage(usage: LanguageModelUsage): NonNullable<MessageMetadata["usage"]> {
  return {
    ...(usage.inputTokens !== undefined ? { inputTokens: usage.inputTokens } : {}),
    ...(usage.outputTokens !== undefined ? { outputTokens: usage.outputTokens } : {}),
    ...(usage.totalTokens !== undefined ? { totalTokens: usage.totalTokens } : {}),
  };
}
