/** What every redacted secret becomes. */
export const REDACTED = "[redacted]";

/**
 * Secret values shorter than this are not redacted: a 1–3 character value ("1", "eu", "yes")
 * is too likely to occur in ordinary text, and replacing it everywhere would mangle replies
 * while protecting nothing worth protecting.
 */
export const MIN_REDACTED_LENGTH = 4;

export interface Redactor {
  /** Replaces every secret value in `text` with "[redacted]". */
  text(text: string): string;
  /** Deep copy of a JSON-like value with every secret value inside strings (and object keys) replaced. */
  value<T>(value: T): T;
  /**
   * A streaming redactor for one text part: push deltas, get back what is safe to emit; a secret
   * split across deltas is still caught. flush() returns the held-back rest.
   */
  stream(): { push(delta: string): string; flush(): string };
}

/** A half-open range `[start, end)` of text covered by secret occurrences. */
interface Range {
  start: number;
  end: number;
}

/**
 * Builds a redactor for the template's secrets. Besides each value as written, its URL-encoded
 * and JSON-escaped forms are redacted too (when they differ): HTTP tools put secrets into URLs,
 * and an endpoint may echo them back in either form.
 *
 * Overlapping occurrences (of one secret or of several) merge into a single "[redacted]", so no
 * fragment of a matched secret survives; this also means the longest match always wins.
 *
 * @example
 * const redactor = createRedactor({ API_KEY: "sk-live-1234" });
 * redactor.text("Bearer sk-live-1234"); // "Bearer [redacted]"
 */
export function createRedactor(secrets: Record<string, string>): Redactor {
  const patterns = secretPatterns(secrets);
  const longest = patterns[0]?.length ?? 0;

  const text = (input: string): string => replaceRanges(input, findRanges(input, patterns), input.length);

  const value = <T>(input: T): T => redactValue(input, text) as T;

  const stream = () => {
    let pending = "";
    return {
      push(delta: string): string {
        if (patterns.length === 0) return delta;
        const buffer = pending + delta;
        const ranges = findRanges(buffer, patterns);
        const cut = holdBackStart(buffer, ranges, patterns, longest);
        pending = buffer.slice(cut);
        return replaceRanges(buffer, ranges, cut);
      },
      flush(): string {
        const rest = text(pending);
        pending = "";
        return rest;
      },
    };
  };

  return { text, value, stream };
}

/** Distinct strings to redact, longest first. */
function secretPatterns(secrets: Record<string, string>): string[] {
  const patterns = new Set<string>();
  for (const secret of Object.values(secrets)) {
    if (secret.length < MIN_REDACTED_LENGTH) continue;
    patterns.add(secret);
    patterns.add(encodeURIComponent(secret));
    patterns.add(JSON.stringify(secret).slice(1, -1));
  }
  return [...patterns].sort((a, b) => b.length - a.length);
}

/** Every occurrence of every pattern, merged where they overlap, in order. */
function findRanges(text: string, patterns: string[]): Range[] {
  const found: Range[] = [];
  for (const pattern of patterns) {
    for (let at = text.indexOf(pattern); at !== -1; at = text.indexOf(pattern, at + 1)) {
      found.push({ start: at, end: at + pattern.length });
    }
  }
  found.sort((a, b) => a.start - b.start);
  const merged: Range[] = [];
  for (const range of found) {
    const last = merged.at(-1);
    if (last && range.start < last.end) last.end = Math.max(last.end, range.end);
    else merged.push({ ...range });
  }
  return merged;
}

/** `text` up to `cut`, with the ranges ending at or before `cut` replaced. */
function replaceRanges(text: string, ranges: Range[], cut: number): string {
  let out = "";
  let at = 0;
  for (const range of ranges) {
    if (range.end > cut) break;
    out += text.slice(at, range.start) + REDACTED;
    at = range.end;
  }
  return out + text.slice(at, cut);
}

/**
 * Where the text to hold back starts: the longest suffix of `buffer` that is a proper prefix of a
 * pattern (so at most `longest - 1` characters), never cutting a complete occurrence in two.
 * Everything before it can be emitted: no secret can start there and still be incomplete.
 */
function holdBackStart(buffer: string, ranges: Range[], patterns: string[], longest: number): number {
  for (let start = Math.max(0, buffer.length - (longest - 1)); start < buffer.length; start++) {
    if (ranges.some((range) => range.start < start && start < range.end)) continue;
    const suffix = buffer.slice(start);
    if (patterns.some((pattern) => pattern.length > suffix.length && pattern.startsWith(suffix))) return start;
  }
  return buffer.length;
}

function redactValue(input: unknown, text: (input: string) => string): unknown {
  if (typeof input === "string") return text(input);
  if (Array.isArray(input)) return input.map((item) => redactValue(item, text));
  if (isPlainObject(input)) {
    return Object.fromEntries(Object.entries(input).map(([key, item]) => [text(key), redactValue(item, text)]));
  }
  return input;
}

function isPlainObject(input: unknown): input is Record<string, unknown> {
  if (typeof input !== "object" || input === null) return false;
  const proto = Object.getPrototypeOf(input) as unknown;
  return proto === Object.prototype || proto === null;
}
