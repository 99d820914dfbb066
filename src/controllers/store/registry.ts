// The store side shared by the ExternalSecret and IAMCredentialLease controllers: which store a
// resource may use, whether it is Ready, and the one pooled Secrets Manager client per store.
// The store controller (store.ts) validates stores and reports here; the resource controllers
// only ever call `resolve`.
import {
  type ClusterSecretStore,
  DEFAULT_STORE_NAME,
  findCondition,
  namespaceAllowed,
  parseClusterSecretStore,
  parseSecretStore,
  READY,
  type RevocationMethod,
  type SecretStore,
  type StoreRef,
} from '../../api/index.ts';
import { type Clock, realClock } from '../../runtime/clock.ts';
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Manager } from '../../runtime/manager.ts';
import type { SecretsManagerClient, SecretType } from '../../secretsmanager/index.ts';
import { RESOURCE_TYPES } from '../shared/resources.ts';
import { describeStore, type StoreKey, storeId, storeKeyFor } from './key.ts';
import { RemoteView, type SourceState } from './view.ts';
import { detachedRemoteViewMetrics, type RemoteViewMetrics } from './view-metrics.ts';

export type { StoreKey } from './key.ts';

/** What a resource controller learns about a usable store. */
export interface StoreInfo extends StoreKey {
  uid: string;
  generation: number;
  /** The Vault API base URL the client talks to. */
  url: string;
  revocation: RevocationMethod;
  /** spec.pollInterval in ms (0: change detection off). */
  pollIntervalMs: number;
}

export type StoreNotUsableReason = 'StoreNotReady' | 'Forbidden' | 'InvalidSpec';

export type ResolveResult =
  | {
      ok: true;
      client: SecretsManagerClient;
      store: StoreInfo;
      /** The store's shared view of Secrets Manager (absent in tests that fake the registry). */
      view?: RemoteView;
    }
  | {
      ok: false;
      reason: StoreNotUsableReason;
      /** Names the store and what to do; never secret material. */
      message: string;
      /**
       * The store exists and has not been validated by this process yet (just after a start
       * or a store change): wait for `onStoreChange` instead of reporting an error, so a
       * restart does not flip every resource to not-Ready and back.
       */
      pending?: boolean;
    };

/** What the store controller reports after a validation. */
export type StoreState =
  | { ready: true; uid: string; generation: number; client: SecretsManagerClient; info: StoreInfo }
  | { ready: false; uid: string; generation: number; reason: string; message: string };

export interface StoreInformers {
  secretStores: Informer<KubeObject>;
  clusterSecretStores: Informer<KubeObject>;
  namespaces: Informer<KubeObject>;
}

type StoreChange = (key: StoreKey, ready: boolean) => void;
type RemoteChange = (resources: string[]) => void;

export interface StoreRegistryOptions {
  log: Logger;
  clock?: Clock;
  viewMetrics?: RemoteViewMetrics;
}

interface ViewSlot {
  view: RemoteView;
  client: SecretsManagerClient;
  uid: string;
  generation: number;
}
type NamespaceChange = (namespace: string) => void;

export class StoreRegistry {
  readonly #log: Logger;
  readonly #states = new Map<string, StoreState>();
  readonly #storeListeners = new Set<StoreChange>();
  readonly #namespaceListeners = new Set<NamespaceChange>();
  readonly #recheckListeners = new Set<(key: StoreKey) => void>();
  readonly #remoteListeners = new Set<RemoteChange>();
  readonly #views = new Map<string, ViewSlot>();
  /** Resource (`namespace/name`) -> the store whose view tracks it. */
  readonly #viewOf = new Map<string, string>();
  readonly #clock: Clock;
  readonly #viewMetrics: RemoteViewMetrics;
  #informers: StoreInformers | undefined;

  constructor(options: StoreRegistryOptions) {
    this.#log = options.log.child({ component: 'stores' });
    this.#clock = options.clock ?? realClock;
    this.#viewMetrics = options.viewMetrics ?? detachedRemoteViewMetrics();
  }

  /**
   * Adds the SecretStore, ClusterSecretStore and Namespace (metadata only) informers to the
   * manager. Stores are not label-sharded: every shard needs every store. (Tests that share one
   * API server limit ClusterSecretStores to their own with `clusterStoreLabelSelector`.)
   */
  attach(manager: Manager, options: { clusterStoreLabelSelector?: string } = {}): StoreInformers {
    const informers: StoreInformers = {
      secretStores: manager.informer({ type: RESOURCE_TYPES.SecretStore }),
      clusterSecretStores: manager.informer({
        type: RESOURCE_TYPES.ClusterSecretStore,
        ...(options.clusterStoreLabelSelector
          ? { labelSelector: options.clusterStoreLabelSelector }
          : {}),
      }),
      namespaces: manager.informer({
        type: RESOURCE_TYPES.Namespace,
        namespaces: [],
        metadataOnly: true,
      }),
    };
    this.useInformers(informers);
    return informers;
  }

  /** Uses informers made elsewhere (unit tests). */
  useInformers(informers: StoreInformers): void {
    this.#informers = informers;
    const changed = (obj: KubeObject) => {
      for (const listener of this.#namespaceListeners) listener(obj.metadata.name);
    };
    informers.namespaces.on({
      add: changed,
      update: (old, obj) => {
        if (JSON.stringify(old.metadata.labels) !== JSON.stringify(obj.metadata.labels)) {
          changed(obj);
        }
      },
    });
  }

  get informers(): StoreInformers {
    if (!this.#informers) throw new Error('StoreRegistry: attach() was not called');
    return this.#informers;
  }

  /** The store object as cached (unparsed), if it exists. */
  getObject(key: StoreKey): KubeObject | undefined {
    const informers = this.informers;
    return key.kind === 'SecretStore'
      ? informers.secretStores.get(key.namespace, key.name)
      : informers.clusterSecretStores.get(undefined, key.name);
  }

  /** Parses the cached store object. */
  parse(
    key: StoreKey,
    obj: KubeObject,
  ): { ok: true; value: SecretStore | ClusterSecretStore } | { ok: false; message: string } {
    return key.kind === 'SecretStore' ? parseSecretStore(obj) : parseClusterSecretStore(obj);
  }

  /**
   * Which store a resource in `namespace` may use, with its client. Isolation is decided here:
   * a SecretStore is only ever looked up in the resource's own namespace, and a
   * ClusterSecretStore only for a namespace its `conditions` admit.
   */
  resolve(namespace: string, ref: StoreRef | undefined): ResolveResult {
    const key = storeKeyFor(namespace, ref);
    const label = describeStore(key);
    const obj = this.getObject(key);
    if (!obj) {
      const hint =
        key.kind === 'ClusterSecretStore' && key.name === DEFAULT_STORE_NAME && !ref
          ? ' (no storeRef was given, so the ClusterSecretStore "default" is used)'
          : '';
      return { ok: false, reason: 'StoreNotReady', message: `${label} does not exist${hint}` };
    }
    if (key.kind === 'ClusterSecretStore') {
      const parsed = parseClusterSecretStore(obj);
      if (!parsed.ok) {
        return { ok: false, reason: 'StoreNotReady', message: `${label} is invalid` };
      }
      const ns = this.informers.namespaces.get(undefined, namespace);
      const admitted = namespaceAllowed(parsed.value.spec.conditions, {
        name: namespace,
        labels: ns?.metadata.labels ?? {},
      });
      if (!admitted) {
        return {
          ok: false,
          reason: 'Forbidden',
          message: `${label} does not admit namespace ${namespace} (see its spec.conditions)`,
        };
      }
    }
    const uid = obj.metadata.uid ?? '';
    const generation = obj.metadata.generation ?? 0;
    const state = this.#states.get(storeId(key));
    if (state && state.uid === uid && state.generation === generation) {
      if (state.ready) {
        const view = this.#views.get(storeId(key))?.view;
        return { ok: true, client: state.client, store: state.info, ...(view ? { view } : {}) };
      }
      return {
        ok: false,
        reason: 'StoreNotReady',
        message: `${label} is not ready (${state.reason}): ${state.message}`,
      };
    }
    // Not validated by this process yet. A store already reported as failing for its current
    // generation is not going to be ready soon: say so rather than wait.
    const status = (obj as { status?: { conditions?: unknown } }).status;
    const conditions = Array.isArray(status?.conditions)
      ? (status.conditions as Parameters<typeof findCondition>[0])
      : undefined;
    const ready = findCondition(conditions, READY);
    if (ready?.status === 'False' && ready.observedGeneration === generation) {
      return {
        ok: false,
        reason: 'StoreNotReady',
        message: `${label} is not ready (${ready.reason}): ${ready.message}`,
      };
    }
    return {
      ok: false,
      reason: 'StoreNotReady',
      message: `${label} has not been validated yet`,
      pending: true,
    };
  }

  /** Called by the store controller after each validation. */
  setState(key: StoreKey, state: StoreState): void {
    const id = storeId(key);
    const before = this.#states.get(id);
    this.#states.set(id, state);
    if (state.ready) this.#ensureView(key, state);
    const changed =
      !before ||
      before.ready !== state.ready ||
      before.uid !== state.uid ||
      before.generation !== state.generation ||
      (before.ready && state.ready && before.client !== state.client);
    if (changed) this.#emitStore(key, state.ready);
  }

  /** The last state the store controller reported for a store. */
  stateOf(key: StoreKey): StoreState | undefined {
    return this.#states.get(storeId(key));
  }

  /** The store is gone. */
  forget(key: StoreKey): void {
    this.#dropView(storeId(key));
    if (this.#states.delete(storeId(key))) this.#emitStore(key, false);
  }

  /** Tracks `resource` in `view` (and in no other view): see RemoteView.track. */
  track(
    view: RemoteView,
    resource: string,
    sources: SourceState[],
    finds: SecretType[],
    synced: boolean,
  ): void {
    const id = view.store;
    if (this.#views.get(id)?.view !== view) return;
    const before = this.#viewOf.get(resource);
    if (before !== undefined && before !== id) this.#views.get(before)?.view.release(resource);
    this.#viewOf.set(resource, id);
    view.track(resource, sources, finds, synced);
  }

  /** The current view of a store, if it is ready. */
  viewFor(key: StoreKey): RemoteView | undefined {
    return this.#views.get(storeId(key))?.view;
  }

  /** Forgets a resource in every view (it was deleted). */
  release(resource: string): void {
    const id = this.#viewOf.get(resource);
    if (id === undefined) return;
    this.#viewOf.delete(resource);
    this.#views.get(id)?.view.release(resource);
  }

  /** Called with the resources whose remote sources changed (a view's poll). */
  onRemoteChange(listener: RemoteChange): () => void {
    this.#remoteListeners.add(listener);
    return () => this.#remoteListeners.delete(listener);
  }

  /** Stops every view (shutdown). */
  stopViews(): void {
    for (const id of [...this.#views.keys()]) this.#dropView(id);
  }

  /** A view per ready store; a new client, UID or generation (spec, key, URL) drops the old. */
  #ensureView(key: StoreKey, state: Extract<StoreState, { ready: true }>): void {
    const id = storeId(key);
    const slot = this.#views.get(id);
    if (
      slot &&
      slot.client === state.client &&
      slot.uid === state.uid &&
      slot.generation === state.generation
    ) {
      return;
    }
    this.#dropView(id);
    const view = new RemoteView({
      client: state.client,
      clock: this.#clock,
      pollIntervalMs: state.info.pollIntervalMs,
      store: id,
      metrics: this.#viewMetrics,
      log: this.#log.child({ store: describeStore(key) }),
      onChange: (resources) => {
        for (const listener of this.#remoteListeners) {
          try {
            listener(resources);
          } catch (err) {
            this.#log.error({ err }, 'remote change listener threw');
          }
        }
      },
    });
    this.#views.set(id, {
      view,
      client: state.client,
      uid: state.uid,
      generation: state.generation,
    });
  }

  #dropView(id: string): void {
    const slot = this.#views.get(id);
    if (!slot) return;
    slot.view.stop();
    this.#views.delete(id);
    for (const [resource, store] of this.#viewOf) if (store === id) this.#viewOf.delete(resource);
  }

  /** Store keys with a recorded state (to drop clients of stores that went away). */
  knownStores(): string[] {
    return [...this.#states.keys()];
  }

  /**
   * Called when a store's store changes readiness (or its client is replaced): resource
   * controllers enqueue the resources that use it. Returns an unsubscribe function.
   */
  onStoreChange(listener: StoreChange): () => void {
    this.#storeListeners.add(listener);
    return () => this.#storeListeners.delete(listener);
  }

  /** Called when a namespace appears or its labels change (ClusterSecretStore admission). */
  onNamespaceChange(listener: NamespaceChange): () => void {
    this.#namespaceListeners.add(listener);
    return () => this.#namespaceListeners.delete(listener);
  }

  /**
   * A resource controller saw the store's credentials rejected (Unauthenticated): asks the store
   * controller to re-read the API key Secret and validate again now.
   */
  requestRecheck(key: StoreKey): void {
    for (const listener of this.#recheckListeners) listener(key);
  }

  onRecheck(listener: (key: StoreKey) => void): () => void {
    this.#recheckListeners.add(listener);
    return () => this.#recheckListeners.delete(listener);
  }

  #emitStore(key: StoreKey, ready: boolean): void {
    for (const listener of this.#storeListeners) {
      try {
        listener(key, ready);
      } catch (err) {
        this.#log.error({ err }, 'store change listener threw');
      }
    }
  }
}
