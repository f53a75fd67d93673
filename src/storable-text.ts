import { z } from "zod";

/**
 * What Postgres cannot store in `text` or `jsonb`: the NUL character, and UTF-16 surrogates that
 * are not part of a pair (a lone `\ud800` survives JSON parsing but has no UTF-8 form). Matched
 * on UTF-16 code units, hence no `u` flag.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The issue text of an unstorable string: what to fix. */
export const UNSTORABLE_MESSAGE = "must not contain NUL characters (\\u0000) or unpaired UTF-16 surrogates";

/** True when Postgres can store `text` as it is. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * The one string rule of every request schema: a string the database can hold. Chain the
 * field's own limits after it (`storableString().min(1).max(200)`).
 */
export function storableString() {
  return z.string().refine(isStorableText, { message: UNSTORABLE_MESSAGE });
}

/**
 * Adds an issue, at its exact path, for every unstorable string inside a JSON value — object keys
 * included — so any JSON a request carries can be stored as `jsonb`.
 */
export function refineStorableJson(value: unknown, ctx: z.RefinementCtx, path: PropertyKey[] = []): void {
  if (typeof value === "string") {
    if (!isStorableText(value)) ctx.addIssue({ code: "custom", path, message: UNSTORABLE_MESSAGE });
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => refineStorableJson(item, ctx, [...path, i]));
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      // Named by its parent: echoing the key would echo what cannot be stored.
      if (!isStorableText(key)) ctx.addIssue({ code: "custom", path, message: `a key ${UNSTORABLE_MESSAGE}` });
      refineStorableJson(item, ctx, [...path, key]);
    }
  }
}
