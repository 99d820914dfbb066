/**
 * A clock for tests: time moves only when the test says so, and due timers run in order.
 * `settle` drives a promise to completion by letting in-process I/O (MockAgent) run and, when
 * nothing else can happen, jumping to the next timer.
 */
import type { Clock } from '../clock.ts';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  delay: number;
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];
  /** Every delay ever scheduled, in order (what a test asserts backoff against). */
  readonly scheduled: number[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const t: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, delay: ms };
    this.#timers.push(t);
    this.scheduled.push(ms);
    return () => {
      this.#timers = this.#timers.filter((x) => x !== t);
    };
  }

  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#nextTimer();
      if (!next || next.at > target) break;
      this.#timers = this.#timers.filter((x) => x !== next);
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
  }

  /** Jumps to the next timer and runs it; false when there is none. */
  fireNext(): boolean {
    const next = this.#nextTimer();
    if (!next) return false;
    this.advance(next.at - this.#now);
    return true;
  }

  #nextTimer(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.#timers) {
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Lets queued microtasks, nextTicks and immediates run (MockAgent replies use them). */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * Resolves with the outcome of `p`, firing the clock's timers one at a time whenever the
 * process has nothing else to do. Throws if the promise is still pending after `maxTimers`.
 */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export async function settle<T>(p: Promise<T>, clock: FakeClock, maxTimers = 200): Promise<T> {
  const box: { outcome?: Outcome<T> } = {};
  p.then(
    (value) => {
      box.outcome = { ok: true, value };
    },
    (error: unknown) => {
      box.outcome = { ok: false, error };
    },
  );
  for (let i = 0; i <= maxTimers; i++) {
    await flush();
    const o = box.outcome;
    if (o) {
      if (o.ok) return o.value;
      throw o.error;
    }
    if (!clock.fireNext()) await flush(50);
  }
  throw new Error('settle: the promise did not settle');
}

/** Lets in-process work run until `cond` holds (no clock movement); throws if it never does. */
export async function until(cond: () => boolean, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (cond()) return;
    await flush(5);
  }
  throw new Error('until: condition never became true');
}
