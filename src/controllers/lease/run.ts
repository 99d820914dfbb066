// One reconcile of one IAMCredentialLease: its status while the steps run. The order of writes
// is the crash-safety argument; see reconciler.ts.
import type { V1Secret } from '@kubernetes/client-node';
import {
  type Condition,
  computeRenewAt,
  type IAMCredentialLease,
  type IAMCredentialLeaseStatus,
  LEASE_REASONS,
  leaseTargetName,
  type PendingRevocation,
} from '../../api/index.ts';
import { describeError } from '../../runtime/errors.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Result } from '../../runtime/reconciler.ts';
import {
  type IamCredentials,
  isSecretsManagerError,
  isTimeout,
  type SecretsManagerClient,
} from '../../secretsmanager/index.ts';
import { FINALIZERS } from '../shared/constants.ts';
import { hasFinalizer, removeFinalizer } from '../shared/finalizers.ts';
import { EVENT_REASONS } from '../shared/reasons.ts';
import { restartWorkloads } from '../shared/rollout.ts';
import {
  decodeData,
  deleteSecretIfOwned,
  hashData,
  readSecret,
  secretDataHash,
} from '../shared/secrets.ts';
import { targetOwnership, writeTarget } from '../shared/target.ts';
import { parseStoreRefLabel, storeId, storeKeyFor, storeRefLabel } from '../store/key.ts';
import type { ResolveResult } from '../store/registry.ts';
import {
  errorText,
  leaseConditions,
  MIN_REQUEUE_MS,
  requeueAfterMs,
  withReady,
  withRevokedCondition,
} from './conditions.ts';
import {
  type LeaseTrigger,
  leaseTrigger,
  ms,
  type Recorded,
  recordCredential,
  renewalRetryMs,
  retire,
  rfc3339,
} from './decide.ts';
import type { LeaseReconcilerOptions } from './reconciler.ts';
import { LeaseReporter } from './report.ts';
import {
  chooseRoute,
  executeRevocation,
  type RevokePendingResult,
  revokePending,
  routeContextFor,
  type StoreAccess,
} from './revocation.ts';
import { credentialRef, describeCredentialSource, sourceHash } from './source.ts';

/** How long deletion keeps retrying failed revocations before it lets the resource go. */
export const DEFAULT_REVOCATION_TIMEOUT_MS = 5 * 60_000;
const STORE_PENDING_RETRY_MS = 5_000;
const CONFLICT_RETRY_MS = 30_000;

type Status = IAMCredentialLeaseStatus;
type UsableStore = StoreAccess & { ok: true };

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

export class LeaseRun {
  readonly #o: LeaseReconcilerOptions;
  readonly #lease: IAMCredentialLease;
  readonly #log: Logger;
  readonly #shared: SharedState;
  readonly #signal: AbortSignal;
  readonly #ns: string;
  readonly #name: string;
  readonly #id: string;
  readonly #uid: string;
  readonly #report: LeaseReporter;
  /** The status as last written (or read), to skip writes that change nothing. */
  #written: Status;
  #status: Status;
  /** Of the object as last read or written, to guard the finalizer update. */
  #resourceVersion: string | undefined;

  constructor(
    o: LeaseReconcilerOptions,
    lease: IAMCredentialLease,
    log: Logger,
    shared: SharedState,
    signal: AbortSignal,
  ) {
    this.#o = o;
    this.#lease = lease;
    this.#log = log;
    this.#shared = shared;
    this.#signal = signal;
    this.#ns = lease.metadata.namespace ?? '';
    this.#name = lease.metadata.name;
    this.#id = `${this.#ns}/${this.#name}`;
    this.#uid = lease.metadata.uid ?? '';
    this.#report = new LeaseReporter({
      events: o.events,
      metrics: o.metrics,
      log,
      id: this.#id,
      expiries: shared.expiries,
      subject: {
        apiVersion: lease.apiVersion,
        kind: lease.kind,
        metadata: {
          name: this.#name,
          namespace: this.#ns,
          uid: this.#uid,
          ...(lease.metadata.resourceVersion
            ? { resourceVersion: lease.metadata.resourceVersion }
            : {}),
        },
      },
    });
    this.#written = lease.status ?? {};
    this.#resourceVersion = lease.metadata.resourceVersion;
    this.#status = structuredClone(this.#written);
  }

  #now(): number {
    return this.#o.clock.now();
  }

  async #write(): Promise<void> {
    const { resourceVersion } = await this.#o.status.write(
      {
        metadata: { name: this.#name, namespace: this.#ns, uid: this.#uid },
        status: this.#written,
      },
      this.#status as Record<string, unknown>,
      this.#signal,
    );
    this.#written = structuredClone(this.#status);
    if (resourceVersion) this.#resourceVersion = resourceVersion;
  }

  #setReady(status: Condition['status'], reason: string, message: string): void {
    this.#status = withReady(this.#status, this.#lease.metadata.generation, this.#now(), {
      status,
      reason,
      message,
    });
  }

  // ---- the normal path -----------------------------------------------------------------------

  async converge(): Promise<Result | undefined> {
    const { spec } = this.#lease;
    this.#recoverMinting();
    const resolved = this.#o.stores.resolve(this.#ns, spec.storeRef);
    if (!resolved.ok) return this.#storeUnusable(resolved);
    const store: UsableStore = {
      ok: true,
      client: resolved.client,
      method: resolved.store.revocation,
    };
    this.#shared.lastStores.set(storeId(storeKeyFor(this.#ns, spec.storeRef)), store);
    const hashKey = await this.#o.hashKey.get();

    const held = await this.#heldSecret();
    const holds = held !== undefined && secretDataHash(held) === this.#status.dataHash;
    const trigger = leaseTrigger({
      now: this.#now(),
      status: this.#status,
      sourceHash: sourceHash(spec),
      secretHoldsCurrent: holds,
    });
    let failure: unknown;
    const backoff = this.#shared.failures.get(this.#id);
    const conflict = await this.#targetConflict(trigger !== undefined, held);
    if (conflict) {
      this.#setReady('False', LEASE_REASONS.TargetConflict, conflict);
      await this.#revoke(false);
      this.#status = withRevokedCondition(
        this.#status,
        this.#lease.metadata.generation,
        this.#now(),
        spec.gracePeriod,
      );
      this.#status.observedGeneration = this.#lease.metadata.generation ?? 0;
      await this.#write();
      return { requeueAfterMs: CONFLICT_RETRY_MS };
    }
    if (trigger && backoff && this.#now() < backoff.retryAt) {
      // Woken early (our own status write, a Secret event): the backoff still holds.
      failure = backoff.error;
    } else if (trigger) {
      failure = await this.#leaseCredential(trigger, resolved.client, store, hashKey);
    } else if (this.#status.observedGeneration !== this.#lease.metadata.generation && held) {
      this.#applyRenewPolicy();
      await this.#rewriteSecret(held, hashKey);
    }
    await this.#rolloutIfPending();
    const revocations = await this.#revoke(false);
    const now = this.#now();
    const retryAt =
      failure === undefined
        ? undefined
        : Math.max(now, this.#shared.failures.get(this.#id)?.retryAt ?? now + 1_000);
    const next = leaseConditions(this.#status, {
      now,
      generation: this.#lease.metadata.generation,
      gracePeriod: spec.gracePeriod,
      targetName: leaseTargetName(this.#lease),
      failure,
      retryAt: retryAt ?? now,
    });
    if (next.expired) this.#report.expired(next.expired);
    this.#status = next.status;
    await this.#write();
    this.#o.metrics.track(this.#id, this.#currentExpiry());
    return { requeueAfterMs: requeueAfterMs(this.#status, now, retryAt, revocations.nextAt) };
  }

  /** A `minting` marker left by a stopped operator: a credential may exist that nobody holds. */
  #recoverMinting(): void {
    const marker = this.#status.minting;
    if (!marker) return;
    this.#report.unrecorded(
      `a credential read from ${marker.store} (secret ${marker.secretId}) at ${marker.startedAt} ` +
        'may have been minted but was never recorded (the operator stopped in between); it ' +
        'cannot be found to revoke and expires at the TTL of the secret',
    );
    const { minting: _m, ...rest } = this.#status;
    this.#status = rest;
  }

  async #storeUnusable(resolved: Extract<ResolveResult, { ok: false }>): Promise<Result> {
    if (resolved.pending) {
      // Just started or the store changed: wait for its validation rather than flip to not Ready.
      await this.#write();
      return { requeueAfterMs: STORE_PENDING_RETRY_MS };
    }
    const current = this.#status.current;
    const keeps =
      current && this.#now() < ms(current.expiresAt)
        ? `; the current credential stays in the Secret until it expires at ${current.expiresAt}`
        : '';
    this.#setReady('False', resolved.reason, `${resolved.message}${keeps}`);
    this.#status.observedGeneration = this.#lease.metadata.generation ?? 0;
    await this.#write();
    this.#o.metrics.track(this.#id, this.#currentExpiry());
    // The store controller enqueues this lease when the store becomes usable; expiry is reported.
    const wake = current ? ms(current.expiresAt) - this.#now() : 60_000;
    return { requeueAfterMs: Math.max(wake, STORE_PENDING_RETRY_MS) };
  }

  /**
   * A Secret of the target name that this lease does not own (someone else's, or another
   * lease's) is never taken over: its owner reference would let garbage collection delete it.
   * Checked only when the credential is about to go into a Secret it is not in yet.
   */
  async #targetConflict(leasing: boolean, held: V1Secret | undefined): Promise<string | undefined> {
    const name = leaseTargetName(this.#lease);
    const same = this.#status.current !== undefined && this.#status.secretName === name;
    if (!leasing && same) return undefined;
    const existing = same ? held : await readSecret(this.#o.secrets, this.#ns, name);
    const ownership = targetOwnership(existing, this.#uid);
    if (ownership === 'absent' || ownership === 'self') return undefined;
    return `Secret ${name} already exists and is not owned by this IAMCredentialLease; delete it or choose another spec.target.name`;
  }

  /** The Secret recorded in status, when there is a current credential to find in it. */
  async #heldSecret(): Promise<V1Secret | undefined> {
    const name = this.#status.secretName;
    if (!this.#status.current || !name) return undefined;
    return readSecret(this.#o.secrets, this.#ns, name);
  }

  /** Reads a credential and puts it in status and the Secret. Returns the failure, if any. */
  async #leaseCredential(
    trigger: LeaseTrigger,
    client: SecretsManagerClient,
    store: UsableStore,
    hashKey: Uint8Array,
  ): Promise<unknown> {
    const { spec } = this.#lease;
    const previous = this.#status.current;
    // A reused key is replaced at its expiry by design (no new key exists before): no incident.
    if (trigger === 'Expired' && previous && !previous.reused) this.#report.expired(previous);

    this.#status = {
      ...this.#status,
      minting: {
        startedAt: rfc3339(this.#now()),
        store: storeRefLabel(spec.storeRef),
        secretId: describeCredentialSource(spec),
      },
    };
    await this.#write();
    const requestedAt = this.#now();
    let creds: IamCredentials;
    try {
      creds = await client.getIamCredentials(credentialRef(spec), { signal: this.#signal });
    } catch (err) {
      // Cancelled: write and report nothing more. The minting marker stays, so the next reconcile
      // (perhaps another replica's) reports the credential the server may have minted.
      if (this.#signal.aborted) throw err;
      return this.#readFailed(trigger, err);
    }
    await this.#o.hooks?.afterRead?.({ namespace: this.#ns, name: this.#name });

    const recorded = recordCredential(this.#status, creds, {
      requestedAt,
      now: this.#now(),
      spec,
      trigger,
      sourceHash: sourceHash(spec),
      store: storeRefLabel(spec.storeRef),
      apiKeyHash: hashData({ apiKey: creds.apiKey }, hashKey),
      hasRestartTargets: (spec.rolloutRestartTargets ?? []).length > 0,
      random: this.#o.random,
    });
    const beforeRecord = this.#status;
    const keys = spec.target.keys;
    const data = { [keys.apiKey]: creds.apiKey, [keys.serviceId]: creds.serviceId };
    const targetName = leaseTargetName(this.#lease);
    const oldSecretName = this.#status.secretName;
    this.#status = {
      ...recorded.status,
      secretName: targetName,
      secretKeys: { apiKey: keys.apiKey, serviceId: keys.serviceId },
      dataHash: hashData(data, hashKey),
    };
    try {
      await this.#write();
    } catch (err) {
      // Not recorded: it must not stay valid unseen. Try to revoke it right away.
      if (!recorded.sameKey) await this.#revokeUnrecorded(recorded, store);
      throw err;
    }
    if (recorded.replaced && !recorded.sameKey) {
      this.#report.retired(recorded.replaced, beforeRecord, this.#status);
    }
    await this.#applySecret(targetName, data);
    if (oldSecretName && oldSecretName !== targetName) {
      await deleteSecretIfOwned(this.#o.secrets, this.#ns, oldSecretName, this.#uid);
    }
    this.#shared.failures.delete(this.#id);
    this.#o.metrics.leases.inc({ trigger, result: 'success' });
    if (recorded.replaced && !recorded.sameKey) {
      const left = Math.max(0, ms(recorded.replaced.expiresAt) - requestedAt);
      this.#o.metrics.remainingAtReplacement.observe(left / 1000);
    }
    this.#report.leased(trigger, recorded, targetName);
    return undefined;
  }

  #readFailed(trigger: LeaseTrigger, err: unknown): unknown {
    const { minting: marker, ...rest } = this.#status;
    this.#status = rest;
    const failures = (this.#shared.failures.get(this.#id)?.count ?? 0) + 1;
    const current = this.#status.current;
    const retry = renewalRetryMs(
      failures,
      this.#now(),
      current ? ms(current.expiresAt) : undefined,
    );
    const after = isSecretsManagerError(err) ? (err.retryAfterMs ?? 0) : 0;
    this.#shared.failures.set(this.#id, {
      count: failures,
      error: err,
      retryAt: this.#now() + Math.max(retry, after),
    });
    this.#o.metrics.leases.inc({ trigger, result: 'error' });
    this.#log.warn({ err: describeError(err), trigger, failures }, 'reading the credential failed');
    this.#report.event(
      'Warning',
      EVENT_REASONS.LeaseFailed,
      `reading a credential (${trigger}) failed: ${errorText(err)}`,
    );
    if (isTimeout(err) && marker) {
      // The server may have minted one before the answer was lost.
      this.#report.unrecorded(
        `the read of a credential at ${marker.startedAt} timed out; Secrets Manager may have ` +
          'minted one that was never received; it expires at the TTL of the secret',
      );
    }
    return err;
  }

  async #revokeUnrecorded(recorded: Recorded, store: UsableStore): Promise<void> {
    const current = recorded.status.current;
    if (!current) return;
    const pending: PendingRevocation = { ...current, revokeAfter: current.issuedAt, attempts: 0 };
    const decision = chooseRoute(pending, {
      method: store.method,
      serviceIdInUse: current.serviceIdShared === true,
      newestOfSecret: true,
    });
    if (decision.kind === 'skip') {
      this.#report.unrecorded(
        `credential ${current.serviceId} could not be recorded: ${decision.message}`,
      );
      return;
    }
    const outcome = await executeRevocation(store.client, decision, { signal: this.#signal });
    if (!outcome.ok) {
      this.#report.unrecorded(
        `credential ${current.serviceId} could not be recorded and revoking it failed (${outcome.message}); it expires at ${current.expiresAt}`,
      );
    }
  }

  async #applySecret(name: string, data: Record<string, string>): Promise<void> {
    const { target } = this.#lease.spec;
    this.#signal.throwIfAborted();
    await writeTarget(this.#o.secrets, {
      namespace: this.#ns,
      name,
      data,
      type: 'Opaque',
      labels: target.labels,
      annotations: target.annotations,
      ...(this.#status.dataHash ? { hash: this.#status.dataHash } : {}),
      owner: {
        apiVersion: this.#lease.apiVersion,
        kind: this.#lease.kind,
        name: this.#name,
        uid: this.#uid,
      },
    });
  }

  /** A changed renewBefore/renewFraction moves the renewal time of the current credential. */
  #applyRenewPolicy(): void {
    const current = this.#status.current;
    if (!current || current.reused) return;
    const renewAt = computeRenewAt(
      ms(current.issuedAt),
      ms(current.expiresAt),
      this.#lease.spec,
      this.#o.random,
    );
    this.#status = { ...this.#status, current: { ...current, renewAt: rfc3339(renewAt) } };
  }

  /**
   * The spec changed but not the source: the same credential is written under the new name,
   * keys, labels and annotations. The key is taken from the Secret, its only copy.
   */
  async #rewriteSecret(held: V1Secret, hashKey: Uint8Array): Promise<void> {
    const oldKeys = this.#status.secretKeys;
    const values = decodeData(held.data);
    const apiKey = oldKeys && values[oldKeys.apiKey];
    const serviceId = oldKeys && values[oldKeys.serviceId];
    if (apiKey === undefined || serviceId === undefined) return;
    const keys = this.#lease.spec.target.keys;
    const data = { [keys.apiKey]: apiKey, [keys.serviceId]: serviceId };
    const targetName = leaseTargetName(this.#lease);
    const oldName = this.#status.secretName;
    this.#status = {
      ...this.#status,
      secretName: targetName,
      secretKeys: { apiKey: keys.apiKey, serviceId: keys.serviceId },
      dataHash: hashData(data, hashKey),
    };
    await this.#applySecret(targetName, data);
    if (oldName && oldName !== targetName) {
      await deleteSecretIfOwned(this.#o.secrets, this.#ns, oldName, this.#uid);
      this.#report.event(
        'Normal',
        EVENT_REASONS.SecretRewritten,
        `moved the credential from Secret ${oldName} to ${targetName} without leasing a new one`,
      );
    }
  }

  async #rolloutIfPending(): Promise<void> {
    const current = this.#status.current;
    if (!current?.restartPending) return;
    const targets = this.#lease.spec.rolloutRestartTargets ?? [];
    if (targets.length > 0) {
      this.#signal.throwIfAborted();
      // The stamp is the credential's issue time: repeating it after a crash restarts nothing.
      await restartWorkloads(
        this.#o.rollout,
        { events: this.#o.events },
        this.#reportSubject(),
        targets,
        current.issuedAt,
        `for credential ${current.serviceId}`,
      );
    }
    const { restartPending: _r, ...rest } = current;
    this.#status = { ...this.#status, current: rest };
  }

  #reportSubject() {
    return {
      apiVersion: this.#lease.apiVersion,
      kind: this.#lease.kind,
      metadata: { name: this.#name, namespace: this.#ns, uid: this.#uid },
    };
  }

  // ---- revocation ----------------------------------------------------------------------------

  async #revoke(deleting: boolean): Promise<RevokePendingResult> {
    const deadline = deleting
      ? ms(String(this.#lease.metadata.deletionTimestamp)) +
        (this.#o.revocationTimeoutMs ?? DEFAULT_REVOCATION_TIMEOUT_MS)
      : undefined;
    const result = await revokePending(this.#status, {
      now: () => this.#now(),
      deleting,
      ...(deadline !== undefined ? { deadline } : {}),
      storeFor: (label) => this.#storeFor(label, deleting),
      contextFor: (cred) => routeContextFor(this.#status, cred, this.#o.leases(), this.#uid),
      signal: this.#signal,
    });
    this.#status = result.status;
    for (const { cred, result: r } of result.results) this.#report.revocation(cred, r);
    return result;
  }

  #storeFor(label: string | undefined, deleting: boolean): StoreAccess {
    const ref = label ? parseStoreRefLabel(label) : this.#lease.spec.storeRef;
    if (!ref) return { ok: false, code: 'StoreNotReady', message: `unknown store ${label}` };
    const resolved = this.#o.stores.resolve(this.#ns, ref);
    const id = storeId(storeKeyFor(this.#ns, ref));
    if (resolved.ok) {
      const access = {
        ok: true as const,
        client: resolved.client,
        method: resolved.store.revocation,
      };
      this.#shared.lastStores.set(id, access);
      return access;
    }
    // Deleting a namespace deletes its SecretStore at the same moment: use the client we had.
    const last = deleting ? this.#shared.lastStores.get(id) : undefined;
    return last ?? { ok: false, code: resolved.reason, message: resolved.message };
  }

  // ---- deletion ------------------------------------------------------------------------------

  /** Revokes everything the lease holds, then lets it go; `undefined` once the finalizer is off. */
  async finalize(): Promise<Result | undefined> {
    if (!hasFinalizer(this.#lease, FINALIZERS.IAMCredentialLease)) return undefined;
    this.#recoverMinting();
    const current = this.#status.current;
    if (current) {
      const { current: _c, ...rest } = this.#status;
      this.#status = this.#lease.spec.revokeOnDelete
        ? retire(rest, current, { now: this.#now(), graceMs: 0, reason: 'Deleting' })
        : rest;
      this.#report.retired(current, rest, this.#status);
    }
    if (!this.#lease.spec.revokeOnDelete) {
      const left = [current, ...(this.#status.pendingRevocations ?? [])].filter(
        (c) => c !== undefined,
      );
      if (left.length > 0) {
        this.#report.event(
          'Normal',
          EVENT_REASONS.CredentialsLeftToExpire,
          `revokeOnDelete is false: ${left.map((c) => `${c.serviceId} (expires ${c.expiresAt})`).join(', ')} left to expire`,
        );
      }
    } else {
      const result = await this.#revoke(true);
      const left = result.status.pendingRevocations ?? [];
      if (left.length > 0) {
        this.#setReady(
          'False',
          LEASE_REASONS.Deleting,
          `revoking ${left.length} credential(s) before the resource is released; retrying`,
        );
        await this.#write();
        return {
          requeueAfterMs: Math.max(
            MIN_REQUEUE_MS,
            (result.nextAt ?? this.#now() + 1_000) - this.#now(),
          ),
        };
      }
    }
    await this.#write().catch((err: unknown) => {
      this.#log.debug({ err: describeError(err) }, 'final status write failed');
    });
    this.#signal.throwIfAborted();
    await removeFinalizer(
      this.#o.resources,
      { kind: 'IAMCredentialLease', namespace: this.#ns, name: this.#name },
      { metadata: { ...this.#lease.metadata, resourceVersion: this.#resourceVersion } },
      FINALIZERS.IAMCredentialLease,
    );
    return undefined;
  }

  #currentExpiry(): number | undefined {
    const current = this.#status.current;
    return current ? ms(current.expiresAt) : undefined;
  }
}
