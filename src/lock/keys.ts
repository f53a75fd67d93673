/** Redis key of a session's turn lock; its value is the token of the turn holding it. */
export function lockKey(sessionId: string): string {
  return `parley:lock:${sessionId}`;
}

/** Redis key of a session's cancel flag; its value is the token of the turn asked to stop. */
export function cancelKey(sessionId: string): string {
  return `parley:cancel:${sessionId}`;
}
