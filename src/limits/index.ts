export { clientIpKey, UNKNOWN_IP_KEY } from "./client-ip";
export {
  AGGREGATE_LIMIT_FACTOR,
  checkRateLimit,
  RATE_LIMIT_TIMEOUT_MS,
  RATE_LIMIT_WINDOW,
  rateLimitError,
  type CheckRateLimitOptions,
  type RateLimitBucket,
  type RateLimitOutcome,
  type RateLimitRefusal,
} from "./limits";
