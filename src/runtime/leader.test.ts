import { describe, expect, it } from 'vitest';
import { type ElectionEnd, LeaderElector, type LeaseStore } from './leader.ts';
import { createLogger } from './logger.ts';
import { FakeClock } from './testing/fake-clock.ts';
import { MemoryLeaseStore } from './testing/fakes.ts';

const log = createLogger({ level: 'silent' });

interface Candidate {
  elector: LeaderElector;
  stop: AbortController;
  ended: Promise<ElectionEnd>;
  startedAt?: number;
  workSignal?: AbortSignal;
  stoppedAt?: number;
}

function candidate(
  clock: FakeClock,
  store: LeaseStore,
  identity: string,
  options: { releaseOnCancel?: boolean } = {},
): Candidate {
  const stop = new AbortController();
  const c = {} as Candidate;
  c.stop = stop;
  c.elector = new LeaderElector({
    store,
    identity,
    clock,
    log,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    releaseOnCancel: options.releaseOnCancel ?? true,
    random: () => 0,
    onStartedLeading: (signal) => {
      c.startedAt = clock.now();
      c.workSignal = signal;
    },
    onStoppedLeading: () => {
      c.stoppedAt = clock.now();
    },
  });
  c.ended = c.elector.run(stop.signal);
  return c;
}

describe('LeaderElector', () => {
  it('acquires a free Lease and renews it every retry period', async () => {
    const clock = new FakeClock(0);
    const store = new MemoryLeaseStore();
    const a = candidate(clock, store, 'a');
    await clock.flush();
    expect(a.elector.state).toBe('leading');
    expect(a.startedAt).toBe(0);
    expect(store.record).toMatchObject({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      renewTime: 0,
    });
    await clock.advance(2_000);
    expect(store.record?.renewTime).toBe(2_000);
    a.stop.abort();
    expect(await a.ended).toBe('stopped');
  });

  it('keeps a standby waiting, and it takes over one lease duration after the leader stops renewing', async () => {
    const clock = new FakeClock(0);
    const store = new MemoryLeaseStore();
    const a = candidate(clock, store, 'a', { releaseOnCancel: false });
    await clock.flush();
    const b = candidate(clock, store, 'b');
    await clock.flush();
    expect(b.elector.state).toBe('standby');
    expect(b.elector.leader).toBe('a');
    await clock.advance(20_000);
    expect(b.startedAt).toBeUndefined();

    // The leader dies without releasing: its last renewal was at 20 s.
    const lastRenew = store.record?.renewTime ?? 0;
    a.stop.abort();
    await a.ended;
    await clock.advance(30_000);
    expect(b.elector.state).toBe('leading');
    expect(store.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    // Never before the lease ran out; within one retry period after it did.
    expect(b.startedAt).toBeGreaterThanOrEqual(lastRenew + 15_000);
    expect(b.startedAt).toBeLessThanOrEqual(lastRenew + 15_000 + 2_000);
    b.stop.abort();
    await b.ended;
  });

  it('releases the Lease on stop so a standby takes over at its next attempt', async () => {
    const clock = new FakeClock(0);
    const store = new MemoryLeaseStore();
    const a = candidate(clock, store, 'a');
    await clock.flush();
    const b = candidate(clock, store, 'b');
    await clock.advance(5_000);
    const stoppedAt = clock.now();
    a.stop.abort();
    expect(await a.ended).toBe('stopped');
    expect(store.record?.holderIdentity).toBe('');
    await clock.advance(2_000);
    expect(b.elector.isLeader).toBe(true);
    expect((b.startedAt ?? Number.POSITIVE_INFINITY) - stoppedAt).toBeLessThanOrEqual(2_000);
    b.stop.abort();
    await b.ended;
  });

  it('stops work when it cannot renew within the renew deadline', async () => {
    const clock = new FakeClock(0);
    const store = new MemoryLeaseStore();
    const a = candidate(clock, store, 'a');
    await clock.advance(4_000);
    const lastRenew = store.record?.renewTime ?? 0;
    store.mode = 'fail';
    await clock.advance(9_999);
    expect(a.workSignal?.aborted).toBe(false);
    await clock.advance(1);
    expect(a.workSignal?.aborted).toBe(true);
    expect(await a.ended).toBe('lost');
    expect(a.stoppedAt).toBe(lastRenew + 10_000);
    // ...which is before any standby could take over (last renewal + lease duration).
    expect(a.stoppedAt).toBeLessThan(lastRenew + 15_000);
  });

  it('stops work at the deadline even when the API server stops answering', async () => {
    const clock = new FakeClock(0);
    const store = new MemoryLeaseStore();
    const a = candidate(clock, store, 'a');
    await clock.flush();
    store.mode = 'hang';
    await clock.advance(10_000);
    expect(a.workSignal?.aborted).toBe(true);
    expect(await a.ended).toBe('lost');
  });

  it('stops work when another holder took the Lease', async () => {
    const clock = new FakeClock(0);
    const store = new MemoryLeaseStore();
    const a = candidate(clock, store, 'a');
    await clock.flush();
    store.record = {
      holderIdentity: 'intruder',
      leaseDurationSeconds: 15,
      acquireTime: 0,
      renewTime: 0,
      leaseTransitions: 1,
    };
    store.version++;
    await clock.advance(10_000);
    expect(a.workSignal?.aborted).toBe(true);
    expect(await a.ended).toBe('lost');
    expect(store.record.holderIdentity).toBe('intruder');
  });
});
