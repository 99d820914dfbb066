// Wires the SecretStore / ClusterSecretStore controller: both store informers feed it, and a
// resource controller that saw a store's key rejected asks it for a recheck through the registry.
//
// Stores are not sharded: every shard (`--label-selector`) validates every store for its own
// resources. Their status, though, is written by one shard at a time, the holder of the Lease
// `secrets-manager-operator-store-status` in the leader-election namespace, so shards neither
// write it in turn nor flap it when one of them cannot reach Secrets Manager.

import type { KubeObject } from '../../runtime/informer.ts';
import { ownNamespace } from '../../runtime/kube.ts';
import { KubeLeaseStore, LeaderElector } from '../../runtime/leader.ts';
import type { ControllerContext } from '../context.ts';
import { objectKeyOfStore } from './key.ts';
import { StoreReconciler } from './reconciler.ts';
import type { StoreInformers } from './registry.ts';

/** The Lease whose holder writes store status when the operator runs sharded. */
export const STORE_STATUS_LEASE = 'secrets-manager-operator-store-status';

export interface StoreControllerOptions {
  /** How often a Ready store is checked again (default 60 s). */
  recheckMs?: number;
}

export function registerStoreController(
  context: ControllerContext,
  informers: StoreInformers,
  options: StoreControllerOptions = {},
): StoreReconciler {
  const { manager } = context;
  const statusWriter = storeStatusElection(context, () => {
    // Just became the writer: write the status of every store as this shard sees it.
    for (const obj of [...informers.secretStores.list(), ...informers.clusterSecretStores.list()]) {
      controller.enqueue({
        name: obj.metadata.name,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
      });
    }
  });
  const reconciler = new StoreReconciler({
    registry: context.stores,
    pool: context.pool,
    core: context.core,
    tokens: context.core,
    resources: context.resources,
    events: context.events,
    clock: context.clock,
    random: context.random,
    writesStatus: statusWriter,
    ...(options.recheckMs !== undefined ? { recheckMs: options.recheckMs } : {}),
  });
  const controller = manager.controller(reconciler);
  // Our own status writes come back as watch events that change nothing we act on.
  const notEcho = { filter: (obj: KubeObject) => !reconciler.isOwnEcho(obj) };
  controller.watch(informers.secretStores, notEcho);
  controller.watch(informers.clusterSecretStores, notEcho);
  context.stores.onRecheck((key) => controller.enqueue(objectKeyOfStore(key)));
  return reconciler;
}

/**
 * Unsharded, this replica writes store status whenever it runs the controllers. Sharded, it
 * campaigns (while it leads its own shard) for the store-status Lease and writes only while it
 * holds it; without a namespace for the Lease every shard writes, as before (logged once).
 */
function storeStatusElection(context: ControllerContext, onWriter: () => void): () => boolean {
  const { manager } = context;
  const { config } = manager;
  if (!config.labelSelector) return () => true;
  const namespace = config.leaderElection.namespace ?? ownNamespace();
  const log = manager.log.child({ component: 'store-status-election' });
  if (!namespace) {
    log.warn(
      'sharded without a leader-election namespace: every shard writes store status; pass --leader-election-namespace so that one shard does',
    );
    return () => true;
  }
  let holding = false;
  manager.whileLeading(async (signal) => {
    while (!signal.aborted) {
      const elector = new LeaderElector({
        store: new KubeLeaseStore(manager.kubeConfig, namespace, STORE_STATUS_LEASE),
        identity: manager.identity,
        clock: context.clock,
        log,
        leaseDurationMs: config.leaderElection.leaseDurationMs,
        renewDeadlineMs: config.leaderElection.renewDeadlineMs,
        retryPeriodMs: config.leaderElection.retryPeriodMs,
        onStartedLeading: () => {
          holding = true;
          onWriter();
        },
        onStoppedLeading: () => {
          holding = false;
        },
      });
      await elector.run(signal);
    }
  });
  return () => holding;
}
