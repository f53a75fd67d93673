import type { Context } from "hono";
import { getTurnSnapshot } from "../db/queries";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { assertSessionOpenForChat } from "../gates";
import { validateTemplate } from "../templates/validate";
import { replayChunks } from "./replay";
import { runTurn } from "./run";
import { completedStreamResponse, openTurnStream } from "./stream";

export type TurnInput = { kind: "initial" } | { kind: "message"; id: string; text: string };

/**
 * Gates 10–13 on a fresh read under the lock, then opens the stream and hands the turn to
 * `waitUntil`. From here on every failure is reported inside the stream.
 */
export async function startTurn(c: Context<AppEnv>, input: TurnInput): Promise<Response> {
  const { db, redis, config, claims, lock } = c.var;
  const sessionId = claims.sid;
  const snapshot = await getTurnSnapshot(db, {
    sessionId,
    widgetId: claims.wid,
    historyLimit: config.historyLimit,
    ...(input.kind === "message" ? { clientMessageId: input.id } : {}),
  });
  const session = assertSessionOpenForChat(snapshot.session);
  if (input.kind === "initial" && snapshot.messageCount > 0) throw new ApiError("session_not_fresh");

  let storedIdx: number | undefined;
  if (input.kind === "message" && snapshot.existingUserMessage) {
    const userIdx = snapshot.existingUserMessage.idx;
    const reply = snapshot.replyToExisting;
    if (reply) {
      const answer = reply.role === "assistant" ? reply : null;
      return completedStreamResponse(replayChunks({ sessionId, userIdx, reply: answer }));
    }
    // Stored, never answered (its turn failed before any output): answer it now.
    storedIdx = userIdx;
  }
  if (!snapshot.template) throw new ApiError("template_missing");
  const template = validateTemplate(snapshot.template);

  const stream = openTurnStream(c.req.raw.signal);
  lock.handOff();
  c.executionCtx.waitUntil(
    runTurn(
      {
        sessionId,
        template,
        templateVars: session.templateVars,
        storedNode: session.currentNode,
        history: snapshot.history,
        nextIdx: snapshot.messageCount,
        ...(input.kind === "message"
          ? { user: { clientMessageId: input.id, text: input.text, ...(storedIdx === undefined ? {} : { storedIdx }) } }
          : {}),
      },
      { db, redis, config, resolveModel: c.var.resolveModel, lockToken: lock.token, stream },
    ),
  );
  return stream.response;
}
