/**
 * Settles as `promise` does, or rejects with `signal.reason` as soon as `signal` aborts, whichever
 * comes first. For work that does not honour a signal itself (a caller-supplied fetch, a stream
 * read, a shared connect that other calls still wait for): the caller stops waiting, the work
 * itself is not cancelled.
 *
 * The abort listener is removed once `promise` settles, so a long-lived signal (a turn's) does not
 * collect one per call. Without a signal, `promise` is returned as is.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    // Nobody waits for it any more: its rejection must not surface as an unhandled one.
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
