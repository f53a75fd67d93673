import { jsonSchema, tool, type JSONSchema7, type ToolSet } from "ai";
import { z } from "zod";
import type { Template } from "../db/schema";
import { TRANSITION_TOOL_PREFIX, type ClientTool, type HttpTool } from "../templates/config";
import { httpTool, type HttpToolContext } from "./http-tool";

/** The flow position of one turn; transition tools move it. */
export interface FlowState {
  node: string | null;
}

/** A move the model made through a transition tool, announced once its result is streamed. */
export interface NodeTransition {
  from: string;
  to: string;
}

export interface Toolset {
  /** Every tool the turn may offer, keyed by the name the model sees. */
  tools: ToolSet;
  /** Names offered at `node`: its own tools, the global ones, and its transitions. */
  activeTools(node: string | null): string[];
  /** Transitions made in this turn, by tool call id. */
  transitions: Map<string, NodeTransition>;
}

/**
 * The tools of a turn. Precedence on a name clash: HTTP tools over MCP tools; transition tools
 * (`go_to_<node>`) are reserved. A tool that some flow node names is offered only at the nodes
 * naming it; a tool no node names is offered at every node.
 */
export function buildToolset({
  template,
  state,
  httpContext,
  mcpTools,
}: {
  template: Template;
  state: FlowState;
  httpContext: HttpToolContext;
  mcpTools: ToolSet;
}): Toolset {
  const tools: ToolSet = {};
  const dropped: string[] = [];
  const offer = (name: string, candidate: ToolSet[string]) => {
    if (name in tools || name.startsWith(TRANSITION_TOOL_PREFIX)) dropped.push(name);
    else tools[name] = candidate;
  };
  template.tools.forEach((definition: HttpTool) => {
    const candidate = httpTool(definition, httpContext);
    offer(definition.name, definition.needsApproval ? { ...candidate, needsApproval: true } : candidate);
  });
  template.clientTools.forEach((definition) => offer(definition.name, clientTool(definition)));
  Object.entries(mcpTools).forEach(([name, candidate]) => offer(name, candidate));
  if (dropped.length) console.warn("tools dropped on a name clash", { templateId: template.id, tools: dropped });

  const transitions = new Map<string, NodeTransition>();
  const nodes = template.flow?.nodes ?? {};
  for (const target of new Set(Object.values(nodes).flatMap((node) => node.transitions.map((t) => t.to)))) {
    tools[`${TRANSITION_TOOL_PREFIX}${target}`] = tool({
      description: `Move the conversation to the "${target}" step. Use it only when that step's condition in your instructions is met.`,
      inputSchema: z.object({}),
      execute: async (_input, { toolCallId }) => {
        const from = state.node ?? target;
        state.node = target;
        transitions.set(toolCallId, { from, to: target });
        return { movedTo: target };
      },
    });
  }

  const scoped = new Set(Object.values(nodes).flatMap((node) => node.tools));
  const global = Object.keys(tools).filter((name) => !scoped.has(name) && !name.startsWith(TRANSITION_TOOL_PREFIX));
  return {
    tools,
    transitions,
    activeTools(node) {
      const current = node ? nodes[node] : undefined;
      const own = (current?.tools ?? []).filter((name) => name in tools);
      const moves = (current?.transitions ?? []).map((t) => `${TRANSITION_TOOL_PREFIX}${t.to}`);
      return [...new Set([...own, ...global, ...moves])];
    },
  };
}

/**
 * A tool the visitor's browser runs: no `execute`, so `streamText` ends the turn at its call and
 * the widget's result continues it (docs/architecture.md, "Waiting for the visitor").
 */
function clientTool(definition: ClientTool): ToolSet[string] {
  return tool({ description: definition.description, inputSchema: jsonSchema<Record<string, unknown>>(definition.inputSchema as JSONSchema7) });
}

/** The current node's transitions, spelled out for the system prompt. */
export function transitionGuide(template: Template, node: string | null): string {
  const transitions = node ? (template.flow?.nodes[node]?.transitions ?? []) : [];
  if (!transitions.length) return "";
  const lines = transitions.map((t) => `- call ${TRANSITION_TOOL_PREFIX}${t.to} when: ${t.description}`);
  return `You are in the "${node}" step of this conversation. To move on:\n${lines.join("\n")}`;
}
