import { expect } from "vitest";
import type { ParleyChunk } from "../../../src/turn/message";
import { post } from "./app";
import type { TestSession } from "./fixtures";
import { dataOf, readChunks } from "./sse";

/** POSTs to one of a session's turn routes (`message`, `approval`, `tool-result`, …) with its token. */
export function turnRoute(path: string, session: TestSession, json: unknown, env?: Record<string, string>) {
  return post(`/v1/widget/session/${session.sessionId}/${path}`, { token: session.token, json, ...(env ? { env } : {}) });
}

/** A turn that must answer 200: its chunks, once its work (final write, lock release) has settled. */
export async function streamedTurn(path: string, session: TestSession, json: unknown, env?: Record<string, string>): Promise<ParleyChunk[]> {
  const { res, settled } = await turnRoute(path, session, json, env);
  expect(res.status, await res.clone().text()).toBe(200);
  const chunks = await readChunks(res);
  await settled();
  return chunks;
}

/** A message turn with a fresh client id, streamed to its end. */
export const messageTurn = (session: TestSession, text: string, env?: Record<string, string>) =>
  streamedTurn("message", session, { id: crypto.randomUUID(), text }, env);

/** The turn's `data-turn-end` payload. */
export const turnEndOf = (chunks: ParleyChunk[]) => dataOf(chunks, "data-turn-end")[0]?.data;
