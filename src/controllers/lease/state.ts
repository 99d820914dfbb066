// The state of one reconcile of one IAMCredentialLease, handed to each step (run.ts, mint.ts,
// secret.ts): the lease as read, its status as the steps change it, and the status as last
// written, so each write sends only a change.
import type { Condition, IAMCredentialLease, IAMCredentialLeaseStatus } from '../../api/index.ts';
import type { Logger } from '../../runtime/logger.ts';
import { withReady } from './conditions.ts';
import { ms } from './decide.ts';
import type { LeaseReconcilerOptions } from './options.ts';
import { LeaseReporter } from './report.ts';
import type { StoreAccess } from './revocation.ts';

export type UsableStore = StoreAccess & { ok: true };

/** Consecutive failed reads of a lease's credential, the last error and when to try again. */
export interface ReadFailure {
  count: number;
  error: unknown;
  retryAt: number;
}

/** What outlives one reconcile, kept by the reconciler. */
export interface SharedState {
  failures: Map<string, ReadFailure>;
  /** The last usable client per store, for deletions after the store itself went away. */
  lastStores: Map<string, UsableStore>;
  expiries: Map<string, string>;
}

export class LeaseState {
  readonly o: LeaseReconcilerOptions;
  readonly lease: IAMCredentialLease;
  readonly log: Logger;
  readonly shared: SharedState;
  /** Aborts when the operator stops or loses leadership: nothing is written after it fires. */
  readonly signal: AbortSignal;
  readonly ns: string;
  readonly name: string;
  /** `namespace/name`. */
  readonly id: string;
  readonly uid: string;
  readonly report: LeaseReporter;
  /** The status the steps build. */
  status: IAMCredentialLeaseStatus;
  /** Of the object as last read or written, to guard the finalizer update. */
  resourceVersion: string | undefined;
  /** The status as last written (or read). */
  #written: IAMCredentialLeaseStatus;

  constructor(
    o: LeaseReconcilerOptions,
    lease: IAMCredentialLease,
    log: Logger,
    shared: SharedState,
    signal: AbortSignal,
  ) {
    this.o = o;
    this.lease = lease;
    this.log = log;
    this.shared = shared;
    this.signal = signal;
    this.ns = lease.metadata.namespace ?? '';
    this.name = lease.metadata.name;
    this.id = `${this.ns}/${this.name}`;
    this.uid = lease.metadata.uid ?? '';
    this.report = new LeaseReporter({
      events: o.events,
      metrics: o.metrics,
      log,
      id: this.id,
      expiries: shared.expiries,
      subject: {
        apiVersion: lease.apiVersion,
        kind: lease.kind,
        metadata: {
          name: this.name,
          namespace: this.ns,
          uid: this.uid,
          ...(lease.metadata.resourceVersion
            ? { resourceVersion: lease.metadata.resourceVersion }
            : {}),
        },
      },
    });
    this.#written = lease.status ?? {};
    this.resourceVersion = lease.metadata.resourceVersion;
    this.status = structuredClone(this.#written);
  }

  now(): number {
    return this.o.clock.now();
  }

  /**
   * Writes the status when it changed since the last write: the whole status (it is the record),
   * and only if the lease is still at the version this reconcile read or last wrote. A 409 means
   * another writer (a second replica that also believes it leads) got there first; the
   * reconcile stops and starts over from what the API server has.
   */
  async write(): Promise<void> {
    const { resourceVersion } = await this.o.status.write(
      {
        metadata: {
          name: this.name,
          namespace: this.ns,
          uid: this.uid,
          ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}),
        },
        status: this.#written,
      },
      this.status as Record<string, unknown>,
      this.signal,
    );
    this.#written = structuredClone(this.status);
    if (resourceVersion) this.resourceVersion = resourceVersion;
  }

  setReady(status: Condition['status'], reason: string, message: string): void {
    this.status = withReady(this.status, this.lease.metadata.generation, this.now(), {
      status,
      reason,
      message,
    });
  }

  /** A `minting` marker left by a stopped operator: a credential may exist that nobody holds. */
  recoverMinting(): void {
    const marker = this.status.minting;
    if (!marker) return;
    this.report.unrecorded(
      `a credential read from ${marker.store} (secret ${marker.secretId}) at ${marker.startedAt} ` +
        'may have been minted but was never recorded (the operator stopped in between); it ' +
        'cannot be found to revoke and expires at the TTL of the secret',
    );
    const { minting: _m, ...rest } = this.status;
    this.status = rest;
  }

  currentExpiry(): number | undefined {
    const current = this.status.current;
    return current ? ms(current.expiresAt) : undefined;
  }

  /** The lease as the subject of Events. */
  subject() {
    return {
      apiVersion: this.lease.apiVersion,
      kind: this.lease.kind,
      metadata: { name: this.name, namespace: this.ns, uid: this.uid },
    };
  }
}
