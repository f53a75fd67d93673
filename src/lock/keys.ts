/** Redis key of a session's turn lock; its value is the token of the turn holding it. */
export function lockKey(sessionId: string): string {
  return `parley:lock:${sessionId}`;
}

/** Redis key of a session's cancel flag; its value is the token of the turn asked to stop. */
export function cancelKey(sessionId: string): string {
  return `parley:cancel:${sessionId}`;
}

/**
 * Pub/sub channel of a session's cancels; each message is the token of the turn asked to
 * stop. Channels and keys are separate namespaces in Redis, so it shares the flag's name.
 */
export function cancelChannel(sessionId: string): string {
  return `parley:cancel:${sessionId}`;
}

/**
 * Redis key of a session's turn sequence: the `chat_sessions.turn_seq` the last turn wrote,
 * left by its release. A turn whose parallel Postgres read shows less has read too early.
 */
export function turnSeqKey(sessionId: string): string {
  return `parley:seq:${sessionId}`;
}
