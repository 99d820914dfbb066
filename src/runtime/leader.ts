import { type Cancel, type Clock, sleep } from './clock.ts';
import { describeError } from './errors.ts';
import { isApiError } from './kube.ts';
import type { CoordinationApi } from './kubeapi.ts';
import type { KubeClient } from './kubeclient.ts';
import type { Logger } from './logger.ts';

/** The election state kept in the Lease's spec. Times are epoch milliseconds. */
export interface LeaseRecord {
  /** '' when nobody holds the Lease (it was released). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number;
  renewTime: number;
  leaseTransitions: number;
}

/** Storage of one Lease with optimistic concurrency: `update` fails when `version` is stale. */
export interface LeaseStore {
  /** `undefined` when the Lease does not exist. */
  get(): Promise<{ record: LeaseRecord; version: string } | undefined>;
  /** Throws when it already exists. */
  create(record: LeaseRecord): Promise<string>;
  /** Throws on a conflict (someone else wrote since `version`). */
  update(record: LeaseRecord, version: string): Promise<string>;
  /** `namespace/name`, for logs. */
  readonly description: string;
}

function toMillis(t: unknown): number {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? 0 : ms;
  }
  return 0;
}

/**
 * A `MicroTime` as the API server writes it (RFC 3339, six fractional digits): the body is plain
 * JSON, so the Lease's times are sent as these strings, and the V1Lease type's `Date` is a lie
 * the cast below admits.
 */
export function microTime(ms: number): Date {
  const iso = new Date(ms).toISOString(); // 2026-11-27T05:00:00.123Z
  return `${iso.slice(0, -1)}000Z` as unknown as Date;
}

/** A `coordination.k8s.io/v1` Lease on the API server. */
export class KubeLeaseStore implements LeaseStore {
  readonly #api: Pick<
    CoordinationApi,
    'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'
  >;
  readonly #namespace: string;
  readonly #name: string;

  constructor(kube: Pick<KubeClient, 'coordination'>, namespace: string, name: string) {
    this.#api = kube.coordination;
    this.#namespace = namespace;
    this.#name = name;
  }

  get description(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  async get(): Promise<{ record: LeaseRecord; version: string } | undefined> {
    try {
      const lease = await this.#api.readNamespacedLease({
        name: this.#name,
        namespace: this.#namespace,
      });
      const s = lease.spec ?? {};
      return {
        version: lease.metadata?.resourceVersion ?? '',
        record: {
          holderIdentity: s.holderIdentity ?? '',
          leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
          acquireTime: toMillis(s.acquireTime),
          renewTime: toMillis(s.renewTime),
          leaseTransitions: s.leaseTransitions ?? 0,
        },
      };
    } catch (err) {
      if (isApiError(err, 404)) return undefined;
      throw err;
    }
  }

  async create(record: LeaseRecord): Promise<string> {
    const lease = await this.#api.createNamespacedLease({
      namespace: this.#namespace,
      body: {
        metadata: { name: this.#name, namespace: this.#namespace },
        spec: this.#spec(record),
      },
    });
    return lease.metadata?.resourceVersion ?? '';
  }

  async update(record: LeaseRecord, version: string): Promise<string> {
    const lease = await this.#api.replaceNamespacedLease({
      name: this.#name,
      namespace: this.#namespace,
      body: {
        metadata: { name: this.#name, namespace: this.#namespace, resourceVersion: version },
        spec: this.#spec(record),
      },
    });
    return lease.metadata?.resourceVersion ?? '';
  }

  #spec(r: LeaseRecord) {
    return {
      holderIdentity: r.holderIdentity === '' ? undefined : r.holderIdentity,
      leaseDurationSeconds: r.leaseDurationSeconds,
      acquireTime: microTime(r.acquireTime),
      renewTime: microTime(r.renewTime),
      leaseTransitions: r.leaseTransitions,
    };
  }
}

export type ElectionState = 'starting' | 'standby' | 'leading' | 'stopped';

export interface LeaderElectorOptions {
  store: LeaseStore;
  /** Unique per process: a pod name plus a random suffix. */
  identity: string;
  clock: Clock;
  log: Logger;
  /** How long a Lease is valid after its last renewal (controller-runtime: 15 s). */
  leaseDurationMs?: number;
  /** The leader gives up when it could not renew for this long (10 s). */
  renewDeadlineMs?: number;
  /** Interval between attempts to acquire or renew (2 s). */
  retryPeriodMs?: number;
  /** Clear holderIdentity when stopped while leading, so a standby takes over at once. */
  releaseOnCancel?: boolean;
  /** Work starts here; `signal` aborts the moment leadership is lost or the elector stops. */
  onStartedLeading(signal: AbortSignal): void;
  /** Called once after leading ends (lost, or stopped). */
  onStoppedLeading?(): void;
  /** Called when a different holder is observed. */
  onNewLeader?(identity: string): void;
  random?: () => number;
}

/** `promise`, or `fallback` as soon as `signal` aborts (the promise is left to settle alone). */
function orWhenAborted<T>(promise: Promise<T>, signal: AbortSignal, fallback: T): Promise<T> {
  if (signal.aborted) return Promise.resolve(fallback);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(fallback);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Why `run` returned. */
export type ElectionEnd = 'stopped' | 'lost';

/**
 * Lease-based leader election with client-go's rules: a Lease held by someone else is taken
 * only after its duration has passed since this instance last saw it change (local time, so
 * clocks need not agree); the leader renews every retry period and stops leading when it
 * could not renew within the renew deadline, before any standby may take over.
 */
export class LeaderElector {
  readonly #o: Required<Omit<LeaderElectorOptions, 'onStoppedLeading' | 'onNewLeader'>> &
    Pick<LeaderElectorOptions, 'onStoppedLeading' | 'onNewLeader'>;
  #state: ElectionState = 'starting';
  #observedVersion = '';
  #observedRecord: LeaseRecord | undefined;
  #observedAt = 0;
  #lastLeader = '';

  constructor(options: LeaderElectorOptions) {
    this.#o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      releaseOnCancel: true,
      random: Math.random,
      ...options,
    };
    if (this.#o.renewDeadlineMs >= this.#o.leaseDurationMs) {
      throw new Error('leader election: renew deadline must be shorter than the lease duration');
    }
  }

  get state(): ElectionState {
    return this.#state;
  }

  get identity(): string {
    return this.#o.identity;
  }

  get isLeader(): boolean {
    return this.#state === 'leading';
  }

  /** The holder seen last ('' when none). */
  get leader(): string {
    return this.#lastLeader;
  }

  /**
   * Campaigns until elected, leads until the Lease is lost or `signal` aborts, then returns.
   * When stopped while leading (and `releaseOnCancel`), the Lease is released first.
   */
  async run(signal: AbortSignal): Promise<ElectionEnd> {
    const log = this.#o.log;
    log.info(
      { lease: this.#o.store.description, identity: this.#o.identity },
      'campaigning for leadership',
    );
    const acquired = await this.#acquire(signal);
    if (!acquired) {
      this.#state = 'stopped';
      return 'stopped';
    }
    this.#state = 'leading';
    log.info({ lease: this.#o.store.description }, 'became the leader');
    const leading = new AbortController();
    try {
      this.#o.onStartedLeading(leading.signal);
    } catch (err) {
      log.error({ err: describeError(err) }, 'onStartedLeading threw');
    }
    const end = await this.#renew(signal, leading);
    leading.abort(new Error(end === 'lost' ? 'leadership lost' : 'leader election stopped'));
    if (end === 'stopped' && this.#o.releaseOnCancel) await this.#release();
    this.#state = 'stopped';
    if (end === 'lost') log.error({ lease: this.#o.store.description }, 'leadership lost');
    else log.info({ lease: this.#o.store.description }, 'stopped leading');
    try {
      this.#o.onStoppedLeading?.();
    } catch (err) {
      log.error({ err: describeError(err) }, 'onStoppedLeading threw');
    }
    return end;
  }

  async #acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (await orWhenAborted(this.#tryAcquireOrRenew(), signal, false)) {
        if (!signal.aborted) return true;
        await this.#release();
        return false;
      }
      if (this.#state === 'starting' && this.#observedRecord) this.#state = 'standby';
      // Jitter (client-go's factor 1.2) keeps standbys from hitting the API in lockstep.
      const wait = this.#o.retryPeriodMs * (1 + 1.2 * this.#o.random());
      await sleep(this.#o.clock, wait, signal).catch(() => {});
    }
    return false;
  }

  /** Renews until the deadline passes without a renewal ('lost') or `signal` aborts. */
  async #renew(signal: AbortSignal, leading: AbortController): Promise<ElectionEnd> {
    const lost = new AbortController();
    let cancelDeadline: Cancel = () => {};
    const armDeadline = () => {
      cancelDeadline();
      // A timer, not a check after each attempt: a request that hangs must not keep us leading.
      cancelDeadline = this.#o.clock.setTimeout(
        () => lost.abort(new Error('renew deadline passed')),
        this.#o.renewDeadlineMs,
      );
    };
    const stop = AbortSignal.any([signal, lost.signal]);
    // Work stops the moment the deadline passes, before a standby's lease duration runs out.
    lost.signal.addEventListener('abort', () => leading.abort(lost.signal.reason), { once: true });
    armDeadline();
    try {
      while (!stop.aborted) {
        await sleep(this.#o.clock, this.#o.retryPeriodMs, stop).catch(() => {});
        if (stop.aborted) break;
        const renewed = await orWhenAborted(this.#tryAcquireOrRenew(), stop, false);
        if (stop.aborted) break;
        if (renewed) armDeadline();
        else this.#o.log.warn({ lease: this.#o.store.description }, 'failed to renew the lease');
      }
    } finally {
      cancelDeadline();
    }
    return lost.signal.aborted ? 'lost' : 'stopped';
  }

  /** One attempt; true when this instance holds the Lease afterwards. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const { store, identity, clock } = this.#o;
    const now = clock.now();
    const mine: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#o.leaseDurationMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    try {
      const current = await store.get();
      if (!current) {
        const version = await store.create(mine);
        this.#observe(mine, version, clock.now());
        return true;
      }
      const { record, version } = current;
      if (version !== this.#observedVersion) this.#observe(record, version, now);
      const heldByOther = record.holderIdentity !== '' && record.holderIdentity !== identity;
      if (heldByOther && this.#observedAt + record.leaseDurationSeconds * 1000 > now) return false;
      if (record.holderIdentity === identity) {
        mine.acquireTime = record.acquireTime;
        mine.leaseTransitions = record.leaseTransitions;
      } else {
        mine.leaseTransitions = record.leaseTransitions + 1;
      }
      const newVersion = await store.update(mine, version);
      this.#observe(mine, newVersion, clock.now());
      return true;
    } catch (err) {
      // A conflict means someone else wrote first; anything else is retried all the same.
      const level = isApiError(err, 409) ? 'debug' : 'warn';
      this.#o.log[level]({ err: describeError(err) }, 'lease acquire/renew attempt failed');
      return false;
    }
  }

  #observe(record: LeaseRecord, version: string, at: number): void {
    this.#observedRecord = record;
    this.#observedVersion = version;
    this.#observedAt = at;
    if (record.holderIdentity !== this.#lastLeader) {
      this.#lastLeader = record.holderIdentity;
      if (record.holderIdentity !== '' && record.holderIdentity !== this.#o.identity) {
        this.#o.log.info({ leader: record.holderIdentity }, 'observed a new leader');
        this.#o.onNewLeader?.(record.holderIdentity);
      }
    }
  }

  /** Clears holderIdentity if this instance still holds the Lease. */
  async #release(): Promise<void> {
    try {
      const current = await this.#o.store.get();
      if (!current || current.record.holderIdentity !== this.#o.identity) return;
      const now = this.#o.clock.now();
      await this.#o.store.update(
        {
          ...current.record,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
        },
        current.version,
      );
      this.#o.log.info({ lease: this.#o.store.description }, 'released the lease');
    } catch (err) {
      this.#o.log.warn({ err: describeError(err) }, 'could not release the lease');
    }
  }
}
