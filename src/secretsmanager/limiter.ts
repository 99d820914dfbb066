/**
 * Per-store admission: a token bucket (requests per second with a burst) and a concurrency
 * limit. Waiters are served in arrival order so one busy key cannot starve the others. Driven by
 * the injected clock so tests need no real time.
 */
import type { Clock } from './clock.ts';

export interface RateLimit {
  qps: number;
  burst: number;
}

export class TokenBucket {
  readonly #clock: Clock;
  readonly #qps: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;
  readonly #waiters: Array<() => void> = [];
  #timerCancel: (() => void) | undefined;

  constructor(limit: RateLimit, clock: Clock) {
    if (!(limit.qps > 0) || !(limit.burst >= 1)) {
      throw new RangeError('rate limit needs qps > 0 and burst >= 1');
    }
    this.#clock = clock;
    this.#qps = limit.qps;
    this.#burst = limit.burst;
    this.#tokens = limit.burst;
    this.#last = clock.now();
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#last) / 1000;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#qps);
    this.#last = now;
  }

  /** Requests per second. */
  get qps(): number {
    return this.#qps;
  }

  /** How long a request arriving now would wait behind those already waiting (ms). */
  get backlogMs(): number {
    return (this.#waiters.length / this.#qps) * 1000;
  }

  /** Resolves when a token is available (immediately when the bucket has one). */
  take(): Promise<void> {
    this.#refill();
    if (this.#waiters.length === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timerCancel || this.#waiters.length === 0) return;
    const missing = 1 - this.#tokens;
    const waitMs = Math.max(1, Math.ceil((missing / this.#qps) * 1000));
    this.#timerCancel = this.#clock.setTimeout(() => {
      this.#timerCancel = undefined;
      this.#refill();
      while (this.#waiters.length > 0 && this.#tokens >= 1) {
        this.#tokens -= 1;
        this.#waiters.shift()?.();
      }
      this.#schedule();
    }, waitMs);
  }
}

export class Semaphore {
  readonly #max: number;
  #active = 0;
  readonly #waiters: Array<() => void> = [];

  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError('concurrency must be at least 1');
    this.#max = max;
  }

  get active(): number {
    return this.#active;
  }

  /** Resolves with a release function once a slot is free. */
  async acquire(): Promise<() => void> {
    if (this.#active < this.#max) {
      this.#active += 1;
    } else {
      // The releaser hands its slot straight to us, so #active stays unchanged.
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#active -= 1;
    };
  }
}
