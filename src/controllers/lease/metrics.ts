// The lease controller's metrics, on the operator's registry (served at /metrics).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../runtime/metrics.ts';

export interface LeaseMetrics {
  /** Credentials read, by why (Initial, RenewDue, ...) and result (success, error). */
  leases: Counter<'trigger' | 'result'>;
  revocations: Counter<'route' | 'result'>;
  /** Leases whose credential expired before it was replaced. */
  expired: Counter;
  /** Reads that may have minted a credential that was never recorded (an operator crash). */
  unrecorded: Counter;
  /** How long a credential still had to live when it was replaced. */
  remainingAtReplacement: Histogram;
  /** The expiry of each lease's current credential, for the gauges. */
  track(key: string, expiresAt: number | undefined): void;
}

export function createLeaseMetrics(registry: Registry, now: () => number): LeaseMetrics {
  const p = `${METRIC_PREFIX}lease_`;
  const expiries = new Map<string, number>();
  new Gauge({
    name: `${p}active`,
    help: 'IAMCredentialLeases whose current credential has not expired.',
    registers: [registry],
    collect() {
      const t = now();
      let n = 0;
      for (const at of expiries.values()) if (at > t) n++;
      this.set(n);
    },
  });
  new Gauge({
    name: `${p}nearest_expiry_seconds`,
    help: 'Seconds until the soonest expiry of any current credential (negative: one expired).',
    registers: [registry],
    collect() {
      if (expiries.size === 0) {
        this.reset();
        return;
      }
      this.set((Math.min(...expiries.values()) - now()) / 1000);
    },
  });
  return {
    leases: new Counter({
      name: `${p}credentials_total`,
      help: 'Credentials read for leases, by trigger (Initial, RenewDue, Expired, SourceChanged, TargetSecretLost) and result.',
      labelNames: ['trigger', 'result'],
      registers: [registry],
    }),
    revocations: new Counter({
      name: `${p}revocations_total`,
      help: 'Finished revocations by route (serviceId, secretVersionData, vaultLease, none) and result (Revoked, AlreadyGone, Expired, Abandoned, Skipped, Failed).',
      labelNames: ['route', 'result'],
      registers: [registry],
    }),
    expired: new Counter({
      name: `${p}expired_total`,
      help: 'Leases whose credential expired before a new one could be leased.',
      registers: [registry],
    }),
    unrecorded: new Counter({
      name: `${p}unrecorded_credentials_total`,
      help: 'Credential reads that may have minted a key that was never recorded (operator stopped mid-lease); such keys expire at their TTL.',
      registers: [registry],
    }),
    remainingAtReplacement: new Histogram({
      name: `${p}remaining_lifetime_at_replacement_seconds`,
      help: 'How long a credential still had to live when a new one replaced it.',
      buckets: [0, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600],
      registers: [registry],
    }),
    track(key, expiresAt) {
      if (expiresAt === undefined) expiries.delete(key);
      else expiries.set(key, expiresAt);
    },
  };
}
