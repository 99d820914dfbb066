/**
 * The one clock for tests: time moves only when the test says so, and due timers run in time
 * order (ties in scheduling order). Not used by the operator itself.
 *
 * Two ways to move it: `advance` (async) lets promise chains settle before and between timers,
 * so async code reacting to one timer can schedule the next inside the same advance (the runtime
 * and the controllers); `tick` (sync) runs due timers at once, and `settle` drives a promise to
 * its end by letting in-process I/O (MockAgent) run and, when nothing else can happen, jumping to
 * the next timer (the Secrets Manager client).
 */
import type { Cancel, Clock } from '../clock.ts';

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** Lets pending promise callbacks (and the I/O they started on loopback) run. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  #now: number;
  #nextId = 0;
  #timers: FakeTimer[] = [];
  /** Every delay ever scheduled, in order (what a test asserts backoff against). */
  readonly scheduled: number[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Cancel {
    const timer: FakeTimer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(timer);
    this.scheduled.push(ms);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Number of timers not yet run. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Lets promise chains settle without moving time. */
  async flush(rounds = 3): Promise<void> {
    for (let i = 0; i < rounds; i++) await macrotask();
  }

  /** Moves time forward by `ms`, running due timers in order with promise chains settling between. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await this.flush();
    for (;;) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#run(next);
      await this.flush();
    }
    this.#now = Math.max(this.#now, target);
    await this.flush();
  }

  /** Moves time forward by `ms` at once, running every timer that falls due, in order. */
  tick(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#run(next);
    }
    this.#now = Math.max(this.#now, target);
  }

  /** Jumps to the next timer and runs it; false when there is none. */
  fireNext(): boolean {
    const next = this.#nextDue(Number.POSITIVE_INFINITY);
    if (!next) return false;
    this.tick(next.at - this.#now);
    return true;
  }

  #run(timer: FakeTimer): void {
    this.#timers = this.#timers.filter((t) => t !== timer);
    this.#now = Math.max(this.#now, timer.at);
    timer.fn();
  }

  #nextDue(target: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > target) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    }
    return best;
  }
}

/** Lets queued microtasks, nextTicks and immediates run (MockAgent replies use them). */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await macrotask();
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Resolves with the outcome of `p`, firing the clock's timers one at a time whenever the
 * process has nothing else to do. Throws if the promise is still pending after `maxTimers`.
 */
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
