/**
 * Time as the client sees it. Injected so that token refresh, backoff, rate limiting and request
 * timeouts can be driven by a fake clock in tests. The shape matches the runtime's Clock
 * (`now()` and a cancellable `setTimeout`), so one fake can drive both.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    // A pending backoff or refresh must never keep the process alive on shutdown.
    t.unref?.();
    return () => clearTimeout(t);
  },
};

/** Waits `ms` on the given clock; rejects with the signal's reason when aborted. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
