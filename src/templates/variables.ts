import type { TemplateVariable } from "./config";

export type VariableIssue = { path: string[]; message: string };

/**
 * Checks visitor-supplied template variables against the template's declarations: unknown keys
 * are dropped, required ones enforced, defaults applied, values must be strings, numbers or
 * booleans (stored as strings) within `maxLength`.
 */
export function resolveTemplateVars(
  declared: TemplateVariable[],
  supplied: Record<string, unknown>,
): { ok: true; vars: Record<string, string> } | { ok: false; issues: VariableIssue[] } {
  const vars: Record<string, string> = {};
  const issues: VariableIssue[] = [];
  for (const variable of declared) {
    const path = ["templateVars", variable.name];
    const value = supplied[variable.name];
    if (value === undefined || value === null || value === "") {
      if (variable.default !== undefined) vars[variable.name] = variable.default;
      else if (variable.required) issues.push({ path, message: `"${variable.name}" is required` });
      continue;
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      issues.push({ path, message: `"${variable.name}" must be a string, number or boolean` });
      continue;
    }
    const text = String(value);
    if (text.length > variable.maxLength) {
      issues.push({ path, message: `"${variable.name}" must be at most ${variable.maxLength} characters` });
      continue;
    }
    vars[variable.name] = text;
  }
  return issues.length ? { ok: false, issues } : { ok: true, vars };
}
