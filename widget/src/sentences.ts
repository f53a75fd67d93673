import type { ApiFailure } from "./api";

/** Push-to-talk without a microphone (none, or the visitor refused it). */
export const MICROPHONE_UNAVAILABLE = "The microphone isn't available.";

/** Shown while a voice call is attached to the conversation. */
export const VOICE_CALL = "Voice call in progress.";

/** What the visitor can do about a failure: retry the same request, or start a new conversation. */
export type Remedy = "retry" | "new-conversation" | "none";

export interface Notice {
  text: string;
  remedy: Remedy;
}

/** A failed API call as a sentence for the visitor, and what they can do about it. */
export function describeFailure(failure: ApiFailure): Notice {
  if (failure.kind === "network") {
    return { text: "We couldn't reach the chat service. Check your connection and try again.", remedy: "retry" };
  }
  switch (failure.code) {
    case "rate_limited":
      return { text: `You're sending messages quickly — try again in ${waitPhrase(failure.retryAfterSeconds)}.`, remedy: "none" };
    case "session_limit":
      return { text: "This conversation has reached its length limit.", remedy: "new-conversation" };
    case "budget_exhausted":
      return { text: "The assistant can't take more questions today. Please come back tomorrow.", remedy: "none" };
    case "session_ended":
      return { text: "This conversation has ended.", remedy: "new-conversation" };
    case "invalid_token":
    case "session_not_found":
      return { text: "This conversation has expired.", remedy: "new-conversation" };
    case "turn_in_progress":
      return { text: "The assistant is still answering. Please wait a moment and try again.", remedy: "retry" };
    case "transcription_failed":
    case "payload_too_large":
      return { text: "That recording couldn't be transcribed. Please try again.", remedy: "none" };
    case "voice_active":
      return { text: "This conversation is in a call right now; chat is paused.", remedy: "none" };
    case "widget_inactive":
    case "widget_not_found":
      return { text: "Chat is not available on this site right now.", remedy: "none" };
    case "challenge_required":
    case "challenge_failed":
      return { text: CHALLENGE_FAILED, remedy: "retry" };
    case "invalid_identity":
    case "identity_required":
      return { text: IDENTITY_FAILED, remedy: "none" };
    case "invalid_request":
      return { text: "That message couldn't be sent. Messages can be up to 4000 characters.", remedy: "none" };
    default:
      if (failure.status === 429) {
        return { text: `Too many requests right now — try again in ${waitPhrase(failure.retryAfterSeconds)}.`, remedy: "none" };
      }
      return failure.status >= 500
        ? { text: "The chat service is having trouble right now. Please try again.", remedy: "retry" }
        : { text: "Something went wrong. Please try again.", remedy: "retry" };
  }
}

/** The page's identity token was refused, or the widget needs one and the page sent none. */
export const IDENTITY_FAILED = "We couldn't confirm who you are. Sign in again or reload the page.";

/** While the Turnstile challenge runs (it usually passes by itself in a second or two). */
export const CHALLENGE_RUNNING = "Checking that you're a person before the chat starts…";

/** The challenge could not be passed (refused, or Turnstile did not load). */
export const CHALLENGE_FAILED = "We couldn't confirm that you're a person. Please try again.";

/** An in-stream `error` part (`"<code>: <message>"`) as a sentence for the visitor. */
export function describeStreamError(errorText: string): string {
  const code = errorText.split(":", 1)[0]!.trim();
  switch (code) {
    case "turn_deadline":
      return "The reply took too long and was stopped. Please try again.";
    case "tool_cycle_limit":
      return "The assistant couldn't finish this answer. Please rephrase your question.";
    case "model_unavailable":
      return "The assistant is unavailable right now. Please try again in a moment.";
    default:
      return "Sorry, something went wrong while answering. Please try again.";
  }
}

/** "a minute", "5 minutes", "2 hours" for a Retry-After of `seconds`. */
export function waitPhrase(seconds: number | undefined): string {
  if (!seconds || seconds <= 60) return "a minute";
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return `${minutes} minutes`;
  return `${Math.ceil(minutes / 60)} hours`;
}

/** A quiet line for a tool call: "Looking up order status…" while it runs, "Looked up order status" after. */
export function toolActivity(name: string, done: boolean): string {
  const words = name.replace(/[_-]+/g, " ").trim();
  const lookup = /^(get|lookup|look up|find|fetch|search|check|list|read)\s+(.+)$/i.exec(words);
  if (lookup) return done ? `Looked up ${lookup[2]}` : `Looking up ${lookup[2]}…`;
  return done ? `Used ${words}` : `Working on ${words}…`;
}

/** Transitions between flow nodes are the agent's own bookkeeping: not shown to the visitor. */
export function isQuietTool(name: string): boolean {
  return name.startsWith("go_to_");
}
