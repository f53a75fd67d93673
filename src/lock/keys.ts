import { DEFAULT_REDIS_KEY_PREFIX } from "../key-prefix";

// Each key starts with the deployment's key prefix (src/key-prefix.ts); the request path passes
// `config.redisKeyPrefix`.

/** Redis key of a session's turn lock, `<prefix>:lock:<sessionId>`; its value is the token of the turn holding it. */
export function lockKey(sessionId: string, keyPrefix = DEFAULT_REDIS_KEY_PREFIX): string {
  return `${keyPrefix}:lock:${sessionId}`;
}

/** Redis key of a session's cancel flag, `<prefix>:cancel:<sessionId>`; its value is the token of the turn asked to stop. */
export function cancelKey(sessionId: string, keyPrefix = DEFAULT_REDIS_KEY_PREFIX): string {
  return `${keyPrefix}:cancel:${sessionId}`;
}

/**
 * Pub/sub channel of a session's cancels, `<prefix>:cancel:<sessionId>`; each message is the
 * token of the turn asked to stop. Channels and keys are separate namespaces in Redis, so it
 * shares the flag's name.
 */
export function cancelChannel(sessionId: string, keyPrefix = DEFAULT_REDIS_KEY_PREFIX): string {
  return `${keyPrefix}:cancel:${sessionId}`;
}

/**
 * Redis key of a session's turn sequence, `<prefix>:seq:<sessionId>`: the
 * `chat_sessions.turn_seq` the last turn wrote, left by its release. A turn whose parallel
 * Postgres read shows less has read too early.
 */
export function turnSeqKey(sessionId: string, keyPrefix = DEFAULT_REDIS_KEY_PREFIX): string {
  return `${keyPrefix}:seq:${sessionId}`;
}
