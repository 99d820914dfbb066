// Wires the SecretStore / ClusterSecretStore controller: both store informers feed it, and a
// resource controller that saw a store's key rejected asks it for a recheck through the registry.
import type { KubeObject } from '../../runtime/informer.ts';
import type { ControllerContext } from '../context.ts';
import { objectKeyOfStore } from './key.ts';
import { StoreReconciler } from './reconciler.ts';
import type { StoreInformers } from './registry.ts';

export interface StoreControllerOptions {
  /** How often a Ready store is checked again (default 60 s). */
  recheckMs?: number;
}

export function registerStoreController(
  context: ControllerContext,
  informers: StoreInformers,
  options: StoreControllerOptions = {},
): StoreReconciler {
  const reconciler = new StoreReconciler({
    registry: context.stores,
    pool: context.pool,
    core: context.core,
    resources: context.resources,
    events: context.events,
    clock: context.clock,
    random: context.random,
    ...(options.recheckMs !== undefined ? { recheckMs: options.recheckMs } : {}),
  });
  const controller = context.manager.controller(reconciler);
  // Our own status writes come back as watch events that change nothing we act on.
  const notEcho = { filter: (obj: KubeObject) => !reconciler.isOwnEcho(obj) };
  controller.watch(informers.secretStores, notEcho);
  controller.watch(informers.clusterSecretStores, notEcho);
  context.stores.onRecheck((key) => controller.enqueue(objectKeyOfStore(key)));
  return reconciler;
}
