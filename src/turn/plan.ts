import type { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { Channel, ChatMessage, Template } from "../db/schema";
import type { ModelResolver } from "../model/provider";

/**
 * The turn routes: the model's greeting, the reply to a visitor's message, and the reply to a
 * voice call's utterance (the service API, while voice is attached).
 */
export type TurnKind = "initial" | "message" | "voice";

/** The visitor's message a turn answers. */
export interface TurnUserMessage {
  clientMessageId: string;
  text: string;
  /** Set when the message is already stored (a retry of an unanswered one): not stored again. */
  storedIdx?: number;
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
