/**
 * Every Redis key and pub/sub channel parley uses starts with `<prefix>:`, the deployment's key
 * prefix (`REDIS_KEY_PREFIX`, parsed into `config.redisKeyPrefix`). Deployments that share one
 * Redis — the previews of several branches — use different prefixes and never touch each
 * other's locks, cancel flags, rate limits or caches.
 */

/** The prefix of a deployment that sets none (local development, the tests, production). */
export const DEFAULT_REDIS_KEY_PREFIX = "parley";

/**
 * What a prefix may be: 1–64 letters, digits, `_` or `-`. Without `:` no prefix's keys can fall
 * inside another's namespace, and without glob characters `SCAN MATCH <prefix>:*` finds exactly
 * one deployment's keys.
 */
export const REDIS_KEY_PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
