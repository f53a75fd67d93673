import { NeonDbError } from "@neondatabase/serverless";

/**
 * SQLSTATEs that mean "the database cannot serve right now", not "this request is wrong":
 * connection exceptions (08), insufficient resources (53), operator intervention — shutdown,
 * crash, cannot connect now (57P01–57P03), and the transaction conflicts a retry resolves
 * (40001 serialization failure, 40P01 deadlock).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3]$|40001$|40P01$)/;

/**
 * True when `error` (or what it wraps: Drizzle's `DrizzleQueryError` keeps the driver's error as
 * `cause`) says Postgres could not be reached or could not serve, judged by the Neon driver's
 * structured fields, never its message text:
 *
 * - `sourceError` set: the HTTP request itself failed (refused, reset, timed out);
 * - no `code`: the endpoint answered a non-400 status (Neon's 5xx), so no Postgres error exists;
 * - a `code` in {@link UNAVAILABLE_SQLSTATE}.
 *
 * Any other Postgres error (a constraint, a syntax error) is a bug or bad input, not an outage.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (current instanceof NeonDbError) {
      if (current.sourceError !== undefined) return true;
      if (current.code === undefined) return true;
      return UNAVAILABLE_SQLSTATE.test(current.code);
    }
  }
  return false;
}
