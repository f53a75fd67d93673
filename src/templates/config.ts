import { z } from "zod";
import { refineStorableJson } from "../storable-text";

/** Characters allowed in variable, secret, node and tool names: they appear in `{placeholders}` and tool ids. */
const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "use letters, digits and underscores, starting with a letter or underscore");

export const modelSettingsSchema = z.object({
  /** `openai` covers OpenAI and any OpenAI-compatible server; `scripted` is the local dev model. */
  provider: z.enum(["openai", "scripted"]),
  modelId: z.string().min(1),
  /** `responses` (OpenAI's Responses API) or `chat` (Chat Completions, what most compatible servers speak). */
  api: z.enum(["responses", "chat"]).default("chat"),
  temperature: z.number().min(0).max(2).optional(),
  maxOutputTokens: z.number().int().positive().optional(),
  /** The provider's speech-to-text model for push-to-talk (`presentation.voiceInput`). @default "whisper-1" */
  transcriptionModelId: z.string().min(1).optional(),
});
export type ModelSettings = z.infer<typeof modelSettingsSchema>;

export const templateVariableSchema = z.object({
  name: identifier,
  description: z.string().optional(),
  required: z.boolean().default(false),
  default: z.string().optional(),
  /** Longest accepted value, in characters. */
  maxLength: z.number().int().positive().max(10_000).default(500),
  /** Set only from a verified identity token's `vars`; a value the page sends is dropped (README "Verified visitors"). Absent: false. */
  trusted: z.boolean().optional(),
});
export type TemplateVariable = z.infer<typeof templateVariableSchema>;

/**
 * Largest tool response handed to the model, in bytes: the default of an HTTP tool's
 * `maxResponseBytes`, and the fixed cap on an MCP tool's result (as JSON).
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 65_536;

export const httpToolSchema = z.object({
  name: identifier,
  description: z.string().min(1),
  /** JSON Schema of the arguments the model must send. */
  inputSchema: z.record(z.string(), z.unknown()).default({ type: "object", properties: {} }),
  request: z.object({
    method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).default("GET"),
    /** May contain `{var}`, `{secret.NAME}` and `{args.NAME}` placeholders. */
    url: z.string().min(1),
    headers: z.record(z.string(), z.string()).default({}),
    /** JSON body template; string leaves may contain placeholders. Omitted: the arguments are sent as JSON. */
    body: z.unknown().optional(),
  }),
  /** @default 10000 */
  timeoutMs: z.number().int().positive().max(60_000).default(10_000),
  /** Largest response body passed to the model, in bytes. @default DEFAULT_MAX_RESPONSE_BYTES (65536) */
  maxResponseBytes: z.number().int().positive().max(1_048_576).default(DEFAULT_MAX_RESPONSE_BYTES),
  /** The visitor approves each call before it runs (AI SDK `needsApproval`). @default false */
  needsApproval: z.boolean().optional(),
});
export type HttpTool = z.infer<typeof httpToolSchema>;

/**
 * Prefix of the tools that move the conversation to another flow node (`go_to_<node>`); template
 * tools may not use it.
 */
export const TRANSITION_TOOL_PREFIX = "go_to_";

export const transitionSchema = z.object({
  to: identifier,
  description: z.string().min(1),
});

export const flowNodeSchema = z.object({
  instructions: z.string().default(""),
  /**
   * Names of the HTTP or MCP tools this node may use. A tool that some node names is offered
   * only at the nodes naming it; a tool no node names is offered everywhere.
   */
  tools: z.array(z.string()).default([]),
  transitions: z.array(transitionSchema).default([]),
});
export type FlowNode = z.infer<typeof flowNodeSchema>;

export const flowSchema = z
  .object({
    initialNode: identifier,
    nodes: z.record(identifier, flowNodeSchema),
  })
  .superRefine((flow, ctx) => {
    if (!(flow.initialNode in flow.nodes)) {
      ctx.addIssue({ code: "custom", path: ["initialNode"], message: `no node named "${flow.initialNode}"` });
    }
    for (const [name, node] of Object.entries(flow.nodes)) {
      node.transitions.forEach((transition, i) => {
        if (!(transition.to in flow.nodes)) {
          ctx.addIssue({
            code: "custom",
            path: ["nodes", name, "transitions", i, "to"],
            message: `no node named "${transition.to}"`,
          });
        }
      });
    }
  });
export type Flow = z.infer<typeof flowSchema>;

export const mcpServerSchema = z.object({
  name: identifier,
  /** Streamable HTTP endpoint. */
  url: z.string().url(),
  /** Header values may use `{secret.NAME}`. */
  headers: z.record(z.string(), z.string()).default({}),
  /** When set, only these tools of the server are offered. */
  allowedTools: z.array(z.string()).optional(),
  /** The server's tools the visitor approves before each call: `true` for all, or their names. @default false */
  needsApproval: z.union([z.boolean(), z.array(z.string())]).optional(),
});
export type McpServer = z.infer<typeof mcpServerSchema>;

/** A tool the visitor's browser runs: the widget answers its calls (`Parley.onToolCall`). */
export const clientToolSchema = z.object({
  name: identifier,
  description: z.string().min(1),
  /** JSON Schema of the arguments the model must send. */
  inputSchema: z.record(z.string(), z.unknown()).default({ type: "object", properties: {} }),
});
export type ClientTool = z.infer<typeof clientToolSchema>;

/** How long a pending approval or client tool call waits for its answer, in seconds. */
export const DEFAULT_PENDING_TIMEOUT_SECONDS = 600;

export const presentationSchema = z.object({
  quickReplies: z.array(z.string().min(1).max(200)).max(10).default([]),
  textInput: z.boolean().default(true),
  /**
   * Push-to-talk: the widget shows a microphone button, and `POST /session/:id/transcribe`
   * turns the visitor's recording into text (the template's model provider). Off by default.
   */
  voiceInput: z.boolean().default(false),
});
/** As stored: rows written before `voiceInput` existed lack it (read as false). */
export type Presentation = Omit<z.infer<typeof presentationSchema>, "voiceInput"> & { voiceInput?: boolean };

/** A template's `pageContext.maxBytes` unless it sets one: what a page may push, as JSON, in bytes. */
export const DEFAULT_PAGE_CONTEXT_MAX_BYTES = 4_096;
/** The largest `pageContext.maxBytes` a template may set: well below the 64 KB request body cap. */
export const MAX_PAGE_CONTEXT_MAX_BYTES = 32_768;

/**
 * What the visitor's page may tell the model (`Parley.setContext`, `POST /session/:id/context`):
 * the top-level keys it may set, and how large the accepted context may be as JSON (UTF-8 bytes).
 * Keys off the list are dropped; no keys (the default) means the page can set nothing.
 */
export const pageContextSettingsSchema = z.object({
  allowedKeys: z.array(identifier).max(50).default([]),
  /** @default DEFAULT_PAGE_CONTEXT_MAX_BYTES (4096) */
  maxBytes: z.number().int().min(64).max(MAX_PAGE_CONTEXT_MAX_BYTES).default(DEFAULT_PAGE_CONTEXT_MAX_BYTES),
});
export type PageContextSettings = z.infer<typeof pageContextSettingsSchema>;

function uniqueNames(items: Array<{ name: string }>, path: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name)) ctx.addIssue({ code: "custom", path: [path, i, "name"], message: `duplicate name "${item.name}"` });
    seen.add(item.name);
  });
}

/** Longest `instructions`, in characters (a whole prompt, not a message). */
export const MAX_INSTRUCTIONS_CHARS = 50_000;
/** Longest `greeting` or `initialTurnInstruction`, in characters. */
export const MAX_GREETING_CHARS = 4_000;

/**
 * The fields of a template, each with its own checks but none across fields (those are in
 * `checkTemplate`). Kept apart so the admin API's partial update can reuse it field by field.
 */
export const templateFieldsSchema = z.object({
  name: z.string().min(1).max(200),
  instructions: z.string().max(MAX_INSTRUCTIONS_CHARS).default(""),
  /** Rendered with the variables and stored as message 0; when set it wins over `initialTurnInstruction`. */
  greeting: z.string().min(1).max(MAX_GREETING_CHARS).nullable().default(null),
  /** Sent to the model (never stored) to make it write the greeting, when there is no `greeting`. */
  initialTurnInstruction: z.string().max(MAX_GREETING_CHARS).nullable().default(null),
  model: modelSettingsSchema,
  variables: z.array(templateVariableSchema).default([]),
  /** `NAME → value`; write-only: the admin API answers with the names only. */
  secrets: z.record(identifier, z.string().max(10_000)).default({}),
  flow: flowSchema.nullable().default(null),
  tools: z.array(httpToolSchema).default([]),
  mcpServers: z.array(mcpServerSchema).default([]),
  presentation: presentationSchema.default({ quickReplies: [], textInput: true, voiceInput: false }),
  /** Turns one session may run; the next answers 429 `session_limit`. 0: no cap. */
  turnsPerSession: z.number().int().min(0).max(100_000).default(50),
  /** Which context keys the visitor's page may set, and the size cap. */
  pageContext: pageContextSettingsSchema.default({ allowedKeys: [], maxBytes: DEFAULT_PAGE_CONTEXT_MAX_BYTES }),
  /** Tools the visitor's browser runs; the turn waits for the widget's result. */
  clientTools: z.array(clientToolSchema).default([]),
  /**
   * Seconds an approval request or a client tool call waits for its answer; a later answer tells
   * the model it timed out. @default DEFAULT_PENDING_TIMEOUT_SECONDS (600)
   */
  pendingTimeoutSeconds: z.number().int().min(1).max(86_400).default(DEFAULT_PENDING_TIMEOUT_SECONDS),
});

/** The checks across a template's fields: unique names, reserved tool names, storable text. */
export function checkTemplate(template: z.output<typeof templateFieldsSchema>, ctx: z.RefinementCtx): void {
  refineStorableJson(template, ctx);
  uniqueNames(template.variables, "variables", ctx);
  uniqueNames(template.tools, "tools", ctx);
  uniqueNames(template.mcpServers, "mcpServers", ctx);
  uniqueNames(template.clientTools, "clientTools", ctx);
  template.tools.forEach((tool, i) => {
    if (tool.name.startsWith(TRANSITION_TOOL_PREFIX)) {
      ctx.addIssue({ code: "custom", path: ["tools", i, "name"], message: `"${TRANSITION_TOOL_PREFIX}" names are reserved for flow transitions` });
    }
  });
  const httpNames = new Set(template.tools.map((tool) => tool.name));
  template.clientTools.forEach((tool, i) => {
    if (httpNames.has(tool.name)) ctx.addIssue({ code: "custom", path: ["clientTools", i, "name"], message: `an HTTP tool is already named "${tool.name}"` });
    if (tool.name.startsWith(TRANSITION_TOOL_PREFIX)) {
      ctx.addIssue({ code: "custom", path: ["clientTools", i, "name"], message: `"${TRANSITION_TOOL_PREFIX}" names are reserved for flow transitions` });
    }
  });
}

/**
 * A template's configuration: the one schema behind the admin API's create body, the check of a
 * stored template before it is used (`validateTemplate`), and the `TemplateConfig` component of
 * the OpenAPI document.
 */
export const templateConfigSchema = templateFieldsSchema.superRefine(checkTemplate).meta({ id: "TemplateConfig" });
export type TemplateConfig = z.infer<typeof templateConfigSchema>;
