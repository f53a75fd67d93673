import type { Redis } from "@upstash/redis/cloudflare";

/**
 * Takes the turn lock (`SET NX PX`) and reads the session's turn sequence, in one command.
 * A resend of this script after a lost reply finds its own token in the lock and still
 * answers "acquired" (upstash/redis-js#1455), so the token must be fresh per attempt.
 * Returns `{ 1 | 0, seq | false }`.
 */
export const ACQUIRE_SCRIPT = `
local lockKey = KEYS[1] -- parley:lock:<sessionId>
local seqKey  = KEYS[2] -- parley:seq:<sessionId>
local token   = ARGV[1] -- the acquiring turn's fresh token
local ttlMs   = ARGV[2] -- the lock's lifetime if never released, in ms

redis.call("SET", lockKey, token, "NX", "PX", ttlMs)
local held = 0
if redis.call("GET", lockKey) == token then
  held = 1
end
return { held, redis.call("GET", seqKey) }
`;

/**
 * Compare-and-delete of the turn lock. Also drops the cancel flag left for this token, so a
 * cancel aimed at this turn can never stop the next one, and leaves the turn's new sequence
 * (when given) for the next turn's fence.
 * Returns 1 when the lock was held by `token` and is now free, else 0.
 */
export const RELEASE_SCRIPT = `
local lockKey   = KEYS[1] -- parley:lock:<sessionId>
local cancelKey = KEYS[2] -- parley:cancel:<sessionId>
local seqKey    = KEYS[3] -- parley:seq:<sessionId>
local token     = ARGV[1] -- the releasing turn's lock token
local seq       = ARGV[2] -- the turn_seq this turn's final write sets, or "" when it wrote none
local seqTtlMs  = ARGV[3] -- lifetime of the sequence key, in ms

if redis.call("GET", cancelKey) == token then
  redis.call("DEL", cancelKey)
end
if redis.call("GET", lockKey) == token then
  redis.call("DEL", lockKey)
  if seq ~= "" then
    redis.call("SET", seqKey, seq, "PX", seqTtlMs)
  end
  return 1
end
return 0
`;

/**
 * Renews the turn's lease on the lock and reads the cancel flag, in one command: the renewal a
 * long turn needs doubles as the cancel channel's safety read, so it adds no request of its own.
 * Returns `{ held, canceled }`: 1 when the lock is still `token`'s (and now lives `ttlMs` more),
 * 1 when the cancel flag names `token`.
 */
export const RENEW_SCRIPT = `
local lockKey   = KEYS[1] -- parley:lock:<sessionId>
local cancelKey = KEYS[2] -- parley:cancel:<sessionId>
local token     = ARGV[1] -- the renewing turn's lock token
local ttlMs     = ARGV[2] -- the lease's new lifetime, in ms

local held = 0
if redis.call("GET", lockKey) == token then
  redis.call("PEXPIRE", lockKey, ttlMs)
  held = 1
end
local canceled = 0
if redis.call("GET", cancelKey) == token then
  canceled = 1
end
return { held, canceled }
`;

/**
 * Publishes a stop for the turn holding the lock: copies the lock's token into the cancel
 * key, with a TTL so a flag nobody consumes goes away on its own, and publishes the token on
 * the session's cancel channel for a turn that is subscribed. The flag covers a turn whose
 * subscription is not confirmed yet (pub/sub keeps nothing) or that fell back to reading it.
 * Returns the token of the turn in flight, or nil when the lock is free.
 */
export const CANCEL_SCRIPT = `
local lockKey   = KEYS[1] -- parley:lock:<sessionId>
local cancelKey = KEYS[2] -- parley:cancel:<sessionId>
local ttlMs     = ARGV[1] -- lifetime of the cancel flag, in ms
local channel   = ARGV[2] -- parley:cancel:<sessionId>, the pub/sub channel (not a key)

local token = redis.call("GET", lockKey)
if not token then
  return nil
end
redis.call("SET", cancelKey, token, "PX", ttlMs)
redis.call("PUBLISH", channel, token)
return token
`;

/** A Lua script and the SHA1 hex of its text, which `EVALSHA` and `SCRIPT LOAD` use. */
export interface LuaScript {
  readonly script: string;
  readonly hash: string;
}

/**
 * Every script with its hash, computed offline (`sha1` of the exact text above);
 * `test/worker/lock.test.ts` checks them against `SCRIPT LOAD`.
 */
export const SCRIPTS = {
  acquire: { script: ACQUIRE_SCRIPT, hash: "170b0acf7af7f884418ee99143a74940fea907c6" },
  release: { script: RELEASE_SCRIPT, hash: "a41daf8eae7780764b7c4eaef1d4fef48c9778b4" },
  cancel: { script: CANCEL_SCRIPT, hash: "738f3481f52fd6f95f358af513cfc549d6a1f787" },
  renew: { script: RENEW_SCRIPT, hash: "8d510e6befae432f493b3ae63f495377b7924344" },
} as const satisfies Record<string, LuaScript>;

/** The Redis commands `evalScript` needs. */
export type ScriptRedis = Pick<Redis, "evalsha" | "eval">;

/**
 * Runs `script` by hash, sending its text (`EVAL`) only when Redis answers NOSCRIPT
 * (a fresh or flushed script cache). Any other error propagates.
 */
export async function evalScript<TResult>(
  redis: ScriptRedis,
  script: LuaScript,
  keys: string[],
  args: string[],
): Promise<TResult> {
  try {
    return await redis.evalsha<string[], TResult>(script.hash, keys, args);
  } catch (error) {
    // Upstash reports Redis errors as text only (`UpstashError`, no code field); the
    // NOSCRIPT prefix is Redis' own and the one marker the official clients rely on too.
    if (error instanceof Error && error.message.includes("NOSCRIPT")) {
      return await redis.eval<string[], TResult>(script.script, keys, args);
    }
    throw error;
  }
}
