import { convertToModelMessages, type ModelMessage } from "ai";
import { transitionGuide } from "../agent/toolset";
import type { ChatMessage, Template } from "../db/schema";
import { promptValues, renderText } from "../templates/render";
import type { PageContext } from "../page-context/context";
import { renderPageContext } from "../page-context/render";
import { withVisitorValuesNote } from "../templates/visitor-values";
import { messageId, type ParleyUIMessage } from "./message";

/** Sent as the initial turn's kickoff when the template has no instruction of its own. */
export const DEFAULT_KICKOFF = "Greet the visitor briefly and offer your help.";

/** A stored message as the AI SDK's UI message (what the widget and the converter read). */
export function toUIMessage(sessionId: string, message: ChatMessage): ParleyUIMessage {
  return {
    id: message.role === "user" && message.clientMessageId ? message.clientMessageId : messageId(sessionId, message.idx),
    role: message.role,
    parts: message.parts as ParleyUIMessage["parts"],
    ...(message.role === "assistant" ? { metadata: { sessionId, idx: message.idx } } : {}),
  };
}

/** The node the conversation is in: the stored one, else the flow's initial node. */
export function currentNodeName(template: Template, storedNode: string | null): string | null {
  if (!template.flow) return null;
  return storedNode && storedNode in template.flow.nodes ? storedNode : template.flow.initialNode;
}

/**
 * The system prompt: the template's instructions, the current node's, and that node's transitions
 * (which `go_to_<node>` tool to call when), placeholders filled. `vars` come labelled
 * (`labelVisitorValues`): a prompt holding a visitor-provided value ends with the note on them.
 */
export function systemPrompt(template: Template, vars: Record<string, string>, node: string | null): string {
  const nodeInstructions = node ? template.flow?.nodes[node]?.instructions : undefined;
  const text = [template.instructions, nodeInstructions, transitionGuide(template, node)].filter(Boolean).join("\n\n");
  return withVisitorValuesNote(renderText(text, promptValues(vars, template.secrets)));
}

/**
 * The conversation sent to the model: stored history (empty replies left out, since some
 * providers reject them), then the new user text or, on the initial turn, the kickoff, which is
 * never stored. Page context, when there is some, goes in a user message of its own right before
 * the newest user message (the visitor's, or the kickoff): marked as untrusted data, never in the
 * system prompt, never stored, so each turn sees only the page's latest.
 */
export async function modelMessages({
  sessionId,
  history,
  appendUserText,
  pageContext = {},
}: {
  sessionId: string;
  history: ChatMessage[];
  appendUserText?: string;
  pageContext?: PageContext;
}): Promise<ModelMessage[]> {
  const messages = history.filter((m) => m.parts.length > 0).map((m) => toUIMessage(sessionId, m));
  const converted = await convertToModelMessages(messages, { ignoreIncompleteToolCalls: true });
  const all: ModelMessage[] = appendUserText === undefined ? converted : [...converted, { role: "user", content: appendUserText }];
  const rendered = renderPageContext(pageContext);
  if (rendered === null) return all;
  const newest = all.findLastIndex((message) => message.role === "user");
  all.splice(newest < 0 ? all.length : newest, 0, { role: "user", content: rendered });
  return all;
}

/** The initial turn's kickoff text. */
export function kickoffText(template: Template, vars: Record<string, string>): string {
  return renderText(template.initialTurnInstruction || DEFAULT_KICKOFF, promptValues(vars, template.secrets));
}
