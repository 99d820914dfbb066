/**
 * Injected time. Everything in the operator that waits or schedules (backoff, requeue, lease
 * renewal, resync, refresh) takes a `Clock`, so tests drive time with the `FakeClock` in
 * testing/fake-clock.ts instead of sleeping.
 */

/** Cancels a scheduled callback; calling it after the callback ran (or twice) does nothing. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds (negative counts as 0). */
  setTimeout(fn: () => void, ms: number): Cancel;
}

/** The process clock. Timers are unref'd: a pending requeue never keeps the process alive. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, ms));
    handle.unref();
    return () => clearTimeout(handle);
  },
};

/**
 * Resolves after `ms` on `clock`, or rejects with the signal's reason when `signal` aborts first.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
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
