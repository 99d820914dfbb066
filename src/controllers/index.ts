// Wires every controller of the operator into a Manager: the store side shared by all, then
// one registration per resource kind. Each registration gets the same ControllerContext.
import { parseKubeObject } from '../runtime/informer.ts';
import { intern } from '../runtime/intern.ts';
import { ownNamespace } from '../runtime/kube.ts';
import type { Manager } from '../runtime/manager.ts';
import {
  type SecretsManagerClient,
  type SecretsManagerClientOptions,
  SecretsManagerClientPool,
} from '../secretsmanager/index.ts';
import { registerClusterExternalSecretController } from './clusterexternalsecret/register.ts';
import type { ControllerContext } from './context.ts';
import { registerExternalSecretController } from './externalsecret/register.ts';
import { type LeaseControllerOptions, registerLeaseController } from './lease/register.ts';
import { ANNOTATIONS, MANAGED_SECRETS_SELECTOR } from './shared/constants.ts';
import { EventRecorder } from './shared/events.ts';
import { type HashKeySource, SecretHashKey } from './shared/hashkey.ts';
import { CustomResources, RESOURCE_TYPES } from './shared/resources.ts';
import { configMapSource } from './shared/template.ts';
import { registerStoreController } from './store/register.ts';
import { StoreRegistry } from './store/registry.ts';
import { createRemoteViewMetrics } from './store/view-metrics.ts';

export type { ControllerContext } from './context.ts';

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
  /** Only ClusterExternalSecrets with these labels (tests sharing one API server). */
  clusterExternalSecretLabelSelector?: string;
  /** Scheduled ExternalSecret refreshes syncing at once (default: concurrency - 1). */
  externalSecretRefreshSlots?: number;
  /** Request timeout of Secrets Manager calls (default 15 s). */
  requestTimeoutMs?: number;
  /** Jitter source of every controller (default Math.random). */
  random?: () => number;
  /** IAMCredentialLease controller options (revocation bound, test hooks). */
  lease?: LeaseControllerOptions;
}

/** Adds every informer and controller to `manager` (before it starts). */
export function registerControllers(
  manager: Manager,
  deps: ControllerDeps = {},
): ControllerContext {
  const { kubeConfig, clock, log } = manager;
  const core = kubeConfig.core;
  const pool = new SecretsManagerClientPool({
    registry: manager.metrics.registry,
    clock,
    ...(deps.poolFactory ? { factory: deps.poolFactory } : {}),
    ...(deps.requestTimeoutMs !== undefined ? { requestTimeoutMs: deps.requestTimeoutMs } : {}),
  });
  const stores = new StoreRegistry({
    log,
    clock,
    viewMetrics: createRemoteViewMetrics(manager.metrics.registry),
  });
  const storeInformers = stores.attach(
    manager,
    deps.clusterStoreLabelSelector
      ? { clusterStoreLabelSelector: deps.clusterStoreLabelSelector }
      : {},
  );
  const configMapInformer = manager.informer({
    type: RESOURCE_TYPES.ConfigMap,
    metadataOnly: true,
  });
  const context: ControllerContext = {
    manager,
    clock,
    random: deps.random ?? Math.random,
    core,
    resources: new CustomResources(kubeConfig.custom),
    events: new EventRecorder({
      api: kubeConfig.core,
      clock,
      log,
      registry: manager.metrics.registry,
    }),
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
      // The data hash is also in the writer's memory and the resource's status: one copy.
      parse: (raw) => {
        const obj = parseKubeObject(raw);
        const annotations = obj.metadata.annotations;
        const hash = annotations?.[ANNOTATIONS.dataHash];
        if (annotations && hash !== undefined) annotations[ANNOTATIONS.dataHash] = intern(hash);
        return obj;
      },
    }),
    configMapInformer,
    configMaps: configMapSource(core, configMapInformer),
  };

  registerStoreController(
    context,
    storeInformers,
    deps.storeRecheckMs !== undefined ? { recheckMs: deps.storeRecheckMs } : {},
  );
  registerExternalSecretController(
    context,
    deps.externalSecretRefreshSlots !== undefined
      ? { refreshSlots: deps.externalSecretRefreshSlots }
      : {},
  );
  registerLeaseController(context, deps.lease);
  registerClusterExternalSecretController(
    context,
    deps.clusterExternalSecretLabelSelector
      ? { labelSelector: deps.clusterExternalSecretLabelSelector }
      : {},
  );
  return context;
}
