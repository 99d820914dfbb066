// Adds the ExternalSecret informer and controller to the manager and wires what enqueues an
// ExternalSecret: its own changes, changes of the Secret it writes, its store becoming ready
// (or not), and its namespace's labels changing (ClusterSecretStore admission).
import { type KubeObject, parseKubeObject } from '../../runtime/informer.ts';
import type { ObjectKey } from '../../runtime/logger.ts';
import type { ControllerContext } from '../context.ts';
import { RESOURCE_TYPES } from '../shared/resources.ts';
import { referencedConfigMaps } from '../shared/template.ts';
import { rawStoreRef, refersTo, type StoreKey } from '../store/key.ts';
import { compactExternalSecret } from './compact.ts';
import { createExternalSecretMetrics } from './metrics.ts';
import { ExternalSecretReconciler } from './reconciler.ts';
import { TargetIndex } from './target-index.ts';

export interface ExternalSecretControllerOptions {
  /** Refreshes that may sync at once (default: concurrency - 1, at least 1). */
  refreshSlots?: number;
}

export function registerExternalSecretController(
  context: ControllerContext,
  options: ExternalSecretControllerOptions = {},
): ExternalSecretReconciler {
  const { manager, stores, managedSecrets } = context;
  const externalSecrets = manager.informer({
    type: RESOURCE_TYPES.ExternalSecret,
    parse: (raw) => compactExternalSecret(parseKubeObject(raw)),
    ...(manager.config.labelSelector ? { labelSelector: manager.config.labelSelector } : {}),
  });
  const targets = new TargetIndex();
  externalSecrets.on({
    add: (obj) => targets.add(obj),
    update: (old, obj) => {
      targets.delete(old);
      targets.add(obj);
    },
    delete: (obj) => targets.delete(obj),
  });

  const reconciler = new ExternalSecretReconciler({
    externalSecrets,
    managedSecrets,
    stores,
    core: context.core,
    resources: context.resources,
    events: context.events,
    hashKey: context.hashKey,
    rollout: manager.kubeConfig.apps,
    clock: context.clock,
    random: context.random,
    metrics: createExternalSecretMetrics(manager.metrics.registry),
    configMaps: context.configMaps,
    refreshSlots: options.refreshSlots ?? Math.max(1, manager.config.concurrency - 1),
    wake: (key) => controller.enqueue(key),
  });
  const controller = manager.controller(reconciler);
  const own = (obj: KubeObject): ObjectKey[] => [
    { namespace: obj.metadata.namespace as string, name: obj.metadata.name },
  ];
  // The echo of our own status write changes nothing we act on.
  controller.watch(externalSecrets, { filter: (obj) => !reconciler.isOwnEcho(obj) });
  // A Secret event wakes every ExternalSecret that writes it (by target name or owner), except
  // the echo of our own write (deletions always wake them).
  const writersOf = (secret: KubeObject): ObjectKey[] => {
    const namespace = secret.metadata.namespace as string;
    const keys = targets.writersOf(namespace, secret.metadata.name);
    for (const ref of secret.metadata.ownerReferences ?? []) {
      if (ref.kind === 'ExternalSecret' && !keys.some((k) => k.name === ref.name)) {
        keys.push({ namespace, name: ref.name });
      }
    }
    return keys;
  };
  controller.watch(managedSecrets, {
    map: writersOf,
    filter: (secret) => !writersOf(secret).some((k) => reconciler.isOwnSecretEcho(k, secret)),
  });

  // A templateFrom ConfigMap event wakes the ExternalSecrets of its namespace that name it.
  controller.watch(context.configMapInformer, {
    map: (cm) =>
      externalSecrets
        .list(cm.metadata.namespace)
        .filter((obj) => referencedConfigMaps(obj).includes(cm.metadata.name))
        .flatMap(own),
  });

  // Read from the storeRef as written: no parse of every resource on each store verdict.
  const usersOf = (store: StoreKey): ObjectKey[] =>
    externalSecrets
      .list(store.kind === 'SecretStore' ? store.namespace : undefined)
      .filter((obj) => {
        const ref = rawStoreRef(obj);
        return ref !== null && refersTo(obj.metadata.namespace as string, ref, store);
      })
      .flatMap(own);
  stores.onStoreChange((store) => {
    for (const key of usersOf(store)) controller.enqueue(key);
  });
  // A store's view saw secrets change remotely: exactly the resources that use them.
  stores.onRemoteChange((resources) => {
    for (const id of resources) {
      const slash = id.indexOf('/');
      controller.enqueue({ namespace: id.slice(0, slash), name: id.slice(slash + 1) });
    }
  });
  stores.onNamespaceChange((namespace) => {
    for (const obj of externalSecrets.list(namespace)) controller.enqueue(own(obj)[0] as ObjectKey);
  });
  return reconciler;
}
