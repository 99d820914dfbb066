// What every controller's registration gets (built once in index.ts). Its own module, so that
// index.ts can import the registrations without them importing index.ts back.
import type { Clock } from '../runtime/clock.ts';
import type { Informer, KubeObject } from '../runtime/informer.ts';
import type { CoreApi } from '../runtime/kubeapi.ts';
import type { Manager } from '../runtime/manager.ts';
import type { SecretsManagerClientPool } from '../secretsmanager/index.ts';
import type { EventRecorder } from './shared/events.ts';
import type { HashKeySource } from './shared/hashkey.ts';
import type { CustomResources } from './shared/resources.ts';
import type { ConfigMapSource } from './shared/template.ts';
import type { StoreRegistry } from './store/registry.ts';

export interface ControllerContext {
  manager: Manager;
  clock: Clock;
  /** Jitter source of every controller (default Math.random; tests pin it). */
  random: () => number;
  core: CoreApi;
  resources: CustomResources;
  events: EventRecorder;
  stores: StoreRegistry;
  pool: SecretsManagerClientPool;
  hashKey: HashKeySource;
  /** Secrets the operator wrote (managed-by label), metadata only, in the watched namespaces. */
  managedSecrets: Informer<KubeObject>;
  /** ConfigMaps, metadata only: templateFrom sources are watched here and read when rendered. */
  configMapInformer: Informer<KubeObject>;
  configMaps: ConfigMapSource;
}
