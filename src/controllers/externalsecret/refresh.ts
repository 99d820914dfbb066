// When an ExternalSecret is read from Secrets Manager again. Every resource gets a fixed
// offset derived from its UID, so thousands created (or restarted) together spread out instead
// of refreshing in the same second, and the spread survives restarts because it is computed,
// not remembered.
import { nextRun, type RefreshPlan } from '../../api/index.ts';

/** Jitter is at most this fraction of the interval... */
export const JITTER_FRACTION = 0.1;
/** ...and never more than this. */
export const MAX_JITTER_MS = 5 * 60_000;

/**
 * A stable number in [0, 1) for a resource (its UID), the same in every process: FNV-1a over
 * the UTF-16 code units, then murmur3's finaliser so that UIDs differing in one character land
 * far apart. Computed at every pass over a resource, so it is a plain hash, not a digest.
 */
export function spreadOf(uid: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < uid.length; i++) {
    h ^= uid.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/**
 * When the next refresh is due after a refresh at `lastMs`, or undefined for "sync once".
 * Intervals refresh early by up to 10% (at most 5 minutes), never late; schedules fire late by
 * up to 10% of their period (at most 5 minutes), so a cron shared by many resources does not
 * make them all read at the same instant.
 */
export function nextRefreshAt(plan: RefreshPlan, lastMs: number, uid: string): number | undefined {
  const spread = spreadOf(uid);
  switch (plan.kind) {
    case 'once':
      return undefined;
    case 'interval': {
      const jitter = Math.min(plan.intervalMs * JITTER_FRACTION, MAX_JITTER_MS) * spread;
      return Math.round(lastMs + plan.intervalMs - jitter);
    }
    case 'schedule': {
      const first = nextRun(plan.schedule, new Date(lastMs), { seed: uid }).getTime();
      const second = nextRun(plan.schedule, new Date(first), { seed: uid }).getTime();
      const jitter = Math.min((second - first) * JITTER_FRACTION, MAX_JITTER_MS) * spread;
      return Math.round(first + jitter);
    }
  }
}

/**
 * Where a refresh that is already overdue (the operator was down, or just started) goes: soon,
 * but spread by the same per-resource offset over up to a minute, so a restart after a long
 * outage does not send every resource to Secrets Manager at once.
 */
export function overdueDelayMs(uid: string, plan: RefreshPlan): number {
  const window =
    plan.kind === 'interval' ? Math.min(plan.intervalMs * JITTER_FRACTION, 60_000) : 60_000;
  return Math.round(window * spreadOf(uid));
}

/**
 * How old a value a refresh may take from the store's shared view: the shortest time between
 * two refreshes of one resource (its period less the largest jitter). A resource's own last read
 * is always older than that at its next refresh, so it reads again, while other resources that
 * reference the same secret and refresh within that window share the read.
 */
export function maxValueAgeMs(plan: RefreshPlan, now: number, uid: string): number {
  switch (plan.kind) {
    case 'once':
      return Number.POSITIVE_INFINITY;
    case 'interval':
      return plan.intervalMs - Math.min(plan.intervalMs * JITTER_FRACTION, MAX_JITTER_MS);
    case 'schedule': {
      const first = nextRun(plan.schedule, new Date(now), { seed: uid }).getTime();
      const period = nextRun(plan.schedule, new Date(first), { seed: uid }).getTime() - first;
      return period - Math.min(period * JITTER_FRACTION, MAX_JITTER_MS);
    }
  }
}
