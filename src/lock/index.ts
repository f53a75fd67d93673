export { CANCEL_POLL_INTERVAL_MS, CANCEL_TTL_MS, cancelChannel, requestCancel, watchForCancel, type CancelWatchRedis, type WatchForCancelOptions } from "./cancel";
export {
  acquireLock,
  cancelKey,
  heldLock,
  LOCK_TTL_MARGIN_MS,
  lockKey,
  releaseLock,
  TURN_SEQ_TTL_MS,
  turnSeqKey,
  type AcquireLockOptions,
  type AcquireLockOutcome,
  type ReleaseLockOptions,
  type SessionLock,
} from "./lock";
