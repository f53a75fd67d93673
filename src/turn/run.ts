import type { Redis } from "@upstash/redis/cloudflare";
import type { FinishReason } from "ai";
import type { McpToolset } from "../agent/mcp";
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { ChatMessage, Template } from "../db/schema";
import { releaseLock, watchForCancel } from "../lock";
import type { ModelResolver } from "../model/provider";
import { streamErrorText } from "./errors";
import { assembleMessage, messageId, type AssistantMetadata, type ParleyChunk, type TurnStatus } from "./message";
import { streamModel, type AbortReason } from "./model-stream";
import { storeReply, storeUserMessage, turnStatus } from "./persist";
import type { TurnStream } from "./stream";

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
 * Runs one turn to its end, writing into `stream`, stage by stage: store the user message,
 * stream the model, store the reply, release the lock, end the stream. Never rejects: it is
 * handed to `waitUntil`, and every path ends in `finally`.
 */
export async function runTurn(plan: TurnPlan, deps: TurnDeps): Promise<void> {
  const { db, stream } = deps;
  const { sessionId } = plan;
  const stops = watchStops(deps, sessionId);
  const toolsets: McpToolset[] = [];
  const sent: ParleyChunk[] = [];
  const send = (chunk: ParleyChunk) => {
    sent.push(chunk);
    stream.write(chunk);
  };

  const storesUser = plan.user !== undefined && plan.user.storedIdx === undefined;
  const assistantIdx = plan.nextIdx + (storesUser ? 1 : 0);
  const metadata: AssistantMetadata = { sessionId, idx: assistantIdx };
  const end = (status: TurnStatus, storedIdx: number | null, finishReason?: FinishReason) => {
    send({ type: "data-turn-end", data: { status, assistantIdx: storedIdx }, transient: true });
    send({ type: "finish", messageMetadata: metadata, ...(finishReason ? { finishReason } : {}) });
  };

  try {
    send({ type: "start", messageId: messageId(sessionId, assistantIdx), messageMetadata: metadata });
    if (plan.user) {
      const userIdx = plan.user.storedIdx ?? plan.nextIdx;
      if (storesUser) {
        try {
          await storeUserMessage(db, { sessionId, idx: userIdx, user: plan.user });
        } catch (error) {
          console.error("storing the user message failed", { sessionId, error: String(error) });
          send({ type: "error", errorText: streamErrorText("persist_failed", "Your message could not be saved. Please try again.") });
          await stops.release();
          return end("failed", null);
        }
      }
      send({ type: "data-user-committed", data: { idx: userIdx }, transient: true });
    }

    const outcome = await streamModel(plan, { deps, abortSignal: stops.signal, send, toolsets });
    if (outcome.abortReason === "deadline") send({ type: "error", errorText: streamErrorText("turn_deadline") });
    let status = turnStatus(outcome);
    let storedIdx: number | null = null;
    try {
      storedIdx = await storeReply(db, { plan, idx: assistantIdx, reply: await assembleMessage(sent), outcome, status });
    } catch (error) {
      console.error("storing the reply failed", { sessionId, error: String(error) });
      send({ type: "error", errorText: streamErrorText("persist_failed") });
      status = "failed";
    }
    // Released before the stream ends: a client that has read `finish` gets the lock at once.
    await stops.release();
    end(status, storedIdx, outcome.finishReason);
  } catch (error) {
    console.error("turn failed unexpectedly", { sessionId, error: String(error) });
    send({ type: "error", errorText: streamErrorText("model_error") });
    await stops.release();
    end("failed", null);
  } finally {
    stops.dispose();
    await stops.release();
    stream.close();
    await Promise.all(toolsets.map((toolset) => toolset.close()));
  }
}

/**
 * What can stop a running turn — the deadline, a cancel from any isolate, a client gone for
 * longer than `disconnectGraceMs` — as one abort signal; and the lock's release, once.
 */
function watchStops({ redis, config, stream, lockToken: token }: TurnDeps, sessionId: string) {
  const abort = new AbortController();
  const stopWatching = new AbortController();
  const stopWith = (reason: AbortReason) => () => abort.abort(reason);
  const timers: number[] = [setTimeout(stopWith("deadline"), config.turnDeadlineMs)];
  const onClientGone = () => {
    timers.push(setTimeout(stopWith("disconnect"), config.disconnectGraceMs));
  };
  stream.clientGone.addEventListener("abort", onClientGone, { once: true });
  watchForCancel(redis, { sessionId, token, signal: stopWatching.signal }).then(stopWith("cancel"), () => {});

  let released = false;
  return {
    signal: abort.signal,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      stopWatching.abort();
      await releaseLock(redis, { sessionId, token }).catch((error: unknown) =>
        console.error("lock release failed; the TTL will free it", { sessionId, error: String(error) }),
      );
    },
    dispose(): void {
      stream.clientGone.removeEventListener("abort", onClientGone);
      timers.forEach(clearTimeout);
      stopWatching.abort();
    },
  };
}
