import { isStorableText, UNSTORABLE_MESSAGE } from "../storable-text";
import type { TemplateVariable } from "./config";

export type VariableIssue = { path: string[]; message: string };

export interface ResolvedVars {
  vars: Record<string, string>;
  /** Names whose value the page supplied (unverified): the system prompt marks them as such. */
  visitorProvided: string[];
  /** Names the page supplied a value for that was dropped: trusted variables, or set by the identity token. */
  ignored: string[];
}

/**
 * Resolves a session's template variables from what the page sent (`supplied`) and, for a
 * verified visitor, the identity token's `vars` (`verified`): unknown keys are dropped, required
 * ones enforced, defaults applied, values must be strings, numbers or booleans (stored as
 * strings) within `maxLength`. A `trusted` variable takes its value from `verified` only; a
 * value the page sent for it is dropped and named in `ignored`. The token's value also wins over
 * the page's for an untrusted variable.
 */
export function resolveTemplateVars(
  declared: TemplateVariable[],
  supplied: Record<string, unknown>,
  verified: Record<string, unknown> | null = null,
): ({ ok: true } & ResolvedVars) | { ok: false; issues: VariableIssue[] } {
  const vars: Record<string, string> = {};
  const visitorProvided: string[] = [];
  const ignored: string[] = [];
  const issues: VariableIssue[] = [];
  for (const variable of declared) {
    const fromPage = present(supplied[variable.name]);
    const fromToken = verified === null ? undefined : present(verified[variable.name]);
    if (fromPage !== undefined && (variable.trusted || fromToken !== undefined)) ignored.push(variable.name);
    const value = fromToken ?? (variable.trusted ? undefined : fromPage);
    const fromTokenOnly = fromToken !== undefined || (variable.trusted && verified !== null);
    const path = fromTokenOnly ? ["identityToken", "vars", variable.name] : ["templateVars", variable.name];
    if (value === undefined) {
      if (variable.default !== undefined) vars[variable.name] = variable.default;
      else if (variable.required) {
        issues.push({
          path,
          message: variable.trusted ? `"${variable.name}" is required and comes only from the identity token's vars` : `"${variable.name}" is required`,
        });
      }
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
    if (!isStorableText(text)) {
      issues.push({ path, message: `"${variable.name}" ${UNSTORABLE_MESSAGE}` });
      continue;
    }
    vars[variable.name] = text;
    if (fromToken === undefined) visitorProvided.push(variable.name);
  }
  return issues.length ? { ok: false, issues } : { ok: true, vars, visitorProvided, ignored };
}

/** A supplied value, or undefined for none (absent, null or empty). */
function present(value: unknown): unknown {
  return value === undefined || value === null || value === "" ? undefined : value;
}
