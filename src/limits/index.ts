export { clientIpKey, UNKNOWN_IP_KEY } from "./client-ip";
export {
  AGGREGATE_LIMIT_FACTOR,
  countRateLimit,
  judgeRateLimit,
  RATE_LIMIT_TIMEOUT_MS,
  RATE_LIMIT_WINDOW,
  rateLimitError,
  type CountRateLimitOptions,
  type RateLimitCount,
  type RateLimitBucket,
  type RateLimitOutcome,
  type RateLimitRefusal,
} from "./limits";
