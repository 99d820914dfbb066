import type { Clock } from './clock.ts';

/**
 * Per-key exponential backoff: `base * 2^(failures-1)`, capped at `max`. controller-runtime's
 * defaults are 5 ms and 1000 s.
 */
export class ExponentialBackoff<K> {
  readonly baseMs: number;
  readonly maxMs: number;
  #failures = new Map<K, number>();

  constructor(options: { baseMs?: number; maxMs?: number } = {}) {
    this.baseMs = options.baseMs ?? 5;
    this.maxMs = options.maxMs ?? 1_000_000;
  }

  /** Records one more failure of `key` and returns how long it should wait. */
  when(key: K): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    // 2^failures overflows to Infinity long after the cap applies; Math.min handles that.
    return Math.min(this.baseMs * 2 ** (failures - 1), this.maxMs);
  }

  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.#failures.delete(key);
  }
}

/**
 * A global token bucket (like Go's `rate.Limiter.Reserve`): each call takes a token and returns
 * how long the caller must wait for it. Tokens may go negative, so a burst of retries is spread
 * out at `qps` instead of being dropped.
 */
export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  #tokens: number;
  #last: number;
  readonly #clock: Clock;

  constructor(clock: Clock, options: { qps?: number; burst?: number } = {}) {
    this.#clock = clock;
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    this.#tokens = this.burst;
    this.#last = clock.now();
  }

  /** Reserves one token; returns the delay in ms before it may be used. */
  reserve(): number {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.qps) * 1000);
  }
}
