// What the lease controller tells people: one Event (and metric) per thing that happened to a
// credential. Messages name service IDs, Secrets and times, never a key.
import type { CurrentLease, IAMCredentialLeaseStatus, PendingRevocation } from '../../api/index.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { EventSubject, EventType } from '../shared/events.ts';
import { EVENT_REASONS } from '../shared/reasons.ts';
import type { EventSink } from '../shared/status.ts';
import type { LeaseTrigger, Recorded } from './decide.ts';
import type { LeaseMetrics } from './metrics.ts';
import type { PassResult } from './revocation.ts';

export interface LeaseReporterOptions {
  events: EventSink;
  metrics: LeaseMetrics;
  log: Logger;
  subject: EventSubject;
  /** The last expiry reported per lease (shared across reconciles), so each counts once. */
  expiries: Map<string, string>;
  /** `namespace/name` of the lease. */
  id: string;
}

export class LeaseReporter {
  readonly #o: LeaseReporterOptions;

  constructor(options: LeaseReporterOptions) {
    this.#o = options;
  }

  event(type: EventType, reason: string, message: string): void {
    this.#o.events.record(this.#o.subject, type, reason, message);
  }

  /** A credential that may exist unrecorded (an operator stop mid-lease, a lost answer). */
  unrecorded(message: string): void {
    this.#o.metrics.unrecorded.inc();
    this.#o.log.warn({ message }, 'possibly unrecorded credential');
    this.event('Warning', EVENT_REASONS.UnrecordedCredential, message);
  }

  /** An expired credential (Event, metric) once, whichever path notices it first. */
  expired(previous: CurrentLease): void {
    const key = `${previous.serviceId}|${previous.expiresAt}`;
    if (this.#o.expiries.get(this.#o.id) === key) return;
    this.#o.expiries.set(this.#o.id, key);
    this.#o.metrics.expired.inc();
    this.event(
      'Warning',
      EVENT_REASONS.LeaseExpired,
      `credential ${previous.serviceId} expired at ${previous.expiresAt} before it was replaced; leasing a new one`,
    );
  }

  /** What a successful read did, by trigger. */
  leased(trigger: LeaseTrigger, recorded: Recorded, secret: string): void {
    const current = recorded.status.current;
    if (!current) return;
    const old = recorded.replaced;
    const pending =
      old &&
      recorded.status.pendingRevocations?.find(
        (p) => p.serviceId === old.serviceId && p.expiresAt === old.expiresAt,
      );
    const fate = pending ? `; ${old.serviceId} is revoked at ${pending.revokeAfter}` : '';
    if (recorded.sameKey) {
      if (trigger === 'TargetSecretLost') {
        this.event(
          'Warning',
          EVENT_REASONS.TargetSecretLost,
          `Secret ${secret} no longer held the credential; rewrote it with the same (reused) key ${current.serviceId}`,
        );
      }
      return;
    }
    switch (trigger) {
      case 'Initial':
        this.event(
          'Normal',
          EVENT_REASONS.Leased,
          `leased credential ${current.serviceId} into Secret ${secret}, valid until ${current.expiresAt}`,
        );
        return;
      case 'RenewDue':
      case 'Expired':
        this.event(
          'Normal',
          EVENT_REASONS.Renewed,
          `replaced credential ${old?.serviceId ?? '-'} with ${current.serviceId}, valid until ${current.expiresAt}${fate}`,
        );
        return;
      case 'SourceChanged':
        this.event(
          'Normal',
          EVENT_REASONS.SourceChanged,
          `the credential source changed; leased ${current.serviceId}${fate}`,
        );
        return;
      case 'TargetSecretLost':
        this.event(
          'Warning',
          EVENT_REASONS.TargetSecretLost,
          `Secret ${secret} was deleted or no longer held the credential; leased ${current.serviceId}${fate}`,
        );
        return;
    }
  }

  /** A revocation attempt that finished or failed. */
  revocation(cred: PendingRevocation, result: Exclude<PassResult, { kind: 'waiting' }>): void {
    const { metrics } = this.#o;
    if (result.kind === 'failed') {
      metrics.revocations.inc({ route: result.route, result: 'Failed' });
      this.event(
        'Warning',
        EVENT_REASONS.RevocationFailed,
        `revoking credential ${cred.serviceId} (${result.route}) failed (attempt ${cred.attempts + 1}): ${result.message}; retrying`,
      );
      return;
    }
    const { entry } = result;
    metrics.revocations.inc({ route: entry.route, result: entry.result });
    switch (entry.result) {
      case 'Revoked':
      case 'AlreadyGone':
        this.event(
          'Normal',
          EVENT_REASONS.Revoked,
          `revoked credential ${cred.serviceId} (${entry.route}${entry.result === 'AlreadyGone' ? ', already gone' : ''})`,
        );
        return;
      case 'Skipped':
        this.event(
          'Normal',
          EVENT_REASONS.RevocationSkipped,
          `credential ${cred.serviceId} not revoked: ${entry.message ?? ''}`,
        );
        return;
      case 'Expired':
        if (cred.lastError) {
          this.event(
            'Warning',
            EVENT_REASONS.RevocationFailed,
            `credential ${cred.serviceId} expired at ${cred.expiresAt} before it could be revoked (${cred.lastError})`,
          );
        }
        return;
      case 'Abandoned':
        this.event(
          'Warning',
          EVENT_REASONS.RevocationAbandoned,
          `gave up revoking credential ${cred.serviceId} (${cred.lastError ?? 'no attempt succeeded'}); it stays valid until ${cred.expiresAt}`,
        );
        return;
    }
  }

  /** Credentials `retire` finished at once (expired already, or a reused key). */
  retired(
    credential: CurrentLease,
    before: IAMCredentialLeaseStatus,
    after: IAMCredentialLeaseStatus,
  ): void {
    const known = new Set(before.revoked ?? []);
    for (const entry of after.revoked ?? []) {
      if (known.has(entry) || entry.serviceId !== credential.serviceId) continue;
      const cred: PendingRevocation = { ...credential, revokeAfter: entry.time, attempts: 0 };
      this.revocation(cred, { kind: 'finished', entry });
    }
  }
}
