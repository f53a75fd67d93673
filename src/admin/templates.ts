import type { z } from "zod";
import type { Database } from "../db/client";
import { getTemplate, updateTemplate } from "../db/admin-queries";
import type { Template } from "../db/schema";
import { ApiError, describeIssues } from "../errors";
import { templateConfigSchema, type TemplateConfig } from "../templates/config";
import type { templatePatchSchema } from "./schemas";

export type TemplatePatch = z.infer<typeof templatePatchSchema>;

/** Attempts of an unconditional update whose read went stale under a concurrent write. */
const UNCONDITIONAL_ATTEMPTS = 3;

/** The stored template's configuration, as the schema reads it. */
function configOf(template: Template): Record<keyof TemplateConfig, unknown> {
  const { name, instructions, greeting, initialTurnInstruction, model, variables, secrets, flow, tools, mcpServers, presentation, turnsPerSession, clientTools, pendingTimeoutSeconds } = template;
  return { name, instructions, greeting, initialTurnInstruction, model, variables, secrets, flow, tools, mcpServers, presentation, turnsPerSession, pageContext: template.pageContext, clientTools, pendingTimeoutSeconds };
}

/** The template with `patch` applied: fields replace, secrets merge (null removes one). */
export function mergeTemplatePatch(current: Template, patch: TemplatePatch): TemplateConfig {
  const { secrets: secretChanges, ...fields } = patch;
  const secrets = { ...current.secrets };
  for (const [name, value] of Object.entries(secretChanges ?? {})) {
    if (value === null) delete secrets[name];
    else secrets[name] = value;
  }
  const parsed = templateConfigSchema.safeParse({ ...configOf(current), ...fields, secrets });
  if (parsed.success) return parsed.data;
  throw new ApiError("invalid_request", {
    message: `The template would be invalid: ${describeIssues(parsed.error.issues, "body")}.`,
    details: parsed.error.issues,
  });
}

/**
 * `PATCH /v1/admin/templates/:id`: reads, merges, checks the whole result and writes it only if
 * the template is still the version read. With `expectedVersion` (from `If-Match`) another
 * version is 412; without, a concurrent write is retried on a fresh read, so it is never lost.
 */
export async function patchTemplate(
  db: Database,
  { tenantId, templateId, patch, expectedVersion }: { tenantId: string; templateId: string; patch: TemplatePatch; expectedVersion?: number },
): Promise<Template> {
  for (let attempt = 1; ; attempt++) {
    const current = await getTemplate(db, { tenantId, templateId });
    if (!current) throw new ApiError("template_not_found");
    if (expectedVersion !== undefined && current.version !== expectedVersion) throw new ApiError("precondition_failed");
    const result = await updateTemplate(db, { tenantId, templateId, version: current.version, set: mergeTemplatePatch(current, patch) });
    if (result.ok) return result.row;
    if (result.reason === "not_found") throw new ApiError("template_not_found");
    if (expectedVersion !== undefined || attempt >= UNCONDITIONAL_ATTEMPTS) throw new ApiError("precondition_failed");
  }
}
