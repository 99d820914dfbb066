// Adds the ClusterExternalSecret informers and controller to the manager and wires what enqueues
// a ClusterExternalSecret: its own changes, a namespace appearing, going or changing labels, a
// ClusterSecretStore changing (its conditions decide which namespaces may get anything), and
// the ExternalSecrets it made being changed or deleted by someone.
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import type { ObjectKey } from '../../runtime/logger.ts';
import type { ControllerContext } from '../context.ts';
import { LABELS } from '../shared/constants.ts';
import { RESOURCE_TYPES } from '../shared/resources.ts';
import { ClusterExternalSecretReconciler } from './reconciler.ts';
import { KubeExternalSecretWrites } from './writes.ts';

export interface ClusterExternalSecretControllerOptions {
  /** Only ClusterExternalSecrets with these labels (tests sharing one API server). */
  labelSelector?: string;
}

export function registerClusterExternalSecretController(
  context: ControllerContext,
  options: ClusterExternalSecretControllerOptions = {},
): ClusterExternalSecretReconciler {
  const { manager, stores } = context;
  const selector = [manager.config.labelSelector, options.labelSelector]
    .filter((s): s is string => Boolean(s))
    .join(',');
  const clusterExternalSecrets = manager.informer({
    type: RESOURCE_TYPES.ClusterExternalSecret,
    ...(selector ? { labelSelector: selector } : {}),
  });
  // Full objects (their spec is compared with the template), but only the ones we labelled.
  const owned = manager.informer({
    type: RESOURCE_TYPES.ExternalSecret,
    labelSelector: LABELS.clusterExternalSecret,
  });
  const { namespaces, clusterSecretStores } = stores.informers;
  const reconciler = new ClusterExternalSecretReconciler({
    clusterExternalSecrets,
    ownedExternalSecrets: owned,
    namespaces,
    watchNamespaces: manager.config.watchNamespaces,
    stores,
    writes: new KubeExternalSecretWrites(manager.kubeConfig.custom),
    resources: context.resources,
    events: context.events,
    clock: context.clock,
  });
  const controller = manager.controller(reconciler);
  controller.watch(clusterExternalSecrets, { filter: (obj) => !reconciler.isOwnEcho(obj) });

  const all = (): ObjectKey[] =>
    clusterExternalSecrets.list().map((obj) => ({ name: obj.metadata.name }));
  // Every ClusterExternalSecret looks at the namespace again (a cache lookup each).
  everyChange(namespaces, (old, obj) => labelsOrDeletion(old) !== labelsOrDeletion(obj), all);
  everyChange(
    clusterSecretStores,
    (old, obj) => old.metadata.generation !== obj.metadata.generation,
    all,
  );
  // An ExternalSecret of ours changed by someone (spec, labels, annotations) or deleted; its
  // status changes on every sync and matters not.
  const ownerOf = (obj: KubeObject): ObjectKey[] => {
    const name = obj.metadata.labels?.[LABELS.clusterExternalSecret];
    return name ? [{ name }] : [];
  };
  everyChange(owned, (old, obj) => templateFields(old) !== templateFields(obj), ownerOf);
  const enqueue = (keys: ObjectKey[]) => {
    for (const key of keys) controller.enqueue(key);
  };
  function everyChange(
    informer: Informer<KubeObject>,
    changed: (old: KubeObject, obj: KubeObject) => boolean,
    keys: (obj: KubeObject) => ObjectKey[],
  ): void {
    informer.on({
      add: (obj) => enqueue(keys(obj)),
      update: (old, obj) => {
        if (changed(old, obj)) enqueue(keys(obj));
      },
      delete: (obj) => enqueue(keys(obj)),
    });
  }
  return reconciler;
}

function labelsOrDeletion(obj: KubeObject): string {
  return JSON.stringify([obj.metadata.labels ?? {}, obj.metadata.deletionTimestamp ?? null]);
}

function templateFields(obj: KubeObject): string {
  return JSON.stringify([
    obj.metadata.generation,
    obj.metadata.labels ?? {},
    obj.metadata.annotations ?? {},
    obj.metadata.ownerReferences ?? [],
    obj.metadata.deletionTimestamp ?? null,
  ]);
}
