import type { TurnSnapshot } from "../db/queries";
import { log } from "../log/log";

/**
 * Pauses before each re-read of a snapshot found older than the lock's turn sequence, in ms:
 * about 1.6 s in all, far longer than a write in flight takes to commit.
 */
export const FENCE_RETRY_DELAYS_MS = [10, 20, 50, 100, 200, 400, 800] as const;

/**
 * The fence (docs/architecture.md): the wave reads Postgres in parallel with taking the lock, so
 * its read can predate the previous turn's final write, which runs in parallel with that turn's
 * release. The release leaves the turn sequence it wrote in Redis; a snapshot showing less is
 * read again until it catches up.
 *
 * After the last retry the snapshot is used as it is and the gap logged: the previous turn's
 * final write then evidently failed (its reply was reported `persist_failed`), so nothing newer
 * exists to wait for. Resolves the snapshot to judge and how many times it was read again.
 */
export async function fenceSnapshot(
  snapshot: TurnSnapshot,
  lockSeq: number | null,
  readAgain: () => Promise<TurnSnapshot>,
  { delaysMs = FENCE_RETRY_DELAYS_MS }: { delaysMs?: readonly number[] } = {},
): Promise<{ snapshot: TurnSnapshot; rereads: number }> {
  const behind = (read: TurnSnapshot) => lockSeq !== null && read.session !== null && read.session.turnSeq < lockSeq;
  let current = snapshot;
  let rereads = 0;
  for (const delayMs of delaysMs) {
    if (!behind(current)) return { snapshot: current, rereads };
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    current = await readAgain();
    rereads++;
  }
  if (behind(current)) {
    log("warn", "fence: Postgres still behind the lock's turn sequence; going on with what it has", {
      sessionId: current.session?.id,
      postgresSeq: current.session?.turnSeq,
      lockSeq,
    });
  }
  return { snapshot: current, rereads };
}
