// The ClusterExternalSecret reconciler: reads the ClusterExternalSecret, the namespaces and the
// ExternalSecrets it made from the informer caches, plans (plan.ts), writes the difference and
// reports per namespace in status. Deleting a ClusterExternalSecret needs nothing from here: its
// ExternalSecrets carry a controller owner reference to it, so the garbage collector deletes them.
import {
  API_VERSION,
  type ClusterExternalSecret,
  DEFAULT_NAMESPACE_REFRESH_TIME,
  ExternalSecretSpec,
  type FailedNamespace,
  NAMESPACE_FAILURE_REASONS,
  namespaceAllowed,
  parseClusterExternalSecret,
  parseClusterSecretStore,
  parseDuration,
  parseWith,
  READY,
  CLUSTER_EXTERNAL_SECRET_REASONS as REASONS,
  setCondition,
} from '../../api/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import { describeError } from '../../runtime/errors.ts';
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import type { ObjectKey } from '../../runtime/logger.ts';
import type { ReconcileContext, Reconciler, Result } from '../../runtime/reconciler.ts';
import { LABELS } from '../shared/constants.ts';
import { byCodeUnit } from '../shared/order.ts';
import { EVENT_REASONS } from '../shared/reasons.ts';
import type { CustomResources } from '../shared/resources.ts';
import { type EventSink, StatusWriter } from '../shared/status.ts';
import type { StoreRegistry } from '../store/registry.ts';
import {
  type Admission,
  type ExistingExternalSecret,
  KIND,
  matchesTemplate,
  type NamespaceView,
  notOwned,
  ownerRefOf,
  ownership,
  type Plan,
  planNamespaces,
  type Template,
  templateOf,
} from './plan.ts';
import type { ExternalSecretWrites } from './writes.ts';

/** How soon to look again while an old ExternalSecret is still being deleted. */
export const WAITING_RETRY_MS = 2_000;
/** Writes in flight at once for one ClusterExternalSecret. */
const WRITE_CONCURRENCY = 8;
/** Namespaces named in one Event before "and N more". */
const EVENT_NAMESPACES = 10;
const MAX_FAILED = 1000;

export interface ClusterExternalSecretReconcilerOptions {
  clusterExternalSecrets: Informer<KubeObject>;
  /** ExternalSecrets with the cluster-external-secret label (ours, or claiming to be). */
  ownedExternalSecrets: Informer<KubeObject>;
  namespaces: Informer<KubeObject>;
  /** Only these namespaces get ExternalSecrets (the operator's --watch-namespaces); empty: all. */
  watchNamespaces: readonly string[];
  stores: Pick<StoreRegistry, 'getObject'>;
  writes: ExternalSecretWrites;
  resources: Pick<CustomResources, 'patchStatus' | 'replaceStatus'>;
  events: EventSink;
  clock: Clock;
}

export class ClusterExternalSecretReconciler implements Reconciler {
  readonly name = 'clusterexternalsecret';
  readonly #o: ClusterExternalSecretReconcilerOptions;
  readonly #status: StatusWriter;
  readonly #watched: ReadonlySet<string>;

  constructor(options: ClusterExternalSecretReconcilerOptions) {
    this.#o = options;
    this.#watched = new Set(options.watchNamespaces);
    this.#status = new StatusWriter({
      kind: KIND,
      resources: options.resources,
      events: options.events,
      clock: options.clock,
      mode: 'merge',
    });
  }

  isOwnEcho(obj: KubeObject): boolean {
    return this.#status.isOwnEcho(obj);
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Result | undefined> {
    const cached = this.#o.clusterExternalSecrets.get(undefined, key.name);
    if (!cached) {
      this.#status.forget({ metadata: key });
      return undefined;
    }
    const raw = this.#status.view(cached);
    // Being deleted: the garbage collector removes the ExternalSecrets (owner references).
    if (raw.metadata.deletionTimestamp) return undefined;
    const generation = raw.metadata.generation ?? 0;
    const parsed = parseClusterExternalSecret(raw);
    if (!parsed.ok) {
      // Nothing is created or deleted from a spec that cannot be read.
      await this.#writeStatus(raw, ctx.signal, {
        ready: { status: 'False', reason: REASONS.InvalidSpec, message: parsed.message },
        generation,
      });
      return undefined;
    }
    const ces = parsed.value;
    const template = templateOf(ces);
    const plan = planNamespaces({
      spec: ces.spec,
      externalSecretName: template.name,
      namespaces: this.#namespaces(),
      existing: this.#existing(ces, template),
      admit: this.#admission(ces),
    });
    const outcome = await this.#carryOut(ces, template, plan, ctx);
    this.#report(raw, outcome);
    const failed = [...plan.failed, ...outcome.failed]
      .sort((a, b) => byCodeUnit(a.namespace, b.namespace))
      .slice(0, MAX_FAILED);
    const provisioned = [...plan.provisioned, ...outcome.created, ...outcome.updated].sort();
    await this.#writeStatus(raw, ctx.signal, {
      ready: readyOf(provisioned.length, failed),
      generation,
      externalSecretName: template.name,
      provisioned,
      failed,
    });
    const refreshMs = parseDuration(ces.spec.refreshTime ?? DEFAULT_NAMESPACE_REFRESH_TIME);
    const waiting = plan.waiting.length > 0 || outcome.retry;
    return { requeueAfterMs: waiting ? Math.min(WAITING_RETRY_MS, refreshMs) : refreshMs };
  }

  #namespaces(): NamespaceView[] {
    return this.#o.namespaces
      .list()
      .filter((ns) => this.#watched.size === 0 || this.#watched.has(ns.metadata.name))
      .map((ns) => ({
        name: ns.metadata.name,
        labels: ns.metadata.labels ?? {},
        terminating: Boolean(ns.metadata.deletionTimestamp),
      }));
  }

  #existing(ces: ClusterExternalSecret, template: Template): ExistingExternalSecret[] {
    const owner = { name: ces.metadata.name, uid: ces.metadata.uid ?? '' };
    return this.#o.ownedExternalSecrets
      .list()
      .filter((es) => es.metadata.labels?.[LABELS.clusterExternalSecret] === ces.metadata.name)
      .map((es) => {
        const spec = parseWith(ExternalSecretSpec, es.spec);
        return {
          namespace: es.metadata.namespace as string,
          name: es.metadata.name,
          ...ownership(es.metadata.ownerReferences ?? [], owner),
          terminating: Boolean(es.metadata.deletionTimestamp),
          upToDate: matchesTemplate(template, spec.ok ? spec.value : undefined, es.metadata),
        };
      });
  }

  /** A ClusterSecretStore's conditions decide; a SecretStore is each namespace's own. */
  #admission(ces: ClusterExternalSecret): Admission {
    const ref = ces.spec.externalSecretSpec.storeRef;
    if (ref.kind !== 'ClusterSecretStore') return () => undefined;
    const obj = this.#o.stores.getObject({ kind: 'ClusterSecretStore', name: ref.name });
    const store = obj ? parseClusterSecretStore(obj) : undefined;
    // No store (yet), or one that cannot be read: it serves nobody, and each ExternalSecret
    // says so in its status until it is fixed; the conditions are applied once it can be read.
    if (!store?.ok) return () => undefined;
    const conditions = store.value.spec.conditions;
    return (namespace) =>
      namespaceAllowed(conditions, namespace)
        ? undefined
        : `ClusterSecretStore ${ref.name} does not admit namespace ${namespace.name} (see its ` +
          'spec.conditions), so no ExternalSecret is created there';
  }

  async #carryOut(
    ces: ClusterExternalSecret,
    template: Template,
    plan: Plan,
    ctx: ReconcileContext,
  ): Promise<Outcome> {
    const outcome: Outcome = { created: [], updated: [], removed: [], failed: [], retry: false };
    const owner = ownerRefOf(ces);
    const tasks: Array<() => Promise<void>> = [
      ...plan.create.map((namespace) => async () => {
        if (await this.#o.writes.create(namespace, template, owner)) {
          outcome.created.push(namespace);
          return;
        }
        // It exists: ours, just not in the cache yet, or someone else's.
        const current = await this.#o.writes.get(namespace, template.name);
        if (!current) {
          outcome.retry = true;
          return;
        }
        const { ours } = ownership(current.metadata.ownerReferences ?? [], {
          name: ces.metadata.name,
          uid: ces.metadata.uid ?? '',
        });
        if (ours) outcome.updated.push(namespace);
        else outcome.failed.push(notOwned(namespace, template.name));
      }),
      ...plan.update.map((es) => async () => {
        const cached = this.#o.ownedExternalSecrets.get(es.namespace, es.name);
        const resourceVersion = cached?.metadata.resourceVersion;
        if (!resourceVersion) return;
        await this.#o.writes.update(es.namespace, template, { resourceVersion });
        outcome.updated.push(es.namespace);
      }),
      ...plan.remove.map((es) => async () => {
        const uid = this.#o.ownedExternalSecrets.get(es.namespace, es.name)?.metadata.uid;
        if (!uid) return;
        await this.#o.writes.delete(es.namespace, es.name, uid);
        outcome.removed.push(`${es.namespace}/${es.name}`);
      }),
    ];
    const namespaces = [
      ...plan.create,
      ...plan.update.map((es) => es.namespace),
      ...plan.remove.map((es) => es.namespace),
    ];
    await runLimited(tasks, WRITE_CONCURRENCY, ctx.signal, (index, err) => {
      const namespace = namespaces[index] as string;
      const safe = describeError(err);
      ctx.log.warn({ err: safe, namespace }, 'cannot write the ExternalSecret');
      // A conflict is a cache behind the API server: the next reconcile sees the new object.
      if (safe.status === 409) outcome.retry = true;
      outcome.failed.push({
        namespace,
        reason: NAMESPACE_FAILURE_REASONS.WriteFailed,
        message: writeFailure(err),
      });
    });
    return outcome;
  }

  #report(raw: KubeObject, outcome: Outcome): void {
    const subject = { apiVersion: API_VERSION, kind: KIND, metadata: raw.metadata };
    if (outcome.created.length > 0) {
      this.#o.events.record(
        subject,
        'Normal',
        EVENT_REASONS.ExternalSecretsCreated,
        `created ExternalSecret in ${listNamespaces(outcome.created)}`,
      );
    }
    if (outcome.removed.length > 0) {
      this.#o.events.record(
        subject,
        'Normal',
        EVENT_REASONS.ExternalSecretsDeleted,
        `deleted ExternalSecrets no longer selected: ${listNamespaces(outcome.removed)}`,
      );
    }
  }

  async #writeStatus(
    raw: KubeObject,
    signal: AbortSignal,
    next: {
      ready: { status: 'True' | 'False'; reason: string; message: string };
      generation: number;
      externalSecretName?: string;
      provisioned?: string[];
      failed?: FailedNamespace[];
    },
  ): Promise<void> {
    const before = (raw.status ?? {}) as { conditions?: Parameters<typeof setCondition>[0] };
    const conditions = setCondition(
      before.conditions,
      { type: READY, ...next.ready, observedGeneration: next.generation },
      new Date(this.#o.clock.now()),
    );
    await this.#status.write(
      raw,
      {
        ...(raw.status as Record<string, unknown> | undefined),
        conditions,
        observedGeneration: next.generation,
        externalSecretName: next.externalSecretName,
        provisionedNamespaces:
          next.provisioned && next.provisioned.length > 0 ? next.provisioned : undefined,
        failedNamespaces: next.failed && next.failed.length > 0 ? next.failed : undefined,
      },
      signal,
    );
  }
}

interface Outcome {
  created: string[];
  updated: string[];
  /** `namespace/name` of each ExternalSecret deleted. */
  removed: string[];
  failed: FailedNamespace[];
  /** Something may have changed under us: look again soon rather than at the refresh time. */
  retry: boolean;
}

export function readyOf(
  provisioned: number,
  failed: readonly FailedNamespace[],
): { status: 'True' | 'False'; reason: string; message: string } {
  if (failed.length === 0) {
    return {
      status: 'True',
      reason: REASONS.Provisioned,
      message:
        provisioned === 0
          ? 'no namespace is selected'
          : `the ExternalSecret is in ${provisioned} namespace${provisioned === 1 ? '' : 's'}`,
    };
  }
  const names = listNamespaces(failed.map((f) => `${f.namespace} (${f.reason})`));
  if (provisioned === 0) {
    return {
      status: 'False',
      reason: REASONS.ProvisioningFailed,
      message: `no selected namespace has the ExternalSecret; failed: ${names}`,
    };
  }
  return {
    status: 'False',
    reason: REASONS.PartiallyProvisioned,
    message: `the ExternalSecret is in ${provisioned} namespace${provisioned === 1 ? '' : 's'}; failed: ${names}`,
  };
}

function listNamespaces(names: readonly string[]): string {
  const shown = names.slice(0, EVENT_NAMESPACES).join(', ');
  const more = names.length - EVENT_NAMESPACES;
  return more > 0 ? `${shown} and ${more} more` : shown;
}

/** The API server's refusal, in words safe for status (codes and the server's message). */
function writeFailure(err: unknown): string {
  const safe = describeError(err);
  const status = safe.status !== undefined ? `HTTP ${safe.status}: ` : '';
  return `${status}${safe.message}`.slice(0, 1000);
}

/** Runs `tasks` at most `limit` at a time; a failure is reported and the rest still run. */
async function runLimited(
  tasks: ReadonlyArray<() => Promise<void>>,
  limit: number,
  signal: AbortSignal,
  onError: (index: number, err: unknown) => void,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      signal.throwIfAborted();
      const index = next++;
      try {
        await (tasks[index] as () => Promise<void>)();
      } catch (err) {
        onError(index, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}
