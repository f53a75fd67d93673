import { ApiError } from "../errors";

/** The strong ETag of a resource version: `"<version>"`. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/**
 * The version an `If-Match` header asks for: undefined when absent (the write is unconditional),
 * as is `"*"` (any version). A header that names no version of ours can never match: 412.
 */
export function expectedVersion(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined) return undefined;
  const value = ifMatch.trim();
  if (value === "*") return undefined;
  const match = /^(?:W\/)?"(\d{1,9})"$/.exec(value);
  if (!match) throw new ApiError("precondition_failed", { message: 'If-Match must be an ETag this API returned, such as "3".' });
  return Number(match[1]);
}
