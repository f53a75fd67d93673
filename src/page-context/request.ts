import { z } from "zod";
import { refineStorableJson } from "../storable-text";

/** At most this many top-level keys in a context a page sends (allowed or not). */
export const MAX_CONTEXT_KEYS = 100;
/** Deepest nesting accepted in a context value: page state, not documents. */
export const MAX_CONTEXT_DEPTH = 8;

/** How deeply `value` nests (a scalar is 0), counted without recursion; stops past `limit`. */
function depthOver(value: unknown, limit: number): boolean {
  let level: unknown[] = [value];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > limit) return true;
    level = level.flatMap((item) => (item !== null && typeof item === "object" ? Object.values(item) : []));
  }
  return false;
}

/**
 * A context the page sends: a JSON object, its keys the names the template may allow. Values are
 * any JSON; strings the database can store.
 */
export const pageContextValue = z
  .record(z.string(), z.unknown())
  .refine((context) => Object.keys(context).length <= MAX_CONTEXT_KEYS, { message: `at most ${MAX_CONTEXT_KEYS} keys`, abort: true })
  // Aborts: the storable check below walks the value recursively.
  .refine((context) => !depthOver(context, MAX_CONTEXT_DEPTH), { message: `nested at most ${MAX_CONTEXT_DEPTH} levels deep`, abort: true })
  .superRefine((context, ctx) => refineStorableJson(context, ctx))
  .meta({ description: "Top-level keys the template's `pageContext.allowedKeys` names; others are dropped. Any JSON values." });

/** The body of `POST /v1/widget/session/:id/context`. */
export const pushContextBody = z
  .object({
    context: pageContextValue,
    /**
     * Applies only when higher than the stored revision (stale pushes change nothing). Omitted:
     * applies regardless of order, and the stored revision goes up by one.
     */
    revision: z
      .number()
      .int("revision must be a whole number")
      .min(1, "revision must be at least 1")
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .meta({ description: "Higher than the stored one to apply (e.g. a clock in ms); omitted: applies, and the stored revision goes up by one" }),
  })
  .meta({ id: "PageContextPush" });

export type PushContextBody = z.infer<typeof pushContextBody>;
