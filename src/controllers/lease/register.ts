// Wires the IAMCredentialLease controller into the manager: its informer, the Secrets it writes
// (a deleted Secret enqueues its lease) and the stores it uses (a store that becomes usable
// enqueues its leases).
import { KINDS } from '../../api/group.ts';
import { StoreRef } from '../../api/index.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import type { ObjectKey } from '../../runtime/reconciler.ts';
import type { ControllerContext } from '../context.ts';
import { RESOURCE_TYPES } from '../shared/resources.ts';
import { referencedConfigMaps } from '../shared/template.ts';
import { refersTo } from '../store/key.ts';
import { createLeaseMetrics } from './metrics.ts';
import { type LeaseHooks, LeaseReconciler } from './reconciler.ts';

export interface LeaseControllerOptions {
  /** Renewal jitter source (default: the controllers' shared source). */
  random?: () => number;
  /** How long deletion retries failing revocations before letting go (default 5 minutes). */
  revocationTimeoutMs?: number;
  hooks?: LeaseHooks;
}

export function registerLeaseController(
  context: ControllerContext,
  options: LeaseControllerOptions = {},
): LeaseReconciler {
  const { manager, clock } = context;
  const shard = manager.config.labelSelector;
  const leases = manager.informer({
    type: RESOURCE_TYPES.IAMCredentialLease,
    ...(shard ? { labelSelector: shard } : {}),
  });
  // Whether a service ID is still in use, and which key of a secret is the newest, are questions
  // about every lease, not only this shard's: a shard must not revoke a reused key that a lease
  // of another shard still holds. Sharded, it also watches the leases of the other shards.
  const everyLease = shard ? manager.informer({ type: RESOURCE_TYPES.IAMCredentialLease }) : leases;
  const reconciler = new LeaseReconciler({
    clock,
    random: options.random ?? context.random,
    resources: context.resources,
    secrets: context.core,
    rollout: manager.kubeConfig.apps,
    events: context.events,
    stores: context.stores,
    hashKey: context.hashKey,
    leases: () => everyLease.list(),
    metrics: createLeaseMetrics(manager.metrics.registry, () => clock.now()),
    configMaps: context.configMaps,
    ...(options.revocationTimeoutMs !== undefined
      ? { revocationTimeoutMs: options.revocationTimeoutMs }
      : {}),
    ...(options.hooks ? { hooks: options.hooks } : {}),
  });
  const controller = manager.controller(reconciler);
  controller.watch(leases);
  controller.watch(context.managedSecrets, { map: ownerLease });
  // A templateFrom ConfigMap event wakes the leases of its namespace that name it.
  controller.watch(context.configMapInformer, {
    map: (cm) =>
      leases
        .list(cm.metadata.namespace)
        .filter((lease) => referencedConfigMaps(lease).includes(cm.metadata.name))
        .map((lease) => ({
          namespace: cm.metadata.namespace as string,
          name: lease.metadata.name,
        })),
  });
  context.stores.onStoreChange((store, ready) => {
    if (!ready) return;
    for (const lease of leases.list()) {
      const namespace = lease.metadata.namespace;
      if (namespace && refersTo(namespace, parseStoreRefOf(lease), store)) {
        controller.enqueue({ namespace, name: lease.metadata.name });
      }
    }
  });
  return reconciler;
}

/** The lease that owns a Secret (its controller owner reference), if any. */
function ownerLease(secret: KubeObject): ObjectKey[] {
  const namespace = secret.metadata.namespace;
  const owner = secret.metadata.ownerReferences?.find(
    (ref) => ref.controller && ref.kind === KINDS.IAMCredentialLease,
  );
  return namespace && owner ? [{ namespace, name: owner.name }] : [];
}

/** `spec.storeRef` of a cached lease, with the documented default (undefined: the default store). */
function parseStoreRefOf(lease: KubeObject): StoreRef | undefined {
  const raw = (lease as { spec?: { storeRef?: unknown } }).spec?.storeRef;
  const parsed = StoreRef.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
