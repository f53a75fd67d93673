import type { Template } from "../db/schema";
import { ApiError, describeIssues } from "../errors";
import { templateConfigSchema } from "./config";

/**
 * The template with its JSON configuration checked and defaults applied. A template stored with
 * a bad configuration answers 500 `template_invalid` naming the field, instead of failing later
 * in the middle of a turn.
 */
export function validateTemplate(template: Template): Template {
  const parsed = templateConfigSchema.safeParse(template);
  if (parsed.success) return { ...template, ...parsed.data };
  throw new ApiError("template_invalid", {
    message: `The agent template of this widget is invalid: ${describeIssues(parsed.error.issues)}.`,
    details: { templateId: template.id, issues: parsed.error.issues },
  });
}
