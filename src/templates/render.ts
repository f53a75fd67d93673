const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}/g;

/**
 * Fills `{name}` placeholders from `values`; names without a value are left as written, so a
 * template's literal braces survive.
 */
export function renderText(text: string, values: Record<string, string>): string {
  return text.replace(PLACEHOLDER, (match, name: string) => values[name] ?? match);
}

/**
 * Values for the system prompt: secrets < template variables (a variable wins a name clash).
 * `{secret.NAME}` always names the secret.
 */
export function promptValues(vars: Record<string, string>, secrets: Record<string, string>): Record<string, string> {
  return { ...secrets, ...vars, ...secretValues(secrets) };
}

/** `{secret.NAME}` placeholder values: server-side only (HTTP tools, MCP headers, prompts). */
export function secretValues(secrets: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(secrets).map(([name, value]) => [`secret.${name}`, value]));
}
