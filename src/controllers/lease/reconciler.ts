/**
 * The IAMCredentialLease reconciler: lease a credential into a Secret, replace it before it
 * expires, revoke what is replaced or lost, and revoke everything on deletion.
 *
 * The order of writes is what makes it crash-safe (status is the record):
 *   1. status.minting = {startedAt, ...}      intent: a credential may be minted from here on
 *   2. read the credential (mints it)
 *   3. status.current = new, old -> pending    recorded before anyone can use it
 *   4. apply the Secret                        exposed
 *   5. rollout restart, revocations, conditions
 * Stopping between 2 and 3 loses the only copy of the key: it cannot be found again through the
 * Vault API, so the next reconcile reports it (Event UnrecordedCredential, a metric) and it
 * expires at its TTL. Stopping between 3 and 4 leaves a recorded credential that never reached
 * the Secret: the next reconcile sees the Secret does not hold it, leases another and revokes
 * the recorded one. Stopping anywhere else repeats only idempotent steps.
 */
import type { V1Secret } from '@kubernetes/client-node';
import {
  type Condition,
  type CurrentLease,
  computeRenewAt,
  type IAMCredentialLease,
  type IAMCredentialLeaseStatus,
  LEASE_REASONS,
  leaseTargetName,
  type PendingRevocation,
  parseIAMCredentialLease,
  READY,
  REVOCATION_REASONS,
  REVOKED_CONDITION,
  setCondition,
} from '../../api/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import { describeError } from '../../runtime/errors.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { ObjectKey, ReconcileContext, Reconciler, Result } from '../../runtime/reconciler.ts';
import {
  type IamCredentials,
  isNotFound,
  isSecretsManagerError,
  isTimeout,
  type SecretsManagerClient,
} from '../../secretsmanager/index.ts';
import { ANNOTATIONS, FINALIZERS } from '../constants.ts';
import type { EventType } from '../events.ts';
import type { HashKeySource } from '../hashkey.ts';
import { type RolloutResult, type RolloutTarget, rolloutRestart } from '../rollout.ts';
import {
  applySecret,
  decodeData,
  deleteSecretIfOwned,
  hashData,
  isOwnedBy,
  readSecret,
  type SecretsApi,
  secretDataHash,
} from '../secrets.ts';
import type { ResolveResult } from '../stores.ts';
import type { LeaseApi } from './api.ts';
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
import type { LeaseMetrics } from './metrics.ts';
import {
  chooseRoute,
  executeRevocation,
  type PassResult,
  type RevokePendingResult,
  type RouteContext,
  revokePending,
  type StoreAccess,
} from './revocation.ts';
import {
  credentialRef,
  describeCredentialSource,
  parseStoreLabel,
  sourceHash,
  storeLabel,
} from './source.ts';

export const LEASE_FINALIZER = FINALIZERS.IAMCredentialLease;
/** How long deletion keeps retrying failed revocations before it lets the resource go. */
export const DEFAULT_REVOCATION_TIMEOUT_MS = 5 * 60_000;
const STORE_PENDING_RETRY_MS = 5_000;
const CONFLICT_RETRY_MS = 30_000;
const MIN_REQUEUE_MS = 500;

type Status = IAMCredentialLeaseStatus;

export interface LeaseHooks {
  /** Runs after a credential was read and before it is recorded (tests stop the operator here). */
  afterRead?(key: ObjectKey): Promise<void>;
}

export interface LeaseReconcilerOptions {
  clock: Clock;
  random: () => number;
  api: LeaseApi;
  secrets: SecretsApi;
  /** Rollout restarts (a KubeConfig, or a fake in tests). */
  rollout: Parameters<typeof rolloutRestart>[0];
  events: { record(obj: KubeObject, type: EventType, reason: string, message: string): void };
  stores: {
    resolve(namespace: string, ref: IAMCredentialLease['spec']['storeRef']): ResolveResult;
  };
  hashKey: HashKeySource;
  /** Every lease the operator knows (the informer cache), to see credentials of other leases. */
  leases: () => KubeObject[];
  metrics: LeaseMetrics;
  revocationTimeoutMs?: number;
  hooks?: LeaseHooks;
}

interface Subject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string; resourceVersion?: string };
}

export class LeaseReconciler implements Reconciler {
  readonly name = 'iamcredentiallease';
  readonly #o: LeaseReconcilerOptions;
  /** Failed reads per lease: the renewal backoff (reset on success). */
  readonly #failures = new Map<string, ReadFailure>();
  /** The last usable client per store, for deletions after the store itself went away. */
  readonly #lastStores = new Map<string, StoreAccess & { ok: true }>();
  /** The last expiry reported per lease, so each expired credential counts once. */
  readonly #expiries = new Map<string, string>();

  constructor(options: LeaseReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Result | undefined> {
    const namespace = key.namespace;
    if (!namespace) return undefined;
    const id = `${namespace}/${key.name}`;
    const raw = await this.#o.api.get(namespace, key.name);
    if (raw === undefined) {
      this.#forget(id);
      return undefined;
    }
    const parsed = parseIAMCredentialLease(raw);
    if (!parsed.ok) return this.#invalid(raw, parsed.message, ctx.log);
    const lease = parsed.value;
    const run = new LeaseRun(this.#o, lease, ctx.log, {
      failures: this.#failures,
      lastStores: this.#lastStores,
      expiries: this.#expiries,
    });
    if (lease.metadata.deletionTimestamp !== undefined) {
      const result = await run.finalize();
      if (!result) this.#forget(id);
      return result;
    }
    if (!(lease.metadata.finalizers ?? []).includes(LEASE_FINALIZER)) {
      // Before any credential exists, so none can outlive the resource unrevoked.
      await this.#o.api.setFinalizers(
        namespace,
        key.name,
        [...(lease.metadata.finalizers ?? []), LEASE_FINALIZER],
        lease.metadata.resourceVersion,
      );
    }
    return run.converge();
  }

  #forget(id: string): void {
    this.#failures.delete(id);
    this.#expiries.delete(id);
    this.#o.metrics.track(id, undefined);
  }

  async #invalid(raw: unknown, message: string, log: Logger): Promise<Result | undefined> {
    const obj = raw as KubeObject;
    const { namespace, name } = obj.metadata;
    if (!namespace) return undefined;
    const finalizers = obj.metadata.finalizers ?? [];
    if (obj.metadata.deletionTimestamp !== undefined && finalizers.includes(LEASE_FINALIZER)) {
      // Nothing can be revoked without a readable spec; never hold the namespace hostage.
      this.#o.events.record(
        obj,
        'Warning',
        'InvalidSpec',
        `deleted with an invalid spec (${message}); its credentials expire at their TTL`,
      );
      await this.#o.api.setFinalizers(
        namespace,
        name,
        finalizers.filter((f) => f !== LEASE_FINALIZER),
        obj.metadata.resourceVersion,
      );
      return undefined;
    }
    log.warn({ message }, 'invalid IAMCredentialLease');
    const status = ((obj as { status?: Status }).status ?? {}) as Status;
    const generation = obj.metadata.generation;
    const next: Status = {
      ...status,
      conditions: setCondition(
        status.conditions,
        {
          type: READY,
          status: 'False',
          reason: LEASE_REASONS.InvalidSpec,
          message,
          ...(generation !== undefined ? { observedGeneration: generation } : {}),
        },
        new Date(this.#o.clock.now()),
      ),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    await this.#o.api.writeStatus(namespace, name, next);
    return undefined;
  }
}

/** Consecutive failed reads of a lease's credential, the last error and when to try again. */
interface ReadFailure {
  count: number;
  error: unknown;
  retryAt: number;
}

interface SharedState {
  failures: Map<string, ReadFailure>;
  lastStores: Map<string, StoreAccess & { ok: true }>;
  expiries: Map<string, string>;
}

/** One reconcile of one lease: its state while the steps run. */
class LeaseRun {
  readonly #o: LeaseReconcilerOptions;
  readonly #lease: IAMCredentialLease;
  readonly #log: Logger;
  readonly #shared: SharedState;
  readonly #ns: string;
  readonly #name: string;
  readonly #id: string;
  readonly #subject: Subject;
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
  ) {
    this.#o = o;
    this.#lease = lease;
    this.#log = log;
    this.#shared = shared;
    this.#ns = lease.metadata.namespace ?? '';
    this.#name = lease.metadata.name;
    this.#id = `${this.#ns}/${this.#name}`;
    this.#subject = {
      apiVersion: lease.apiVersion,
      kind: lease.kind,
      metadata: {
        name: this.#name,
        namespace: this.#ns,
        uid: lease.metadata.uid ?? '',
        ...(lease.metadata.resourceVersion
          ? { resourceVersion: lease.metadata.resourceVersion }
          : {}),
      },
    };
    this.#written = lease.status ?? {};
    this.#resourceVersion = lease.metadata.resourceVersion;
    this.#status = structuredClone(this.#written);
  }

  #now(): number {
    return this.#o.clock.now();
  }

  #event(type: EventType, reason: string, message: string): void {
    this.#o.events.record(this.#subject as unknown as KubeObject, type, reason, message);
  }

  async #write(): Promise<void> {
    if (JSON.stringify(this.#status) === JSON.stringify(this.#written)) return;
    const version = await this.#o.api.writeStatus(this.#ns, this.#name, this.#status);
    this.#written = structuredClone(this.#status);
    if (version) this.#resourceVersion = version;
  }

  // ---- the normal path -----------------------------------------------------------------------

  async converge(): Promise<Result | undefined> {
    const { spec } = this.#lease;
    this.#recoverMinting();
    const resolved = this.#o.stores.resolve(this.#ns, spec.storeRef);
    if (!resolved.ok) return this.#storeUnusable(resolved);
    const store: StoreAccess & { ok: true } = {
      ok: true,
      client: resolved.client,
      method: resolved.store.revocation,
    };
    this.#shared.lastStores.set(this.#storeId(storeLabel(spec.storeRef)), store);
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
      this.#setRevokedCondition();
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
    this.#setConditions(failure);
    await this.#write();
    this.#o.metrics.track(this.#id, this.#currentExpiry());
    return { requeueAfterMs: this.#requeueAfter(failure, revocations.nextAt) };
  }

  /** A `minting` marker left by a stopped operator: a credential may exist that nobody holds. */
  #recoverMinting(): void {
    const marker = this.#status.minting;
    if (!marker) return;
    this.#reportUnrecorded(
      `a credential read from ${marker.store} (secret ${marker.secretId}) at ${marker.startedAt} ` +
        'may have been minted but was never recorded (the operator stopped in between); it ' +
        'cannot be found to revoke and expires at the TTL of the secret',
    );
    const { minting: _m, ...rest } = this.#status;
    this.#status = rest;
  }

  #reportUnrecorded(message: string): void {
    this.#o.metrics.unrecorded.inc();
    this.#log.warn({ message }, 'possibly unrecorded credential');
    this.#event('Warning', 'UnrecordedCredential', message);
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
    if (!existing || isOwnedBy(existing, this.#subject.metadata.uid)) return undefined;
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
    store: StoreAccess & { ok: true },
    hashKey: Uint8Array,
  ): Promise<unknown> {
    const { spec } = this.#lease;
    const previous = this.#status.current;
    // A reused key is replaced at its expiry by design (no new key exists before): no incident.
    if (trigger === 'Expired' && previous && !previous.reused) this.#reportExpired(previous);

    this.#status = {
      ...this.#status,
      minting: {
        startedAt: rfc3339(this.#now()),
        store: storeLabel(spec.storeRef),
        secretId: describeCredentialSource(spec),
      },
    };
    await this.#write();
    const requestedAt = this.#now();
    let creds: IamCredentials;
    try {
      creds = await client.getIamCredentials(credentialRef(spec));
    } catch (err) {
      return this.#readFailed(trigger, err);
    }
    await this.#o.hooks?.afterRead?.({ namespace: this.#ns, name: this.#name });

    const recorded = recordCredential(this.#status, creds, {
      requestedAt,
      now: this.#now(),
      spec,
      trigger,
      sourceHash: sourceHash(spec),
      store: storeLabel(spec.storeRef),
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
    if (recorded.replaced && !recorded.sameKey)
      this.#reportRetired(recorded.replaced, beforeRecord);
    await this.#applySecret(targetName, data);
    if (oldSecretName && oldSecretName !== targetName) {
      await deleteSecretIfOwned(
        this.#o.secrets,
        this.#ns,
        oldSecretName,
        this.#subject.metadata.uid,
      );
    }
    this.#shared.failures.delete(this.#id);
    this.#o.metrics.leases.inc({ trigger, result: 'success' });
    if (recorded.replaced && !recorded.sameKey) {
      const left = Math.max(0, ms(recorded.replaced.expiresAt) - requestedAt);
      this.#o.metrics.remainingAtReplacement.observe(left / 1000);
    }
    this.#announce(trigger, recorded);
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
    const what = errorText(err);
    this.#log.warn({ err: describeError(err), trigger, failures }, 'reading the credential failed');
    this.#event('Warning', 'LeaseFailed', `reading a credential (${trigger}) failed: ${what}`);
    if (isTimeout(err) && marker) {
      // The server may have minted one before the answer was lost.
      this.#reportUnrecorded(
        `the read of a credential at ${marker.startedAt} timed out; Secrets Manager may have ` +
          'minted one that was never received; it expires at the TTL of the secret',
      );
    }
    return err;
  }

  /** Reports an expired credential (Event, metric) once, whichever path notices it first. */
  #reportExpired(previous: CurrentLease): void {
    const id = `${previous.serviceId}|${previous.expiresAt}`;
    if (this.#shared.expiries.get(this.#id) === id) return;
    this.#shared.expiries.set(this.#id, id);
    this.#o.metrics.expired.inc();
    this.#event(
      'Warning',
      LEASE_REASONS.LeaseExpired,
      `credential ${previous.serviceId} expired at ${previous.expiresAt} before it was replaced; leasing a new one`,
    );
  }

  async #revokeUnrecorded(recorded: Recorded, store: StoreAccess & { ok: true }): Promise<void> {
    const current = recorded.status.current;
    if (!current) return;
    const pending: PendingRevocation = {
      ...current,
      revokeAfter: current.issuedAt,
      attempts: 0,
    };
    const decision = chooseRoute(pending, {
      method: store.method,
      serviceIdInUse: current.serviceIdShared === true,
      newestOfSecret: true,
    });
    if (decision.kind === 'skip') {
      this.#reportUnrecorded(
        `credential ${current.serviceId} could not be recorded: ${decision.message}`,
      );
      return;
    }
    const outcome = await executeRevocation(store.client, decision);
    if (!outcome.ok) {
      this.#reportUnrecorded(
        `credential ${current.serviceId} could not be recorded and revoking it failed (${outcome.message}); it expires at ${current.expiresAt}`,
      );
    }
  }

  #announce(trigger: LeaseTrigger, recorded: Recorded): void {
    const current = recorded.status.current;
    if (!current) return;
    const secret = leaseTargetName(this.#lease);
    const old = recorded.replaced;
    const pending =
      old &&
      recorded.status.pendingRevocations?.find(
        (p) => p.serviceId === old.serviceId && p.expiresAt === old.expiresAt,
      );
    const fate = pending ? `; ${old.serviceId} is revoked at ${pending.revokeAfter}` : '';
    if (recorded.sameKey) {
      if (trigger === 'TargetSecretLost') {
        this.#event(
          'Warning',
          'TargetSecretLost',
          `Secret ${secret} no longer held the credential; rewrote it with the same (reused) key ${current.serviceId}`,
        );
      }
      return;
    }
    switch (trigger) {
      case 'Initial':
        this.#event(
          'Normal',
          'Leased',
          `leased credential ${current.serviceId} into Secret ${secret}, valid until ${current.expiresAt}`,
        );
        return;
      case 'RenewDue':
      case 'Expired':
        this.#event(
          'Normal',
          'Renewed',
          `replaced credential ${old?.serviceId ?? '-'} with ${current.serviceId}, valid until ${current.expiresAt}${fate}`,
        );
        return;
      case 'SourceChanged':
        this.#event(
          'Normal',
          'SourceChanged',
          `the credential source changed; leased ${current.serviceId}${fate}`,
        );
        return;
      case 'TargetSecretLost':
        this.#event(
          'Warning',
          'TargetSecretLost',
          `Secret ${secret} was deleted or no longer held the credential; leased ${current.serviceId}${fate}`,
        );
        return;
    }
  }

  async #applySecret(name: string, data: Record<string, string>): Promise<void> {
    const { target } = this.#lease.spec;
    const dataHash = this.#status.dataHash;
    await applySecret(this.#o.secrets, {
      namespace: this.#ns,
      name,
      data,
      type: 'Opaque',
      ...(target.labels ? { labels: target.labels } : {}),
      annotations: {
        ...target.annotations,
        ...(dataHash ? { [ANNOTATIONS.dataHash]: dataHash } : {}),
      },
      owner: {
        apiVersion: this.#lease.apiVersion,
        kind: this.#lease.kind,
        name: this.#name,
        uid: this.#subject.metadata.uid,
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
      await deleteSecretIfOwned(this.#o.secrets, this.#ns, oldName, this.#subject.metadata.uid);
      this.#event(
        'Normal',
        'SecretRewritten',
        `moved the credential from Secret ${oldName} to ${targetName} without leasing a new one`,
      );
    }
  }

  async #rolloutIfPending(): Promise<void> {
    const current = this.#status.current;
    if (!current?.restartPending) return;
    const targets: RolloutTarget[] = this.#lease.spec.rolloutRestartTargets ?? [];
    if (targets.length > 0) {
      // The stamp is the credential's issue time: repeating it after a crash restarts nothing.
      const result: RolloutResult = await rolloutRestart(
        this.#o.rollout,
        this.#ns,
        targets,
        current.issuedAt,
      );
      if (result.restarted.length > 0) {
        this.#event(
          'Normal',
          'RolloutRestarted',
          `restarted ${result.restarted.join(', ')} for credential ${current.serviceId}`,
        );
      }
      for (const failed of result.failed) {
        this.#event('Warning', 'RolloutRestartFailed', `${failed.target}: ${failed.message}`);
      }
    }
    const { restartPending: _r, ...rest } = current;
    this.#status = { ...this.#status, current: rest };
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
      contextFor: (cred) => this.#routeContext(cred),
    });
    this.#status = result.status;
    for (const { cred, result: r } of result.results) this.#reportRevocation(cred, r);
    return result;
  }

  #storeId(label: string): string {
    return label.startsWith('SecretStore/') ? `${this.#ns}/${label}` : label;
  }

  #storeFor(label: string | undefined, deleting: boolean): StoreAccess {
    const ref = label ? parseStoreLabel(label) : this.#lease.spec.storeRef;
    if (!ref) return { ok: false, code: 'StoreNotReady', message: `unknown store ${label}` };
    const resolved = this.#o.stores.resolve(this.#ns, ref);
    const id = this.#storeId(storeLabel(ref));
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

  /** What other credentials (this lease's and every other lease's) say about one credential. */
  #routeContext(cred: PendingRevocation): Omit<RouteContext, 'method'> {
    const mine = [
      ...(this.#status.current ? [this.#status.current] : []),
      ...(this.#status.pendingRevocations ?? []).filter((p) => p !== cred),
    ];
    const others = otherCredentials(this.#o.leases(), this.#subject.metadata.uid);
    const inUse = [this.#status.current, ...others.current].filter((c) => c !== undefined);
    const issued = cred.issuedAt ? ms(cred.issuedAt) : 0;
    // A tie counts as newer: `current` must never be able to name somebody else's key.
    const newer = [...mine, ...others.current, ...others.pending].some(
      (c) => c.secretId === cred.secretId && (c.issuedAt === undefined || ms(c.issuedAt) >= issued),
    );
    return {
      serviceIdInUse: inUse.some((c) => c.serviceId === cred.serviceId),
      newestOfSecret: !newer,
    };
  }

  #reportRevocation(
    cred: PendingRevocation,
    result: Exclude<PassResult, { kind: 'waiting' }>,
  ): void {
    if (result.kind === 'failed') {
      this.#o.metrics.revocations.inc({ route: result.route, result: 'Failed' });
      this.#event(
        'Warning',
        LEASE_REASONS.RevocationFailed,
        `revoking credential ${cred.serviceId} (${result.route}) failed (attempt ${cred.attempts + 1}): ${result.message}; retrying`,
      );
      return;
    }
    const { entry } = result;
    this.#o.metrics.revocations.inc({ route: entry.route, result: entry.result });
    switch (entry.result) {
      case 'Revoked':
      case 'AlreadyGone':
        this.#event(
          'Normal',
          'Revoked',
          `revoked credential ${cred.serviceId} (${entry.route}${entry.result === 'AlreadyGone' ? ', already gone' : ''})`,
        );
        return;
      case 'Skipped':
        this.#event(
          'Normal',
          'RevocationSkipped',
          `credential ${cred.serviceId} not revoked: ${entry.message ?? ''}`,
        );
        return;
      case 'Expired':
        if (cred.lastError) {
          this.#event(
            'Warning',
            LEASE_REASONS.RevocationFailed,
            `credential ${cred.serviceId} expired at ${cred.expiresAt} before it could be revoked (${cred.lastError})`,
          );
        }
        return;
      case 'Abandoned':
        this.#event(
          'Warning',
          'RevocationAbandoned',
          `gave up revoking credential ${cred.serviceId} (${cred.lastError ?? 'no attempt succeeded'}); it stays valid until ${cred.expiresAt}`,
        );
        return;
    }
  }

  /** Reports a credential `retire` finished at once (expired already, or a reused key). */
  #reportRetired(credential: CurrentLease, before: Status): void {
    const known = new Set(before.revoked ?? []);
    for (const entry of this.#status.revoked ?? []) {
      if (known.has(entry) || entry.serviceId !== credential.serviceId) continue;
      const cred: PendingRevocation = { ...credential, revokeAfter: entry.time, attempts: 0 };
      this.#reportRevocation(cred, { kind: 'finished', entry });
    }
  }

  // ---- deletion ------------------------------------------------------------------------------

  /** Revokes everything the lease holds, then lets it go; `undefined` once the finalizer is off. */
  async finalize(): Promise<Result | undefined> {
    const finalizers = this.#lease.metadata.finalizers ?? [];
    if (!finalizers.includes(LEASE_FINALIZER)) return undefined;
    this.#recoverMinting();
    const current = this.#status.current;
    if (current) {
      const { current: _c, ...rest } = this.#status;
      this.#status = this.#lease.spec.revokeOnDelete
        ? retire(rest, current, { now: this.#now(), graceMs: 0, reason: 'Deleting' })
        : rest;
      this.#reportRetired(current, rest);
    }
    if (!this.#lease.spec.revokeOnDelete) {
      const left = [current, ...(this.#status.pendingRevocations ?? [])].filter(
        (c) => c !== undefined,
      );
      if (left.length > 0) {
        this.#event(
          'Normal',
          'CredentialsLeftToExpire',
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
    await this.#o.api.setFinalizers(
      this.#ns,
      this.#name,
      finalizers.filter((f) => f !== LEASE_FINALIZER),
      this.#resourceVersion,
    );
    return undefined;
  }

  // ---- conditions and timing -----------------------------------------------------------------

  #setReady(status: Condition['status'], reason: string, message: string): void {
    const generation = this.#lease.metadata.generation;
    this.#status.conditions = setCondition(
      this.#status.conditions,
      {
        type: READY,
        status,
        reason,
        message,
        ...(generation !== undefined ? { observedGeneration: generation } : {}),
      },
      new Date(this.#now()),
    );
  }

  #setConditions(failure: unknown): void {
    const now = this.#now();
    const current = this.#status.current;
    const valid = current !== undefined && now < ms(current.expiresAt);
    const secret = this.#status.secretName ?? leaseTargetName(this.#lease);
    if (failure !== undefined) {
      // An absolute time, so a reconcile woken during the backoff writes the same status.
      const retryAt = rfc3339(this.#now() + this.#retryMs());
      const what = `reading a credential failed: ${errorText(failure)}; next attempt at ${retryAt}`;
      if (valid && current) {
        this.#setReady(
          'True',
          LEASE_REASONS.Renewing,
          `${what}; credential ${current.serviceId} in Secret ${secret} is valid until ${current.expiresAt}`,
        );
      } else if (current) {
        this.#reportExpired(current);
        this.#setReady(
          'False',
          LEASE_REASONS.LeaseExpired,
          `credential ${current.serviceId} expired at ${current.expiresAt}; ${what}`,
        );
      } else {
        this.#setReady('False', failureReason(failure), what);
      }
    } else if (current && valid) {
      const reuse = current.reused
        ? ' (reuse_api_key: Secrets Manager returns this key until it expires, so the next one is leased at expiry)'
        : '';
      this.#setReady(
        'True',
        LEASE_REASONS.Leased,
        `credential ${current.serviceId} in Secret ${secret} is valid until ${current.expiresAt} and renews at ${current.renewAt}${reuse}`,
      );
    } else if (current) {
      this.#setReady(
        'False',
        LEASE_REASONS.LeaseExpired,
        `credential ${current.serviceId} expired at ${current.expiresAt}`,
      );
    }
    this.#setRevokedCondition();
    this.#status.observedGeneration = this.#lease.metadata.generation ?? 0;
  }

  #setRevokedCondition(): void {
    const pending = this.#status.pendingRevocations ?? [];
    const failing = pending.filter((p) => p.attempts > 0);
    const generation = this.#lease.metadata.generation;
    const base = {
      type: REVOKED_CONDITION,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    const update =
      pending.length === 0
        ? {
            ...base,
            status: 'True' as const,
            reason: REVOCATION_REASONS.AllRevoked,
            message: 'no replaced credential waits for revocation',
          }
        : failing.length > 0
          ? {
              ...base,
              status: 'False' as const,
              reason: REVOCATION_REASONS.RevocationFailed,
              message: failing
                .map(
                  (p) =>
                    `${p.serviceId} (${p.attempts} attempts, expires ${p.expiresAt}): ${p.lastError ?? ''}`,
                )
                .join('; '),
            }
          : {
              ...base,
              status: 'False' as const,
              reason: REVOCATION_REASONS.GracePeriod,
              message: `${pending.length} replaced credential(s) wait for the end of their grace period (${this.#lease.spec.gracePeriod}); next at ${pending.map((p) => p.revokeAfter).sort()[0]}`,
            };
    this.#status.conditions = setCondition(this.#status.conditions, update, new Date(this.#now()));
  }

  #retryMs(): number {
    const retryAt = this.#shared.failures.get(this.#id)?.retryAt;
    return retryAt === undefined ? 1_000 : Math.max(0, retryAt - this.#now());
  }

  #requeueAfter(failure: unknown, revokeAt: number | undefined): number {
    const now = this.#now();
    const times: number[] = [];
    const current = this.#status.current;
    if (failure !== undefined) times.push(now + this.#retryMs());
    else if (current) times.push(ms(current.renewAt), ms(current.expiresAt));
    if (revokeAt !== undefined) times.push(revokeAt);
    if (times.length === 0) return 60 * 60_000;
    return Math.max(MIN_REQUEUE_MS, Math.min(...times) - now);
  }

  #currentExpiry(): number | undefined {
    const current = this.#status.current;
    return current ? ms(current.expiresAt) : undefined;
  }
}

type Identity = Pick<PendingRevocation, 'serviceId' | 'secretId' | 'issuedAt'>;

/** The current and pending credentials of every other lease, read defensively from the cache. */
function otherCredentials(
  leases: KubeObject[],
  ownUid: string,
): { current: Identity[]; pending: Identity[] } {
  const current: Identity[] = [];
  const pending: Identity[] = [];
  for (const obj of leases) {
    if (obj.metadata.uid === ownUid) continue;
    const status = (obj as { status?: { current?: unknown; pendingRevocations?: unknown } }).status;
    const c = asIdentity(status?.current);
    if (c) current.push(c);
    if (Array.isArray(status?.pendingRevocations)) {
      for (const p of status.pendingRevocations) {
        const id = asIdentity(p);
        if (id) pending.push(id);
      }
    }
  }
  return { current, pending };
}

function asIdentity(value: unknown): Identity | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.serviceId !== 'string' || typeof v.secretId !== 'string') return undefined;
  return {
    serviceId: v.serviceId,
    secretId: v.secretId,
    ...(typeof v.issuedAt === 'string' ? { issuedAt: v.issuedAt } : {}),
  };
}

function errorText(err: unknown): string {
  if (isSecretsManagerError(err)) return `${err.code}: ${err.message}`;
  const safe = describeError(err);
  return `${safe.code ?? safe.name}: ${safe.message}`;
}

function failureReason(err: unknown): string {
  return isNotFound(err) ? LEASE_REASONS.RemoteSecretNotFound : LEASE_REASONS.LeaseFailed;
}
