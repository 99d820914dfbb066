import { describe, expect, it } from 'vitest';
import { MAX_JITTER_MS, nextRefreshAt, overdueDelayMs, spreadOf } from './refresh.ts';

const HOUR = 3_600_000;
const uids = Array.from({ length: 1000 }, (_, i) => `uid-${i}`);

describe('refresh jitter', () => {
  it('is stable per resource and spread across resources', () => {
    expect(spreadOf('abc')).toBe(spreadOf('abc'));
    const spreads = uids.map(spreadOf);
    expect(Math.min(...spreads)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...spreads)).toBeLessThan(1);
    // Ten buckets of a thousand resources: none empty, none crowded.
    const buckets = new Array(10).fill(0);
    for (const s of spreads) buckets[Math.floor(s * 10)]++;
    expect(Math.min(...buckets)).toBeGreaterThan(60);
    expect(Math.max(...buckets)).toBeLessThan(140);
  });

  it('refreshes an interval early by at most 10%, never late', () => {
    const last = Date.UTC(2026, 0, 1);
    const plan = { kind: 'interval' as const, intervalMs: 10 * 60_000 };
    const times = uids.map((uid) => nextRefreshAt(plan, last, uid) as number);
    for (const t of times) {
      expect(t).toBeLessThanOrEqual(last + plan.intervalMs);
      expect(t).toBeGreaterThan(last + plan.intervalMs * 0.9);
    }
    // A thousand resources synced in the same second refresh over a minute, not in a second.
    const seconds = new Set(times.map((t) => Math.floor(t / 1000)));
    expect(seconds.size).toBeGreaterThan(50);
  });

  it('caps the jitter of long intervals at five minutes', () => {
    const last = 0;
    const plan = { kind: 'interval' as const, intervalMs: 24 * HOUR };
    for (const uid of uids.slice(0, 50)) {
      const t = nextRefreshAt(plan, last, uid) as number;
      expect(last + plan.intervalMs - t).toBeLessThanOrEqual(MAX_JITTER_MS);
    }
  });

  it('never refreshes a sync-once resource', () => {
    expect(nextRefreshAt({ kind: 'once' }, 0, 'x')).toBeUndefined();
  });

  it('fires a schedule at or after its cron time, within 10% of its period', () => {
    const last = Date.UTC(2026, 0, 1, 0, 30);
    const plan = { kind: 'schedule' as const, schedule: '0 * * * *' };
    for (const uid of uids.slice(0, 100)) {
      const t = nextRefreshAt(plan, last, uid) as number;
      expect(t).toBeGreaterThanOrEqual(Date.UTC(2026, 0, 1, 1, 0));
      expect(t).toBeLessThan(Date.UTC(2026, 0, 1, 1, 0) + 6 * 60_000);
    }
  });

  it('spreads overdue refreshes after a restart over up to a minute', () => {
    const plan = { kind: 'interval' as const, intervalMs: HOUR };
    const delays = uids.map((uid) => overdueDelayMs(uid, plan));
    expect(Math.max(...delays)).toBeLessThanOrEqual(60_000);
    expect(new Set(delays.map((d) => Math.floor(d / 1000))).size).toBeGreaterThan(50);
  });
});
