export { CANCEL_POLL_INTERVAL_MS, CANCEL_TTL_MS, cancelChannel, requestCancel, watchForCancel, type CancelWatchRedis, type WatchForCancelOptions } from "./cancel";
export {
  acquireLock,
  cancelKey,
  LOCK_TTL_MARGIN_MS,
  lockKey,
  releaseLock,
  type AcquireLockOptions,
  type AcquireLockOutcome,
  type LockRedis,
  type ReleaseLockOptions,
} from "./lock";
