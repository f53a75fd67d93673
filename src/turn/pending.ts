import type { ChatMessage, MessageMetadata } from "../db/schema";
import type { VisitorAnswer } from "./answer-request";
import type { ParleyChunk, ParleyUIMessage, TurnStatus } from "./message";

// A reply that waits for the visitor (docs/architecture.md, "Waiting for the visitor"): a tool
// call the visitor must approve, or a client tool call the browser must answer. Everything lives
// in the stored message's parts, in the AI SDK's own tool-part states:
//   approval-requested → approval-responded (decided) → output-available / output-denied
//   input-available (client call, listed in metadata.awaiting) → output-available / output-error
// so the SDK's `convertToModelMessages` replays every call with a result.

type Part = ParleyUIMessage["parts"][number];

/** The fields of a stored tool part (static `tool-<name>` or `dynamic-tool`) this module reads and writes. */
interface ToolPart {
  type: string;
  toolCallId: string;
  toolName?: string;
  state: string;
  input?: unknown;
  output?: unknown;
  errorText?: string;
  approval?: { id: string; approved?: boolean; reason?: string };
}

/** A decision on an approval request, as stored in its part and answered by a repeated decision (409). */
export interface Decision {
  approved: boolean;
  reason?: string;
}

/** What the model is told of an approval decided after `awaiting.expiresAt`. */
export const APPROVAL_TIMED_OUT = "The visitor did not decide in time; the approval request expired and the tool was not run.";
/** What the model is told of a pending approval when the visitor wrote a new message instead. */
export const APPROVAL_SUPERSEDED = "The visitor sent a new message instead of deciding; the tool was not run.";
/** What the model is told of an approved call whose turn stopped (a cancel, the deadline) before it ran to its end. */
export const APPROVED_CALL_UNFINISHED = "The call was approved, but the reply stopped before it finished; it may not have run.";
/** What the model is told of a client tool call answered after `awaiting.expiresAt`. */
export const TOOL_RESULT_TIMED_OUT = "The visitor's browser did not answer in time; the call expired without a result.";
/** What the model is told of an unanswered client tool call when the visitor wrote a new message instead. */
export const TOOL_RESULT_SUPERSEDED = "The visitor sent a new message before the browser answered; the call has no result.";
/** What the model is told of a pending approval whose session the idle sweep ended. */
export const APPROVAL_SESSION_EXPIRED = "The session ended for inactivity before the visitor decided; the tool was not run.";
/** What the model is told of an unanswered client tool call whose session the idle sweep ended. */
export const TOOL_RESULT_SESSION_EXPIRED = "The session ended for inactivity before the browser answered; the call has no result.";

/** Why a wait was settled without the visitor's answer: the reasons its pending approvals and client calls get. */
export interface SettleReasons {
  approval: string;
  clientCall: string;
}

/** The visitor wrote a new message instead of answering. */
export const SUPERSEDED: SettleReasons = { approval: APPROVAL_SUPERSEDED, clientCall: TOOL_RESULT_SUPERSEDED };
/** The idle sweep ended the session while the reply waited. */
export const SESSION_EXPIRED: SettleReasons = { approval: APPROVAL_SESSION_EXPIRED, clientCall: TOOL_RESULT_SESSION_EXPIRED };

function isToolPart(part: Part): boolean {
  return part.type === "dynamic-tool" || part.type.startsWith("tool-");
}

const toolParts = (parts: Part[]) => parts.filter(isToolPart) as unknown as ToolPart[];

/** The tool's name as the model sees it. */
export function toolNameOf(part: ToolPart): string {
  return part.type === "dynamic-tool" ? (part.toolName ?? "") : part.type.slice("tool-".length);
}

function awaitingOf(message: Pick<ChatMessage, "metadata">): MessageMetadata["awaiting"] {
  return (message.metadata as Partial<MessageMetadata>).awaiting;
}

/** Client tool call ids the message waits on: listed when the turn ended, still without output. */
function pendingClientCalls(message: Pick<ChatMessage, "parts" | "metadata">): Set<string> {
  const listed = new Set(awaitingOf(message)?.clientCalls ?? []);
  return new Set(
    toolParts(message.parts as Part[])
      .filter((part) => part.state === "input-available" && listed.has(part.toolCallId))
      .map((part) => part.toolCallId),
  );
}

/** Whether the stored message still waits for the visitor, and on what. */
export function awaitingStatus(message: Pick<ChatMessage, "parts" | "metadata">): Extract<TurnStatus, "awaiting_approval" | "awaiting_tool_result"> | null {
  if (toolParts(message.parts as Part[]).some((part) => part.state === "approval-requested")) return "awaiting_approval";
  return pendingClientCalls(message).size > 0 ? "awaiting_tool_result" : null;
}

/** True once the answer came after the wait's end. */
export function isExpired(message: Pick<ChatMessage, "metadata">, now = Date.now()): boolean {
  const expiresAt = awaitingOf(message)?.expiresAt;
  return expiresAt !== undefined && Date.parse(expiresAt) <= now;
}

/** What the parts of the message an answer is for contain (jsonb `@>`): the approval or the tool call. */
export function answeredCallPattern(answer: VisitorAnswer): unknown {
  return answer.kind === "approval" ? [{ approval: { id: answer.approvalId } }] : [{ toolCallId: answer.toolCallId }];
}

/** What an approval id names in a stored message. */
export type ApprovalLookup =
  | { found: "pending"; toolCallId: string; toolName: string }
  | { found: "decided"; decision: Decision }
  | { found: "none" };

export function lookupApproval(message: Pick<ChatMessage, "parts"> | null, approvalId: string): ApprovalLookup {
  const part = message ? toolParts(message.parts as Part[]).find((p) => p.approval?.id === approvalId) : undefined;
  if (!part?.approval) return { found: "none" };
  if (part.state === "approval-requested") return { found: "pending", toolCallId: part.toolCallId, toolName: toolNameOf(part) };
  const { approved = false, reason } = part.approval;
  return { found: "decided", decision: { approved, ...(reason === undefined ? {} : { reason }) } };
}

/** What a tool call id names in a stored message, for the tool-result route. */
export type ToolCallLookup =
  | { found: "pending"; toolName: string }
  | { found: "answered"; answer: { output?: unknown; errorText?: string } }
  | { found: "none" };

/**
 * `clientToolNames`: the template's client tools. A settled message no longer lists its client
 * calls, so a call of a tool by that name counts as one too (for the 409 of a repeated answer).
 */
export function lookupClientCall(
  message: Pick<ChatMessage, "parts" | "metadata"> | null,
  toolCallId: string,
  clientToolNames: ReadonlySet<string>,
): ToolCallLookup {
  if (!message) return { found: "none" };
  const part = toolParts(message.parts as Part[]).find((p) => p.toolCallId === toolCallId);
  const wasClientCall = part !== undefined && ((awaitingOf(message)?.clientCalls ?? []).includes(toolCallId) || clientToolNames.has(toolNameOf(part)));
  if (!part || !wasClientCall) return { found: "none" };
  if (pendingClientCalls(message).has(toolCallId)) return { found: "pending", toolName: toolNameOf(part) };
  if (part.state !== "output-available" && part.state !== "output-error") return { found: "none" };
  return {
    found: "answered",
    answer: part.state === "output-error" ? { errorText: part.errorText ?? "" } : { output: part.output },
  };
}

function mapToolPart(parts: Part[], match: (part: ToolPart) => boolean, change: (part: ToolPart) => ToolPart): Part[] {
  return parts.map((part) => (isToolPart(part) && match(part as unknown as ToolPart) ? (change(part as unknown as ToolPart) as unknown as Part) : part));
}

/**
 * The message with the visitor's decision on `approvalId` applied, and the chunk announcing it.
 * `approval-responded` is the state the AI SDK continues from: `streamText` runs an approved
 * tool, or tells the model it was denied, before its first step.
 */
export function applyDecision(parts: Part[], approvalId: string, decision: Decision): { parts: Part[]; chunk: ParleyChunk } {
  const reason = decision.reason === undefined ? {} : { reason: decision.reason };
  return {
    parts: mapToolPart(
      parts,
      (part) => part.approval?.id === approvalId && part.state === "approval-requested",
      (part) => ({ ...part, state: "approval-responded", approval: { ...part.approval!, approved: decision.approved, ...reason } }),
    ),
    chunk: { type: "tool-approval-response", approvalId, approved: decision.approved, ...reason },
  };
}

/** The message with a client tool's answer applied (a result, or the error the model reads), and the chunk announcing it. */
export function applyToolAnswer(
  parts: Part[],
  toolCallId: string,
  answer: { output: unknown } | { errorText: string },
): { parts: Part[]; chunk: ParleyChunk } {
  const settled = (part: ToolPart): ToolPart =>
    "output" in answer ? { ...part, state: "output-available", output: answer.output } : { ...part, state: "output-error", errorText: answer.errorText };
  return {
    parts: mapToolPart(parts, (part) => part.toolCallId === toolCallId && part.state === "input-available", settled),
    chunk: "output" in answer ? { type: "tool-output-available", toolCallId, output: answer.output } : { type: "tool-output-error", toolCallId, errorText: answer.errorText },
  };
}

/**
 * A waiting message settled without the visitor's answer — by default because the visitor wrote
 * a new message instead (as the AI SDK's own clients do), or with `SESSION_EXPIRED` when the idle
 * sweep ended the session: each pending approval denied, each unanswered client call failed,
 * with a reason the model reads. Null when nothing was pending.
 */
export function supersede<M extends Pick<ChatMessage, "parts" | "metadata">>(message: M, reasons: SettleReasons = SUPERSEDED): M | null {
  // A decided approval whose turn stopped before the tool ran is settled too: no call without a result.
  const unfinished = toolParts(message.parts as Part[]).some((part) => part.state === "approval-responded");
  if (awaitingStatus(message) === null && !unfinished) return null;
  const clientCalls = pendingClientCalls(message);
  const parts = (message.parts as Part[]).map((part) => {
    if (!isToolPart(part)) return part;
    const tool = part as unknown as ToolPart;
    if (tool.state === "approval-requested") {
      return { ...tool, state: "output-denied", approval: { ...tool.approval!, approved: false, reason: reasons.approval } } as unknown as Part;
    }
    if (tool.state === "approval-responded") {
      return (tool.approval?.approved ? { ...tool, state: "output-error", errorText: APPROVED_CALL_UNFINISHED } : { ...tool, state: "output-denied" }) as unknown as Part;
    }
    if (clientCalls.has(tool.toolCallId)) return { ...tool, state: "output-error", errorText: reasons.clientCall } as unknown as Part;
    return part;
  });
  return { ...message, parts, metadata: settledMetadata(message) };
}

/** The stored metadata without its wait. */
export function settledMetadata(message: Pick<ChatMessage, "metadata">): ChatMessage["metadata"] {
  const { awaiting: _awaiting, ...rest } = message.metadata as Partial<MessageMetadata>;
  return rest as ChatMessage["metadata"];
}

/** The names of a template's client tools: the calls the browser, not the Worker, answers. */
export function clientToolNamesOf(template: { clientTools: ReadonlyArray<{ name: string }> } | null): ReadonlySet<string> {
  return new Set((template?.clientTools ?? []).map((tool) => tool.name));
}

/** The wait a reply ends in: its client calls without output, and when it expires. */
export function awaitingFor(reply: ParleyUIMessage, clientToolNames: ReadonlySet<string>, timeoutSeconds: number, now = Date.now()): MessageMetadata["awaiting"] | undefined {
  const parts = toolParts(reply.parts);
  const clientCalls = parts.filter((part) => part.state === "input-available" && clientToolNames.has(toolNameOf(part))).map((part) => part.toolCallId);
  const approvals = parts.some((part) => part.state === "approval-requested");
  if (!approvals && clientCalls.length === 0) return undefined;
  return { expiresAt: new Date(now + timeoutSeconds * 1000).toISOString(), clientCalls };
}
