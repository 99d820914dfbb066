import { describe, expect, it } from 'vitest';
import { TerminalError } from './errors.ts';
import { type Handler, WorkQueue } from './queue.ts';
import { FakeClock } from './testing/fake-clock.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function setup(options: { qps?: number; burst?: number } = {}) {
  const clock = new FakeClock(0);
  const retries: number[] = [];
  const queue = new WorkQueue<string>({
    clock,
    rateLimit: { qps: options.qps ?? 1000, burst: options.burst ?? 1000 },
    hooks: { retry: (_k, delay) => retries.push(delay) },
  });
  return { clock, queue, retries };
}

describe('WorkQueue', () => {
  it('never queues a key twice', () => {
    const { queue } = setup();
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(queue.depth).toBe(2);
  });

  it('hands a key to one worker at a time and runs it once more if re-added meanwhile', async () => {
    const { clock, queue } = setup();
    const gate = deferred();
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const handler: Handler<string> = async () => {
      calls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (calls === 1) await gate.promise;
      running--;
      return undefined;
    };
    const ac = new AbortController();
    const done = queue.run(4, handler, ac.signal);
    queue.add('a');
    await clock.flush();
    // Three adds while the first run is in flight collapse into one more run.
    queue.add('a');
    queue.add('a');
    queue.add('a');
    await clock.flush();
    expect(calls).toBe(1);
    gate.resolve();
    await clock.flush();
    expect(calls).toBe(2);
    expect(maxRunning).toBe(1);
    ac.abort();
    await done;
  });

  it('runs different keys in parallel up to the concurrency', async () => {
    const { clock, queue } = setup();
    const gate = deferred();
    let running = 0;
    let maxRunning = 0;
    const done = queue.run(2, async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gate.promise;
      running--;
      return undefined;
    });
    for (const k of ['a', 'b', 'c']) queue.add(k);
    await clock.flush();
    expect(running).toBe(2);
    expect(queue.depth).toBe(1);
    gate.resolve();
    await clock.flush();
    expect(maxRunning).toBe(2);
    await queue.shutdown(0);
    await done;
  });

  it('backs off per key, doubling from 5 ms, and starts over after a success', async () => {
    const { clock, queue } = setup();
    const callTimes: number[] = [];
    let failUntil = 5;
    const done = queue.run(1, async () => {
      callTimes.push(clock.now());
      if (callTimes.length <= failUntil) throw new Error('remote side failed');
      return undefined;
    });
    queue.add('a');
    await clock.advance(1000);
    const gaps = callTimes.slice(1).map((t, i) => t - (callTimes[i] ?? 0));
    expect(gaps).toEqual([5, 10, 20, 40, 80]);
    expect(queue.numRequeues('a')).toBe(0);

    // After the success the backoff is forgotten: the next failure waits 5 ms again.
    failUntil = callTimes.length + 1;
    const before = callTimes.length;
    queue.add('a');
    await clock.advance(1000);
    const t0 = callTimes[before] ?? 0;
    expect((callTimes[before + 1] ?? 0) - t0).toBe(5);
    await queue.shutdown(0);
    await done;
  });

  it('caps the backoff at the configured maximum', () => {
    const clock = new FakeClock(0);
    const queue = new WorkQueue<string>({ clock, backoff: { baseMs: 5, maxMs: 1_000_000 } });
    const delays = Array.from({ length: 30 }, () => queue.addRateLimited('a'));
    expect(delays[0]).toBe(5);
    expect(delays[17]).toBe(655_360);
    expect(delays[18]).toBe(1_000_000);
    expect(delays[29]).toBe(1_000_000);
  });

  it('spreads rate-limited adds of many keys with the global token bucket', () => {
    const { queue, retries } = setup({ qps: 1, burst: 2 });
    for (const k of ['a', 'b', 'c', 'd']) queue.addRateLimited(k);
    // The first two fit the burst (only the 5 ms per-key backoff); then one per second.
    expect(retries).toEqual([5, 5, 1000, 2000]);
  });

  it('keeps the earliest addAfter time and runs the key once', async () => {
    const { clock, queue } = setup();
    const callTimes: number[] = [];
    const done = queue.run(1, async () => {
      callTimes.push(clock.now());
      return undefined;
    });
    queue.addAfter('late-then-early', 1000);
    queue.addAfter('late-then-early', 100);
    queue.addAfter('early-then-late', 200);
    queue.addAfter('early-then-late', 2000);
    expect(queue.scheduledAt('late-then-early')).toBe(100);
    expect(queue.scheduledAt('early-then-late')).toBe(200);
    await clock.advance(5000);
    expect(callTimes).toEqual([100, 200]);
    await queue.shutdown(0);
    await done;
  });

  it('keeps one timer for any number of delayed keys, and runs each at its own time', async () => {
    const { clock, queue } = setup();
    const runs: Array<[string, number]> = [];
    const done = queue.run(4, async (key) => {
      runs.push([key, clock.now()]);
      return undefined;
    });
    const delays = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) + 1);
    delays.forEach((ms, i) => {
      queue.addAfter(`k${i}`, ms);
    });
    // Moved earlier, and a later add that changes nothing.
    queue.addAfter('k0', 1);
    queue.addAfter('k1', 5_000);
    expect(clock.pending).toBe(1);
    await clock.advance(1_000);
    expect(runs).toHaveLength(1000);
    const at = new Map(runs);
    expect(at.get('k0')).toBe(1);
    expect(at.get('k1')).toBe(delays[1]);
    delays.forEach((ms, i) => {
      if (i > 0) expect(at.get(`k${i}`)).toBe(ms);
    });
    expect(runs.map(([, t]) => t)).toEqual([...runs.map(([, t]) => t)].sort((a, b) => a - b));
    expect(clock.pending).toBe(0);
    await queue.shutdown(0);
    await done;
  });

  it('requeues after the time a handler asks for', async () => {
    const { clock, queue } = setup();
    const callTimes: number[] = [];
    const done = queue.run(1, async () => {
      callTimes.push(clock.now());
      return callTimes.length < 3 ? { requeueAfterMs: 60_000 } : undefined;
    });
    queue.add('a');
    await clock.advance(600_000);
    expect(callTimes).toEqual([0, 60_000, 120_000]);
    await queue.shutdown(0);
    await done;
  });

  it('does not retry a terminal error', async () => {
    const { clock, queue, retries } = setup();
    let calls = 0;
    const done = queue.run(1, async () => {
      calls++;
      throw new TerminalError('spec.data[0].remoteRef.id is not a UUID', { code: 'InvalidSpec' });
    });
    queue.add('a');
    await clock.advance(3_600_000);
    expect(calls).toBe(1);
    expect(retries).toEqual([]);
    await queue.shutdown(0);
    await done;
  });

  it('on shutdown waits for in-flight work that finishes within the bound', async () => {
    const { clock, queue } = setup();
    let finished = false;
    const done = queue.run(1, async () => {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 500));
      finished = true;
      return undefined;
    });
    queue.add('a');
    queue.add('b');
    await clock.flush();
    const result = queue.shutdown(1000);
    queue.add('c'); // ignored: no new work after shutdown
    await clock.advance(500);
    expect(await result).toEqual({ drained: true, abandoned: [] });
    expect(finished).toBe(true);
    await done;
  });

  it('on shutdown gives up after the bound and aborts the reconcile', async () => {
    const { clock, queue } = setup();
    let aborted = false;
    const done = queue.run(1, (_key, signal) => {
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(signal.reason);
        });
      });
    });
    queue.add('stuck');
    await clock.flush();
    const result = queue.shutdown(1000);
    await clock.advance(1000);
    expect(await result).toEqual({ drained: false, abandoned: ['stuck'] });
    expect(aborted).toBe(true);
    await done;
  });
});
