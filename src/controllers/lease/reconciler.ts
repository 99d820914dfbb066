import {
  type IAMCredentialLeaseStatus,
  LEASE_REASONS,
  parseIAMCredentialLease,
  READY,
  setCondition,
} from '../../api/index.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import type { ObjectKey, ReconcileContext, Reconciler, Result } from '../../runtime/reconciler.ts';
import { FINALIZERS } from '../shared/constants.ts';
import { hasFinalizer, removeFinalizer, setFinalizer } from '../shared/finalizers.ts';
import { EVENT_REASONS } from '../shared/reasons.ts';
import { StatusWriter } from '../shared/status.ts';
import type { LeaseReconcilerOptions } from './options.ts';
import { converge, finalize } from './run.ts';
import { LeaseState, type SharedState } from './state.ts';

export { DEFAULT_REVOCATION_TIMEOUT_MS } from './run.ts';

const KIND = 'IAMCredentialLease';

export type { LeaseHooks, LeaseReconcilerOptions, LeaseResources } from './options.ts';

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
          conditional: true,
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
    const version = await setFinalizer(
      this.#o.resources,
      { kind: KIND, namespace, name: key.name },
      lease,
      FINALIZERS.IAMCredentialLease,
      true,
    );
    if (version) run.resourceVersion = version;
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
