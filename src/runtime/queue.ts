import type { Cancel, Clock } from './clock.ts';
import { isTerminalError } from './errors.ts';
import { ExponentialBackoff, TokenBucket } from './ratelimit.ts';

/** What a handler returns: nothing (done) or "run again after `requeueAfterMs`". */
export interface HandlerResult {
  requeueAfterMs?: number;
}

/**
 * Processes one key. Resolving means success (the key's backoff is reset); throwing means
 * "retry with backoff", unless the error is a `TerminalError` (recorded, not retried).
 * `signal` aborts when the queue shuts down past its grace period or the run signal aborts.
 */
export type Handler<K> = (key: K, signal: AbortSignal) => Promise<HandlerResult | undefined>;

/** Observability hooks; the controller binds them to metrics. */
export interface QueueHooks<K> {
  /** Called whenever the number of keys ready to be handed out changes. */
  depth?(depth: number): void;
  /** Called for each rate-limited requeue with the delay chosen. */
  retry?(key: K, delayMs: number): void;
}

export interface WorkQueueOptions<K> {
  clock: Clock;
  /** Per-key exponential backoff (defaults: 5 ms doubling up to 1000 s, as controller-runtime). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Global token bucket for rate-limited adds (defaults: 10 qps, burst 100). */
  rateLimit?: { qps?: number; burst?: number };
  hooks?: QueueHooks<K>;
}

export interface ShutdownResult<K> {
  /** True when every in-flight handler finished within the grace period. */
  drained: boolean;
  /** Keys still being processed when the grace period ran out (their signal was aborted). */
  abandoned: K[];
}

/**
 * A work queue with controller-runtime's semantics:
 * - a key is never queued twice and never handed to two workers at once;
 * - a key added while it is being processed is queued again once its handler finishes;
 * - `addAfter` keeps the earliest pending time for a key;
 * - `addRateLimited` waits max(per-key exponential backoff, global token bucket);
 * - `run` applies the handler's result: success forgets the backoff, `requeueAfterMs`
 *   schedules a refresh, an error retries with backoff, a `TerminalError` is not retried.
 */
export class WorkQueue<K = string> {
  readonly #clock: Clock;
  readonly #backoff: ExponentialBackoff<K>;
  readonly #bucket: TokenBucket;
  readonly #hooks: QueueHooks<K>;

  /** Ready to hand out, in FIFO order (a Set keeps insertion order and forbids duplicates). */
  readonly #queued = new Set<K>();
  readonly #processing = new Map<K, AbortController>();
  /** Added while processing: queued again when the handler finishes. */
  readonly #dirty = new Set<K>();
  /** Keys added after a delay: when each is due (epoch ms). */
  readonly #waiting = new Map<K, number>();
  /** The same deadlines in a min-heap (entries a key has since moved earlier are skipped). */
  readonly #deadlines = new DeadlineHeap<K>();
  /** The one timer, for the earliest deadline: not one per key (10,000 keys, 10,000 timers). */
  #timer: { at: number; cancel: Cancel } | undefined;
  #waiters: Array<(key: K | undefined) => void> = [];
  #shuttingDown = false;
  #idle: Array<() => void> = [];

  constructor(options: WorkQueueOptions<K>) {
    this.#clock = options.clock;
    this.#backoff = new ExponentialBackoff<K>(options.backoff);
    this.#bucket = new TokenBucket(options.clock, options.rateLimit);
    this.#hooks = options.hooks ?? {};
  }

  /** Keys ready to be handed out (not counting those processing or waiting for a delay). */
  get depth(): number {
    return this.#queued.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Keys currently being processed. */
  get inFlight(): K[] {
    return [...this.#processing.keys()];
  }

  /** Enqueues `key` now. */
  add(key: K): void {
    if (this.#shuttingDown) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#take(key);
      waiter(key);
      return;
    }
    this.#queued.add(key);
    this.#hooks.depth?.(this.#queued.size);
  }

  /** Enqueues `key` after `ms`; an earlier pending time for the same key wins. */
  addAfter(key: K, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const existing = this.#waiting.get(key);
    if (existing !== undefined && existing <= at) return;
    this.#waiting.set(key, at);
    this.#deadlines.push(at, key);
    // Entries for deadlines moved earlier pile up only if keys keep moving: rebuild then.
    if (this.#deadlines.size > 2 * this.#waiting.size + 1024)
      this.#deadlines.rebuild(this.#waiting);
    this.#arm();
  }

  /** Keeps the one timer on the earliest live deadline. */
  #arm(): void {
    const next = this.#deadlines.peekLive(this.#waiting);
    if (next === undefined) {
      this.#timer?.cancel();
      this.#timer = undefined;
      return;
    }
    if (this.#timer && this.#timer.at <= next) return;
    this.#timer?.cancel();
    const cancel = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#fire();
    }, next - this.#clock.now());
    this.#timer = { at: next, cancel };
  }

  /** Adds every key whose deadline has come, then re-arms for the next one. */
  #fire(): void {
    const now = this.#clock.now();
    for (;;) {
      const next = this.#deadlines.peekLive(this.#waiting);
      if (next === undefined || next > now) break;
      const key = this.#deadlines.pop() as K;
      this.#waiting.delete(key);
      this.add(key);
    }
    this.#arm();
  }

  /** Enqueues `key` after its backoff (and the global rate limit); returns the delay. */
  addRateLimited(key: K): number {
    const delay = Math.max(this.#backoff.when(key), this.#bucket.reserve());
    this.#hooks.retry?.(key, delay);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets `key`'s backoff (after a success or when the object is gone). */
  forget(key: K): void {
    this.#backoff.forget(key);
  }

  /** How many rate-limited requeues `key` had since it was last forgotten. */
  numRequeues(key: K): number {
    return this.#backoff.failures(key);
  }

  /** When `key` is scheduled by `addAfter`, the epoch ms it will be added at. */
  scheduledAt(key: K): number | undefined {
    return this.#waiting.get(key);
  }

  /**
   * Runs `concurrency` workers until the queue shuts down or `signal` aborts. Aborting `signal`
   * stops handing out work and aborts in-flight handlers' signals; the promise resolves once
   * every worker has returned.
   */
  async run(concurrency: number, handler: Handler<K>, signal?: AbortSignal): Promise<void> {
    if (signal) {
      const onAbort = () => {
        this.#stopTaking();
        for (const ac of this.#processing.values()) ac.abort(signal.reason);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    const workers = Array.from({ length: Math.max(1, concurrency) }, () => this.#worker(handler));
    await Promise.all(workers);
  }

  /**
   * Stops handing out work, waits up to `graceMs` for in-flight handlers, then aborts the
   * signals of those still running and returns without waiting further.
   */
  async shutdown(graceMs: number): Promise<ShutdownResult<K>> {
    this.#stopTaking();
    if (this.#processing.size === 0) return { drained: true, abandoned: [] };
    const drained = await new Promise<boolean>((resolve) => {
      const cancel = this.#clock.setTimeout(() => resolve(false), graceMs);
      this.#idle.push(() => {
        cancel();
        resolve(true);
      });
    });
    if (drained) return { drained, abandoned: [] };
    const abandoned = this.inFlight;
    for (const ac of this.#processing.values()) {
      ac.abort(new Error('work queue shut down before the reconcile finished'));
    }
    return { drained, abandoned };
  }

  #stopTaking(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#waiting.clear();
    this.#deadlines.rebuild(this.#waiting);
    this.#queued.clear();
    this.#dirty.clear();
    this.#hooks.depth?.(0);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w(undefined);
  }

  #take(key: K): void {
    this.#processing.set(key, new AbortController());
  }

  #get(): Promise<K | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const first = this.#queued.values().next();
    if (!first.done) {
      const key = first.value;
      this.#queued.delete(key);
      this.#hooks.depth?.(this.#queued.size);
      this.#take(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #done(key: K): void {
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) this.add(key);
    if (this.#processing.size === 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const fn of idle) fn();
    }
  }

  async #worker(handler: Handler<K>): Promise<void> {
    for (;;) {
      const key = await this.#get();
      if (key === undefined) return;
      const ac = this.#processing.get(key);
      try {
        const result = await handler(key, ac?.signal ?? new AbortController().signal);
        this.forget(key);
        const after = result?.requeueAfterMs;
        if (after !== undefined && after > 0) this.addAfter(key, after);
      } catch (err) {
        if (isTerminalError(err)) this.forget(key);
        else this.addRateLimited(key);
      } finally {
        this.#done(key);
      }
    }
  }
}

/** A binary min-heap of (deadline, key); an entry is live while `waiting` holds that deadline. */
class DeadlineHeap<K> {
  #at: number[] = [];
  #keys: K[] = [];

  get size(): number {
    return this.#at.length;
  }

  push(at: number, key: K): void {
    let i = this.#at.length;
    this.#at.push(at);
    this.#keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.#at[parent] as number) <= at) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  /** The earliest live deadline, dropping dead entries on the way. */
  peekLive(waiting: ReadonlyMap<K, number>): number | undefined {
    while (this.#at.length > 0) {
      const at = this.#at[0] as number;
      if (waiting.get(this.#keys[0] as K) === at) return at;
      this.pop();
    }
    return undefined;
  }

  /** Removes the earliest entry and returns its key. */
  pop(): K | undefined {
    if (this.#at.length === 0) return undefined;
    const key = this.#keys[0];
    const lastAt = this.#at.pop() as number;
    const lastKey = this.#keys.pop() as K;
    if (this.#at.length > 0) {
      this.#at[0] = lastAt;
      this.#keys[0] = lastKey;
      this.#down(0);
    }
    return key;
  }

  /** Exactly the deadlines of `waiting`. */
  rebuild(waiting: ReadonlyMap<K, number>): void {
    this.#at = [...waiting.values()];
    this.#keys = [...waiting.keys()];
    for (let i = (this.#at.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #down(i: number): void {
    const n = this.#at.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < n && (this.#at[left] as number) < (this.#at[least] as number)) least = left;
      if (right < n && (this.#at[right] as number) < (this.#at[least] as number)) least = right;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }

  #swap(a: number, b: number): void {
    const at = this.#at[a] as number;
    this.#at[a] = this.#at[b] as number;
    this.#at[b] = at;
    const key = this.#keys[a] as K;
    this.#keys[a] = this.#keys[b] as K;
    this.#keys[b] = key;
  }
}
