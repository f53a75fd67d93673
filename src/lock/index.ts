export { CANCEL_POLL_INTERVAL_MS, CANCEL_TTL_MS, cancelChannel, requestCancel, watchForCancel, type CancelWatchRedis, type WatchForCancelOptions } from "./cancel";
export {
  acquireLock,
  cancelKey,
  heldLock,
  DEFAULT_LOCK_LEASE_MS,
  RELEASE_RETRY_DELAYS_MS,
  renewLease,
  type LeaseRenewal,
  lockKey,
  releaseLock,
  TURN_SEQ_TTL_MS,
  turnSeqKey,
  type AcquireLockOptions,
  type AcquireLockOutcome,
  type ReleaseLockOptions,
  type SessionLock,
} from "./lock";
