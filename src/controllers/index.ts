// Wires every controller of the operator into a Manager: the store side shared by all, then
// one registration per resource kind.
import { CoreV1Api } from '@kubernetes/client-node';
import type { Clock } from '../runtime/clock.ts';
import type { Informer, KubeObject } from '../runtime/informer.ts';
import { ownNamespace } from '../runtime/kube.ts';
import type { Manager } from '../runtime/manager.ts';
import {
  type SecretsManagerClient,
  type SecretsManagerClientOptions,
  SecretsManagerClientPool,
} from '../secretsmanager/index.ts';
import { MANAGED_SECRETS_SELECTOR } from './constants.ts';
import { EventRecorder } from './events.ts';
import { registerExternalSecretController } from './externalsecret/register.ts';
import { type HashKeySource, SecretHashKey } from './hashkey.ts';
import { type LeaseControllerOptions, registerLeaseController } from './lease/register.ts';
import { CustomResources, RESOURCE_TYPES } from './resources.ts';
import { StoreReconciler } from './store.ts';
import { StoreRegistry } from './stores.ts';

export interface ControllerDeps {
  /** Builds Secrets Manager clients (tests hand in fakes); default: the undici client. */
  poolFactory?: (options: SecretsManagerClientOptions) => SecretsManagerClient;
  /** The data hash key; default: the Secret `secrets-manager-operator-hash-key`. */
  hashKey?: HashKeySource;
  /** Where the hash key Secret lives; default: the leader election namespace or the pod's. */
  operatorNamespace?: string;
  /** How often a Ready store is checked again (default 60 s). */
  storeRecheckMs?: number;
  /** Only ClusterSecretStores with these labels (tests sharing one API server). */
  clusterStoreLabelSelector?: string;
  /** Scheduled ExternalSecret refreshes syncing at once (default: concurrency - 1). */
  externalSecretRefreshSlots?: number;
  /** Request timeout of Secrets Manager calls (default 15 s). */
  requestTimeoutMs?: number;
  /** IAMCredentialLease controller options (revocation bound, jitter, test hooks). */
  lease?: LeaseControllerOptions;
}

/** What every resource controller's registration gets. */
export interface ControllerContext {
  manager: Manager;
  clock: Clock;
  core: CoreV1Api;
  resources: CustomResources;
  events: EventRecorder;
  stores: StoreRegistry;
  pool: SecretsManagerClientPool;
  hashKey: HashKeySource;
  /** Secrets the operator wrote (managed-by label), metadata only, in the watched namespaces. */
  managedSecrets: Informer<KubeObject>;
}

/** Adds every informer and controller to `manager` (before it starts). */
export function registerControllers(
  manager: Manager,
  deps: ControllerDeps = {},
): ControllerContext {
  const { kubeConfig, clock, log } = manager;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const pool = new SecretsManagerClientPool({
    registry: manager.metrics.registry,
    clock,
    ...(deps.poolFactory ? { factory: deps.poolFactory } : {}),
    ...(deps.requestTimeoutMs !== undefined ? { requestTimeoutMs: deps.requestTimeoutMs } : {}),
  });
  const stores = new StoreRegistry({ log });
  const storeInformers = stores.attach(
    manager,
    deps.clusterStoreLabelSelector
      ? { clusterStoreLabelSelector: deps.clusterStoreLabelSelector }
      : {},
  );
  const context: ControllerContext = {
    manager,
    clock,
    core,
    resources: new CustomResources(kubeConfig),
    events: new EventRecorder({ kubeConfig, clock, log }),
    stores,
    pool,
    hashKey:
      deps.hashKey ??
      new SecretHashKey({
        core,
        namespace:
          deps.operatorNamespace ?? manager.config.leaderElection.namespace ?? ownNamespace(),
        log,
      }),
    managedSecrets: manager.informer({
      type: RESOURCE_TYPES.Secret,
      labelSelector: MANAGED_SECRETS_SELECTOR,
      metadataOnly: true,
    }),
  };

  const storeController = manager.controller(
    new StoreReconciler({
      registry: stores,
      pool,
      core,
      resources: context.resources,
      events: context.events,
      clock,
      ...(deps.storeRecheckMs !== undefined ? { recheckMs: deps.storeRecheckMs } : {}),
    }),
  );
  storeController.watch(storeInformers.secretStores);
  storeController.watch(storeInformers.clusterSecretStores);
  stores.onRecheck((key) => storeController.enqueue(StoreReconciler.objectKeyOf(key)));

  registerExternalSecretController(
    context,
    deps.externalSecretRefreshSlots !== undefined
      ? { refreshSlots: deps.externalSecretRefreshSlots }
      : {},
  );
  registerLeaseController(context, deps.lease);
  return context;
}
