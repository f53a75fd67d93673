import type { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { Channel, ChatMessage, Template } from "../db/schema";
import type { ModelResolver } from "../model/provider";
import type { ParleyChunk, ParleyUIMessage } from "./message";

/**
 * The turn routes: the model's greeting, the reply to a visitor's message, the reply to a voice
 * call's utterance (the service API, while voice is attached), and the two answers that continue
 * a reply waiting for the visitor (an approval decision, a client tool's result).
 */
export type TurnKind = "initial" | "message" | "voice" | "approval" | "tool_result";

/** The visitor's message a turn answers. */
export interface TurnUserMessage {
  clientMessageId: string;
  text: string;
  /** Set when the message is already stored (a retry of an unanswered one): not stored again. */
  storedIdx?: number;
}

/**
 * A turn that goes on with a stored reply that waited for the visitor (docs/architecture.md,
 * "Waiting for the visitor"): the reply grows in place, at its own idx.
 */
export interface TurnContinuation {
  kind: "approval" | "tool_result";
  /** idx of the stored reply that waited. */
  idx: number;
  /** That reply as stored, before the answer: the stream's reader goes on from it. */
  message: ParleyUIMessage;
  /** Sent first: the answer as a stream part (`tool-approval-response`, `tool-output-available` / `-error`). */
  lead: ParleyChunk[];
  /** Other calls of the reply still wait: the answer is stored, the model is not called yet. */
  stillWaiting: boolean;
  /** The wait's end, kept while other calls still wait. */
  expiresAt?: string;
}

/** What the gates settled before the stream opened: the turn's input, as plain values. */
export interface TurnPlan {
  sessionId: string;
  widgetId: string;
  template: Template;
  templateVars: Record<string, string>;
  /** Names of the variables the visitor's page supplied: labelled in the prompt (src/templates/visitor-values.ts). */
  visitorProvidedVars: readonly string[];
  storedNode: string | null;
  /** Stored messages the model sees, oldest first. */
  history: ChatMessage[];
  /** idx of the next message to store. */
  nextIdx: number;
  /** The session's `turn_seq` as read; this turn's final write sets it one higher. */
  turnSeq: number;
  /** Absent on the initial turn. */
  user?: TurnUserMessage;
  /** Page context rendered into the model's input as untrusted data (empty: none); never stored. */
  pageContext: Record<string, unknown>;
  /** The channel the session must still be in when the opening write runs (gate 10). @default "chat" */
  channel?: Channel;
  /** Set when the turn continues a reply that waited for the visitor; `history` then ends with it, answered. */
  continuation?: TurnContinuation;
  /** A message turn's earlier reply that still waited, settled by the new message: stored with this turn's reply. */
  superseded?: ChatMessage;
  /** Sequential store round trips the gates waited on: the wave, plus the fence's re-reads. */
  gateRoundTrips: number;
}

/** The stores and settings a turn runs with. */
export interface TurnDeps {
  db: Database;
  redis: Redis;
  config: Config;
  resolveModel: ModelResolver;
}
