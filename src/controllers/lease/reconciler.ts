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
 *
 * Every reconcile may mint, so it decides on the object as the API server has it now, not on
 * the informer cache (the one exception to the rule in shared/status.ts). The steps of one
 * reconcile are in run.ts; conditions in conditions.ts; Events in report.ts.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import {
  type IAMCredentialLease,
  type IAMCredentialLeaseStatus,
  LEASE_REASONS,
  parseIAMCredentialLease,
  READY,
  setCondition,
} from '../../api/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import type { ObjectKey, ReconcileContext, Reconciler, Result } from '../../runtime/reconciler.ts';
import { FINALIZERS } from '../shared/constants.ts';
import { hasFinalizer, removeFinalizer, setFinalizer } from '../shared/finalizers.ts';
import type { HashKeySource } from '../shared/hashkey.ts';
import { EVENT_REASONS } from '../shared/reasons.ts';
import type { CustomResources } from '../shared/resources.ts';
import type { RolloutApi } from '../shared/rollout.ts';
import type { SecretsApi } from '../shared/secrets.ts';
import { type EventSink, StatusWriter } from '../shared/status.ts';
import type { ResolveResult } from '../store/registry.ts';
import type { LeaseMetrics } from './metrics.ts';
import { converge, finalize } from './run.ts';
import { LeaseState, type SharedState } from './state.ts';

export { DEFAULT_REVOCATION_TIMEOUT_MS } from './run.ts';

const KIND = 'IAMCredentialLease';

export interface LeaseHooks {
  /** Runs after a credential was read and before it is recorded (tests stop the operator here). */
  afterRead?(key: ObjectKey): Promise<void>;
}

export type LeaseResources = Pick<
  CustomResources,
  'read' | 'patchStatus' | 'replaceStatus' | 'setFinalizers'
>;

export interface LeaseReconcilerOptions {
  clock: Clock;
  random: () => number;
  resources: LeaseResources;
  secrets: SecretsApi;
  /** Rollout restarts (a KubeConfig, or a fake in tests). */
  rollout: RolloutApi | KubeConfig;
  events: EventSink;
  stores: {
    resolve(namespace: string, ref: IAMCredentialLease['spec']['storeRef']): ResolveResult;
  };
  hashKey: HashKeySource;
  /** Every lease the operator knows (the informer cache), to see credentials of other leases. */
  leases: () => unknown[];
  metrics: LeaseMetrics;
  /** The status writer (replace mode); made from `resources` when omitted. */
  status: StatusWriter;
  revocationTimeoutMs?: number;
  hooks?: LeaseHooks;
}

export class LeaseReconciler implements Reconciler {
  readonly name = 'iamcredentiallease';
  readonly #o: LeaseReconcilerOptions;
  readonly #shared: SharedState = {
    failures: new Map(),
    lastStores: new Map(),
    expiries: new Map(),
  };

  constructor(options: Omit<LeaseReconcilerOptions, 'status'> & { status?: StatusWriter }) {
    this.#o = {
      ...options,
      status:
        options.status ??
        new StatusWriter({
          kind: KIND,
          resources: options.resources,
          events: options.events,
          clock: options.clock,
          mode: 'replace',
          // Each thing that happens has its own Event (Leased, Renewed, ...): see report.ts.
          readyEvents: false,
        }),
    };
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Result | undefined> {
    const namespace = key.namespace;
    if (!namespace) return undefined;
    const id = `${namespace}/${key.name}`;
    const raw = await this.#o.resources.read({ kind: KIND, namespace, name: key.name });
    if (raw === undefined) {
      this.#forget(id);
      return undefined;
    }
    const parsed = parseIAMCredentialLease(raw);
    if (!parsed.ok) return this.#invalid(raw as KubeObject, parsed.message, ctx);
    const lease = parsed.value;
    const run = new LeaseState(this.#o, lease, ctx.log, this.#shared, ctx.signal);
    if (lease.metadata.deletionTimestamp !== undefined) {
      const result = await finalize(run);
      if (!result) this.#forget(id);
      return result;
    }
    // Before any credential exists, so none can outlive the resource unrevoked.
    await setFinalizer(
      this.#o.resources,
      { kind: KIND, namespace, name: key.name },
      lease,
      FINALIZERS.IAMCredentialLease,
      true,
    );
    return converge(run);
  }

  #forget(id: string): void {
    this.#shared.failures.delete(id);
    this.#shared.expiries.delete(id);
    this.#o.metrics.track(id, undefined);
  }

  async #invalid(obj: KubeObject, message: string, ctx: ReconcileContext): Promise<undefined> {
    const { namespace, name } = obj.metadata;
    if (!namespace) return undefined;
    const ref = { kind: KIND, namespace, name } as const;
    if (
      obj.metadata.deletionTimestamp !== undefined &&
      hasFinalizer(obj, FINALIZERS.IAMCredentialLease)
    ) {
      // Nothing can be revoked without a readable spec; never hold the namespace hostage.
      this.#o.events.record(
        obj,
        'Warning',
        EVENT_REASONS.InvalidSpec,
        `deleted with an invalid spec (${message}); its credentials expire at their TTL`,
      );
      await removeFinalizer(this.#o.resources, ref, obj, FINALIZERS.IAMCredentialLease);
      return undefined;
    }
    ctx.log.warn({ message }, 'invalid IAMCredentialLease');
    const status = ((obj as { status?: IAMCredentialLeaseStatus }).status ?? {}) as Record<
      string,
      unknown
    > &
      IAMCredentialLeaseStatus;
    const generation = obj.metadata.generation;
    await this.#o.status.write(
      obj,
      {
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
      },
      ctx.signal,
    );
    return undefined;
  }
}
