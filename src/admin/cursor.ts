import { ApiError } from "../errors";

/**
 * Where a page of a list ends: the last row's sort key. Lists are ordered newest first by
 * `(created_at, id)`; `createdAt` is PostgreSQL's own text form of the timestamp (microseconds,
 * which a JS Date would round away), so the next page starts exactly after the last row and rows
 * inserted meanwhile (newer) never shift it.
 */
export interface Cursor {
  createdAt: string;
  id: string;
}

/** Opaque to clients: base64url of `[createdAt, id]`. */
export function encodeCursor({ createdAt, id }: Cursor): string {
  return btoa(JSON.stringify([createdAt, id])).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The cursor a client sent back; 400 `invalid_request` for anything parley did not hand out. */
export function decodeCursor(cursor: string): Cursor {
  try {
    const value: unknown = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string") {
      if (!Number.isNaN(Date.parse(value[0])) && /^[0-9a-f-]{36}$/i.test(value[1])) return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // Falls through to the one answer for every bad cursor.
  }
  throw new ApiError("invalid_request", { message: "The cursor is not one this list handed out.", details: [{ path: ["cursor"], message: "invalid cursor" }] });
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * A page from rows fetched with `limit + 1`: the extra row only tells whether another page
 * exists. `sortKey` gives each row's cursor.
 */
export function toPage<R, T>(rows: R[], limit: number, sortKey: (row: R) => Cursor, view: (row: R) => T): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items: items.map(view), nextCursor: rows.length > limit && last ? encodeCursor(sortKey(last)) : null };
}
