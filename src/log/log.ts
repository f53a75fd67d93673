/** Severity of a log line; `error` and `warn` go to stderr in workerd. */
export type LogLevel = "info" | "warn" | "error";

/** Values a log line may carry: ids, codes, counts, durations — never message text or secrets. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/**
 * Writes one structured JSON line (`{"level","msg",…fields}`), the shape Workers Logs and
 * `wrangler tail` index. Callers pass ids, codes and figures only; errors go through
 * {@link errorFields}, which never includes a query's parameters.
 */
export function log(level: LogLevel, msg: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/**
 * What a log may say about an error: its class, a code when it has one, and a message that
 * holds no request data. Drizzle's "Failed query" message repeats the query's parameters — the
 * visitor's text, template variables — so for a wrapped error only the cause is described.
 */
export function errorFields(error: unknown): LogFields {
  const outer = error instanceof Error ? error : new Error(String(error));
  const wrapsQuery = outer.message.startsWith("Failed query:") && outer.cause instanceof Error;
  const described = wrapsQuery ? (outer.cause as Error) : outer;
  const code = (described as { code?: unknown }).code;
  return {
    error: described.name,
    ...(typeof code === "string" ? { errorCode: code } : {}),
    errorMessage: described.message.slice(0, 300),
  };
}
