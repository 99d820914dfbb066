// The ExternalSecret controller: reads Secrets Manager through the resource's store and keeps
// the target Secret equal to it, writing only when the data changed, never writing a partial
// Secret and never blanking or rolling one back because the remote side failed.
import type { V1Secret } from '@kubernetes/client-node';
import {
  API_VERSION,
  type Condition,
  type ConditionUpdate,
  conditionUnchanged,
  type ExternalSecret,
  externalSecretTargetName,
  findCondition,
  parseExternalSecret,
  READY,
  EXTERNAL_SECRET_REASONS as REASONS,
  type RefreshPlan,
  refreshPlan,
  setCondition,
  toRfc3339,
} from '../../api/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import { describeError } from '../../runtime/errors.ts';
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import { isApiError } from '../../runtime/kube.ts';
import type { Logger, ObjectKey } from '../../runtime/logger.ts';
import type { ReconcileContext, Reconciler, Result } from '../../runtime/reconciler.ts';
import { isUnauthenticated } from '../../secretsmanager/index.ts';
import { ANNOTATIONS, FINALIZERS } from '../constants.ts';
import type { EventRecorder } from '../events.ts';
import type { HashKeySource } from '../hashkey.ts';
import type { CustomResources } from '../resources.ts';
import { type RolloutApi, type RolloutResult, rolloutRestart } from '../rollout.ts';
import {
  applySecret,
  decodeData,
  deleteSecretIfOwned,
  hashData,
  isManagedSecret,
  readSecret,
  releaseSecret,
  type SecretsApi,
  secretDataHash,
} from '../secrets.ts';
import { describeStore, type StoreRegistry } from '../stores.ts';
import { type FetchFailure, fetchSecretData } from './fetch.ts';
import { RefreshGate } from './gate.ts';
import type { ExternalSecretMetrics } from './metrics.ts';
import { nextRefreshAt, overdueDelayMs } from './refresh.ts';

const KIND = 'ExternalSecret';
/** Safety nets for states that events normally end (a store becoming ready, a Secret created). */
const STORE_PENDING_RETRY_MS = 2_000;
const STORE_NOT_READY_RETRY_MS = 60_000;
const FORBIDDEN_RETRY_MS = 10 * 60_000;
const MERGE_TARGET_RETRY_MS = 30_000;
/** Retry of failures that are states rather than errors, for resources that sync once. */
const STATE_RETRY_MS = 5 * 60_000;
/** How long a status write of ours is recognised when its watch event comes back. */
const ECHO_WINDOW_MS = 30_000;

export interface ExternalSecretReconcilerOptions {
  externalSecrets: Informer<KubeObject>;
  managedSecrets: Informer<KubeObject>;
  stores: StoreRegistry;
  core: SecretsApi;
  resources: CustomResources;
  events: EventRecorder;
  hashKey: HashKeySource;
  rollout: RolloutApi;
  clock: Clock;
  metrics: ExternalSecretMetrics;
  /** Refreshes that may sync at once; the other workers stay free for new resources. */
  refreshSlots: number;
  random?: () => number;
}

/** Why a reconcile reads Secrets Manager; undefined: nothing to do until the next refresh. */
type DueReason = 'spec' | 'retry' | 'force' | 'secretMissing' | 'secretChanged' | 'refresh';

type Status = NonNullable<ExternalSecret['status']>;

interface Written {
  resourceVersion: string | undefined;
  hash: string;
}

export class ExternalSecretReconciler implements Reconciler {
  readonly name = 'externalsecret';
  readonly #o: ExternalSecretReconcilerOptions;
  readonly #gate: RefreshGate;
  /** The Secret resourceVersion our last write left, per ExternalSecret (in memory only). */
  readonly #written = new Map<string, Written>();
  /** resourceVersions of our own status writes, to ignore their watch events. */
  readonly #echoes = new Map<string, { resourceVersion: string; at: number }>();
  /** Keys seen since this process started (an overdue refresh at first sight is spread). */
  readonly #seen = new Set<string>();
  /** The status this process last wrote, per key (see reconcile). */
  readonly #statuses = new Map<string, { uid: string | undefined; status: unknown }>();
  /** Ready status/reason per key, for the resources gauge. */
  readonly #readiness = new Map<string, string>();

  constructor(options: ExternalSecretReconcilerOptions) {
    this.#o = options;
    this.#gate = new RefreshGate(options.refreshSlots);
  }

  /**
   * Whether a watch event of this object is the echo of our own status write (only status and
   * resourceVersion changed), which needs no reconcile.
   */
  isOwnEcho(obj: KubeObject): boolean {
    const id = idOf(obj.metadata);
    const echo = this.#echoes.get(id);
    if (!echo) return false;
    if (this.#o.clock.now() - echo.at > ECHO_WINDOW_MS) {
      this.#echoes.delete(id);
      return false;
    }
    return echo.resourceVersion === obj.metadata.resourceVersion;
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Result | undefined> {
    const namespace = key.namespace as string;
    const id = `${namespace}/${key.name}`;
    const cached = this.#o.externalSecrets.get(namespace, key.name);
    if (!cached) {
      this.#forget(id);
      return undefined;
    }
    // Only this controller writes status, so the status it wrote last is newer than (or equal
    // to) the cache's, which may not have caught up: an event of our own Secret write must not
    // see the old status and sync (and restart workloads) a second time.
    const remembered = this.#statuses.get(id);
    const raw: KubeObject =
      remembered && remembered.uid === cached.metadata.uid
        ? { ...cached, status: remembered.status }
        : cached;
    const firstSight = !this.#seen.has(id);
    this.#seen.add(id);
    const parsed = parseExternalSecret(raw);
    if (raw.metadata.deletionTimestamp) {
      await this.#finalize(raw, parsed.ok ? parsed.value : undefined, ctx.log);
      return undefined;
    }
    if (!parsed.ok) {
      await this.#setStatus(raw, undefined, {
        ready: false,
        reason: REASONS.InvalidSpec,
        message: parsed.message,
      });
      return undefined;
    }
    const es = parsed.value;
    await this.#ensureFinalizer(raw, es);
    const now = this.#o.clock.now();
    const plan = refreshPlan(es.spec);
    const due = await this.#dueReason(es, plan, now);
    ctx.log.debug(
      { resourceVersion: raw.metadata.resourceVersion, due: due ?? 'nothing' },
      'reconciling',
    );
    if (!due) return this.#blocked(es) ? undefined : this.#untilNextRefresh(es, plan, now);
    if (due === 'refresh') {
      // Overdue at first sight (operator restarted after the refresh time): spread, not burst.
      const delay = firstSight ? overdueDelayMs(es.metadata.uid ?? id, plan) : 0;
      if (delay >= 1_000) return { requeueAfterMs: delay };
      if (!this.#gate.tryEnter()) {
        this.#o.metrics.refreshesDeferred.inc();
        return { requeueAfterMs: RefreshGate.deferMs(this.#o.random) };
      }
      try {
        return await this.#sync(raw, es, plan, due, ctx);
      } finally {
        this.#gate.leave();
      }
    }
    return this.#sync(raw, es, plan, due, ctx);
  }

  // --- deciding ------------------------------------------------------------------------------

  /** Not again for this generation: a bad spec, or a credential that would mint another key. */
  #blocked(es: ExternalSecret): boolean {
    const ready = findCondition(es.status?.conditions, READY);
    return (
      ready?.status === 'False' &&
      ready.observedGeneration === (es.metadata.generation ?? 0) &&
      (ready.reason === REASONS.InvalidSpec || ready.reason === REASONS.UseIAMCredentialLease)
    );
  }

  async #dueReason(
    es: ExternalSecret,
    plan: RefreshPlan,
    now: number,
  ): Promise<DueReason | undefined> {
    const status: Status = es.status ?? {};
    const generation = es.metadata.generation ?? 0;
    const ready = findCondition(status.conditions, READY);
    if (this.#blocked(es)) return undefined;
    if (status.observedGeneration !== generation) return 'spec';
    const force = es.metadata.annotations?.[ANNOTATIONS.forceSync];
    if (force !== undefined && force !== status.forceSyncValue) return 'force';
    if (ready?.status !== 'True') return 'retry';
    if (status.syncedDataHash !== undefined) {
      const target = await this.#targetMeta(es);
      if (!target) return 'secretMissing';
      if (
        es.spec.target.creationPolicy !== 'Merge' &&
        secretDataHash(target) !== status.syncedDataHash
      ) {
        return 'secretChanged';
      }
    }
    const next = this.#nextRefresh(es, plan);
    return next !== undefined && next <= now ? 'refresh' : undefined;
  }

  #nextRefresh(es: ExternalSecret, plan: RefreshPlan): number | undefined {
    const last = es.status?.refreshTime ? Date.parse(es.status.refreshTime) : undefined;
    if (last === undefined) return this.#o.clock.now();
    return nextRefreshAt(plan, last, es.metadata.uid ?? idOf(es.metadata));
  }

  #untilNextRefresh(es: ExternalSecret, plan: RefreshPlan, now: number): Result | undefined {
    const next = this.#nextRefresh(es, plan);
    return next === undefined ? undefined : { requeueAfterMs: Math.max(1, next - now) };
  }

  /** The target Secret's metadata: from the label-scoped cache, confirmed with a GET if absent. */
  async #targetMeta(es: ExternalSecret): Promise<Pick<V1Secret, 'metadata'> | undefined> {
    const namespace = es.metadata.namespace as string;
    const name = externalSecretTargetName(es);
    const cached = this.#o.managedSecrets.get(namespace, name);
    if (cached) return cached as Pick<V1Secret, 'metadata'>;
    // Not in the cache: deleted, not labelled yet (Merge), or our write is not back yet.
    return readSecret(this.#o.core, namespace, name);
  }

  // --- syncing -------------------------------------------------------------------------------

  async #sync(
    raw: KubeObject,
    es: ExternalSecret,
    plan: RefreshPlan,
    why: DueReason,
    ctx: ReconcileContext,
  ): Promise<Result | undefined> {
    const { stores, metrics } = this.#o;
    const namespace = es.metadata.namespace as string;
    const targetName = externalSecretTargetName(es);
    const log = ctx.log.child({ reason: why });
    const resolved = stores.resolve(namespace, es.spec.storeRef);
    if (!resolved.ok) {
      if (resolved.pending) {
        log.debug('store not validated yet; waiting');
        return { requeueAfterMs: STORE_PENDING_RETRY_MS };
      }
      await this.#setStatus(raw, es, {
        ready: false,
        reason: resolved.reason === 'Forbidden' ? REASONS.Forbidden : REASONS.StoreNotReady,
        message: resolved.message,
      });
      return {
        requeueAfterMs:
          resolved.reason === 'Forbidden' ? FORBIDDEN_RETRY_MS : STORE_NOT_READY_RETRY_MS,
      };
    }
    const storeLabel = describeStore(resolved.store);

    // Check the target before reading Secrets Manager: no read when we could not write anyway.
    let existing: V1Secret | undefined;
    const routine = why === 'refresh' || why === 'force';
    if (!routine) {
      existing = await readSecret(this.#o.core, namespace, targetName);
      const blocked = this.#targetProblem(es, existing);
      if (blocked) {
        await this.#setStatus(raw, es, { ready: false, ...blocked.status });
        return { requeueAfterMs: blocked.retryMs };
      }
    }

    const fetched = await fetchSecretData(resolved.client, es.spec);
    if (!fetched.ok) {
      return this.#fetchFailed(raw, es, plan, fetched.failure, storeLabel, resolved.store, log);
    }
    const data = fetched.data;
    const hash = hashData(data, await this.#o.hashKey.get());
    const status: Status = es.status ?? {};
    const changed = await this.#needsWrite(es, data, hash, existing);
    if (changed) {
      if (routine) {
        existing = await readSecret(this.#o.core, namespace, targetName);
        const blocked = this.#targetProblem(es, existing);
        if (blocked) {
          await this.#setStatus(raw, es, { ready: false, ...blocked.status });
          return { requeueAfterMs: blocked.retryMs };
        }
      }
      try {
        await this.#write(es, data, hash, existing);
      } catch (err) {
        metrics.syncs.inc({ result: REASONS.SyncError });
        await this.#setStatus(raw, es, {
          ready: false,
          reason: REASONS.SyncError,
          message: `writing Secret ${targetName} failed: ${describeError(err).message}; retried with backoff`,
        });
        throw err;
      }
      metrics.syncs.inc({ result: 'written' });
      log.info({ keys: Object.keys(data).length, secret: targetName }, 'wrote the target Secret');
    } else {
      metrics.syncs.inc({ result: 'unchanged' });
      log.debug({ secret: targetName }, 'target Secret already up to date');
    }
    await this.#dropRenamedTarget(es, status);

    const previousHash = status.syncedDataHash;
    const dataChanged = previousHash !== undefined && previousHash !== hash;
    if (dataChanged) {
      this.#o.events.record(
        subject(raw),
        'Normal',
        'Updated',
        `Secret ${targetName} updated: the data in Secrets Manager changed`,
      );
      await this.#rollout(raw, es);
    }
    const now = this.#o.clock.now();
    const next = plan.kind === 'once' ? undefined : nextRefreshAt(plan, now, es.metadata.uid ?? '');
    const keys = Object.keys(data).length;
    await this.#setStatus(
      raw,
      es,
      {
        ready: true,
        reason: REASONS.Synced,
        message: `${keys} ${keys === 1 ? 'key' : 'keys'} from ${storeLabel} in Secret ${targetName}`,
      },
      {
        refreshTime: toRfc3339(new Date(now)),
        nextRefreshTime: next === undefined ? null : toRfc3339(new Date(next)),
        syncedDataHash: hash,
        secretName: targetName,
        forceSyncValue: es.metadata.annotations?.[ANNOTATIONS.forceSync] ?? null,
      },
    );
    return next === undefined ? undefined : { requeueAfterMs: Math.max(1, next - now) };
  }

  /**
   * Whether the Secret must be written. Not when the data hash equals what status recorded, the
   * Secret still carries that hash, and either its resourceVersion is the one our last write
   * left or (after a restart, or someone else touched it) its values still match.
   */
  async #needsWrite(
    es: ExternalSecret,
    data: Record<string, string>,
    hash: string,
    existing: V1Secret | undefined,
  ): Promise<boolean> {
    const status: Status = es.status ?? {};
    const generation = es.metadata.generation ?? 0;
    const targetName = externalSecretTargetName(es);
    if (status.syncedDataHash !== hash || status.secretName !== targetName) return true;
    // Labels, annotations, type or policy may have changed with the spec: apply them.
    if (status.observedGeneration !== generation) return true;
    const merge = es.spec.target.creationPolicy === 'Merge';
    const namespace = es.metadata.namespace as string;
    const cached =
      (existing as KubeObject | undefined) ?? this.#o.managedSecrets.get(namespace, targetName);
    if (!cached) return true;
    if (!merge && secretDataHash(cached as Pick<V1Secret, 'metadata'>) !== hash) return true;
    const written = this.#written.get(idOf(es.metadata));
    if (written?.hash === hash && written.resourceVersion === cached.metadata.resourceVersion) {
      return false;
    }
    // Unknown to this process, or changed since our write: compare the values themselves.
    const full = existing?.data ? existing : await readSecret(this.#o.core, namespace, targetName);
    if (!full) return true;
    const current = decodeData(full.data);
    const same = Object.entries(data).every(([k, v]) => current[k] === v);
    if (same) {
      this.#written.set(idOf(es.metadata), {
        resourceVersion: full.metadata?.resourceVersion,
        hash,
      });
    }
    return !same;
  }

  /** Why the target cannot be written now, if it cannot. */
  #targetProblem(
    es: ExternalSecret,
    existing: V1Secret | undefined,
  ): { status: { reason: string; message: string }; retryMs: number } | undefined {
    const name = externalSecretTargetName(es);
    const policy = es.spec.target.creationPolicy;
    const uid = es.metadata.uid ?? '';
    if (policy === 'Merge') {
      if (existing) return undefined;
      return {
        status: {
          reason: REASONS.SyncError,
          message: `Secret ${name} does not exist; creationPolicy Merge only adds keys to an existing Secret, so this waits for it`,
        },
        retryMs: MERGE_TARGET_RETRY_MS,
      };
    }
    if (!existing) return undefined;
    const ours = isManagedSecret(existing);
    const owners = (existing.metadata?.ownerReferences ?? []).filter((ref) => ref.controller);
    const ownedByOther = owners.some((ref) => ref.uid !== uid);
    if (!ours || (policy === 'Owner' && ownedByOther) || (policy === 'Orphan' && ownedByOther)) {
      return {
        status: {
          reason: REASONS.TargetConflict,
          message: ours
            ? `Secret ${name} is owned by another object; choose another spec.target.name`
            : `Secret ${name} exists and was not created by this operator; delete it, choose another spec.target.name, or use creationPolicy Merge`,
        },
        retryMs: STATE_RETRY_MS,
      };
    }
    return undefined;
  }

  async #write(
    es: ExternalSecret,
    data: Record<string, string>,
    hash: string,
    existing: V1Secret | undefined,
  ): Promise<void> {
    const { core, metrics } = this.#o;
    const namespace = es.metadata.namespace as string;
    const name = externalSecretTargetName(es);
    const target = es.spec.target;
    const merge = target.creationPolicy === 'Merge';
    const type = merge ? undefined : (target.type ?? 'Opaque');
    // The type of a Secret cannot change; one of ours is recreated with the new type.
    if (!merge && existing && existing.type !== undefined && existing.type !== type) {
      await deleteSecretIfOwned(core, namespace, name);
      metrics.secretWrites.inc({ operation: 'delete' });
    }
    const written = await applySecret(core, {
      namespace,
      name,
      data,
      ...(type !== undefined ? { type } : {}),
      ...(target.labels ? { labels: target.labels } : {}),
      annotations: merge
        ? { ...target.annotations }
        : { ...target.annotations, [ANNOTATIONS.dataHash]: hash },
      ...(target.creationPolicy === 'Owner'
        ? {
            owner: {
              apiVersion: API_VERSION,
              kind: KIND,
              name: es.metadata.name,
              uid: es.metadata.uid ?? '',
            },
          }
        : {}),
    });
    metrics.secretWrites.inc({ operation: 'apply' });
    this.#written.set(idOf(es.metadata), {
      resourceVersion: written.metadata?.resourceVersion,
      hash,
    });
  }

  /** After spec.target.name changed, the Secret written under the old name is cleaned up. */
  async #dropRenamedTarget(es: ExternalSecret, status: Status): Promise<void> {
    const old = status.secretName;
    const namespace = es.metadata.namespace as string;
    if (old === undefined || old === externalSecretTargetName(es)) return;
    const policy = es.spec.target.creationPolicy;
    if (policy === 'Owner') {
      if (await deleteSecretIfOwned(this.#o.core, namespace, old, es.metadata.uid)) {
        this.#o.metrics.secretWrites.inc({ operation: 'delete' });
      }
    } else if (policy === 'Merge') {
      await releaseSecret(this.#o.core, namespace, old);
      this.#o.metrics.secretWrites.inc({ operation: 'release' });
    }
  }

  async #rollout(raw: KubeObject, es: ExternalSecret): Promise<void> {
    const targets = es.spec.rolloutRestartTargets ?? [];
    if (targets.length === 0) return;
    const namespace = es.metadata.namespace as string;
    const stamp = toRfc3339(new Date(this.#o.clock.now()));
    let result: RolloutResult;
    try {
      result = await rolloutRestart(this.#o.rollout, namespace, targets, stamp);
    } catch (err) {
      result = {
        restarted: [],
        failed: targets.map((t) => ({
          target: `${t.kind}/${t.name}`,
          message: describeError(err).message,
        })),
      };
    }
    const { metrics, events } = this.#o;
    if (result.restarted.length > 0) {
      metrics.rolloutRestarts.inc({ result: 'restarted' }, result.restarted.length);
      events.record(
        subject(raw),
        'Normal',
        'RolloutRestart',
        `restarted ${result.restarted.join(', ')} after the Secret changed`,
      );
    }
    for (const failure of result.failed) {
      metrics.rolloutRestarts.inc({ result: 'failed' });
      events.record(
        subject(raw),
        'Warning',
        'RolloutRestartFailed',
        `cannot restart ${failure.target}: ${failure.message}`,
      );
    }
  }

  async #fetchFailed(
    raw: KubeObject,
    es: ExternalSecret,
    plan: RefreshPlan,
    failure: FetchFailure,
    storeLabel: string,
    store: Parameters<StoreRegistry['requestRecheck']>[0],
    log: Logger,
  ): Promise<Result | undefined> {
    const { metrics } = this.#o;
    const later = (): Result => {
      const next = this.#nextRefreshFromNow(es, plan);
      return { requeueAfterMs: next };
    };
    switch (failure.kind) {
      case 'notFound': {
        metrics.syncs.inc({ result: REASONS.RemoteSecretNotFound });
        let message = `${failure.message} (read through ${storeLabel}); the Secret keeps its last data`;
        const extra: Record<string, unknown> = {};
        if (failure.allGone && es.spec.target.deletionPolicy === 'Delete') {
          const removed = await this.#removeTarget(es);
          message = `${failure.message} (read through ${storeLabel}); ${removed} (deletionPolicy Delete)`;
          extra.syncedDataHash = null;
        }
        await this.#setStatus(
          raw,
          es,
          { ready: false, reason: REASONS.RemoteSecretNotFound, message },
          extra,
        );
        return later();
      }
      case 'invalid':
        metrics.syncs.inc({ result: REASONS.InvalidSpec });
        await this.#setStatus(raw, es, {
          ready: false,
          reason: REASONS.InvalidSpec,
          message: failure.message,
        });
        return undefined;
      case 'mintsKeys':
        metrics.syncs.inc({ result: REASONS.UseIAMCredentialLease });
        await this.#setStatus(raw, es, {
          ready: false,
          reason: REASONS.UseIAMCredentialLease,
          message: failure.message,
        });
        return undefined;
      case 'content':
        metrics.syncs.inc({ result: REASONS.SyncError });
        await this.#setStatus(raw, es, {
          ready: false,
          reason: REASONS.SyncError,
          message: `${failure.message}; the Secret keeps its last data`,
        });
        return later();
      case 'forbidden':
        metrics.syncs.inc({ result: REASONS.Forbidden });
        await this.#setStatus(raw, es, {
          ready: false,
          reason: REASONS.Forbidden,
          message: `${failure.message}; the Secret keeps its last data`,
        });
        return later();
      case 'remote': {
        metrics.syncs.inc({ result: REASONS.SyncError });
        if (isUnauthenticated(failure.error)) this.#o.stores.requestRecheck(store);
        await this.#setStatus(raw, es, {
          ready: false,
          reason: REASONS.SyncError,
          message: `reading through ${storeLabel} failed: ${failure.message}; the Secret keeps its last data and this is retried with backoff`,
        });
        const retryAfter = failure.error?.retryAfterMs;
        if (retryAfter !== undefined && retryAfter > 0) {
          log.info({ retryAfterMs: retryAfter }, 'Secrets Manager asked to retry later');
          return { requeueAfterMs: retryAfter };
        }
        // Throwing hands the key to the queue's per-key exponential backoff.
        throw Object.assign(new Error(`sync failed: ${failure.message}`), {
          code: failure.error?.code ?? 'SyncError',
        });
      }
    }
  }

  #nextRefreshFromNow(es: ExternalSecret, plan: RefreshPlan): number {
    const now = this.#o.clock.now();
    const next = plan.kind === 'once' ? undefined : nextRefreshAt(plan, now, es.metadata.uid ?? '');
    return Math.max(1_000, next === undefined ? STATE_RETRY_MS : next - now);
  }

  /** deletionPolicy Delete: delete the Secret we created, or take our keys out of a merged one. */
  async #removeTarget(es: ExternalSecret): Promise<string> {
    const namespace = es.metadata.namespace as string;
    const name = externalSecretTargetName(es);
    if (es.spec.target.creationPolicy === 'Merge') {
      await releaseSecret(this.#o.core, namespace, name);
      this.#o.metrics.secretWrites.inc({ operation: 'release' });
      return `removed our keys from Secret ${name}`;
    }
    const ownerUid = es.spec.target.creationPolicy === 'Owner' ? es.metadata.uid : undefined;
    const deleted = await deleteSecretIfOwned(this.#o.core, namespace, name, ownerUid);
    if (deleted) this.#o.metrics.secretWrites.inc({ operation: 'delete' });
    this.#written.delete(idOf(es.metadata));
    // The same words whether this call or an earlier one deleted it: a stable status message.
    return `deleted Secret ${name}`;
  }

  // --- finalizer -----------------------------------------------------------------------------

  /** A finalizer only where deletion needs more than garbage collection. */
  static needsFinalizer(es: ExternalSecret): boolean {
    return es.spec.target.deletionPolicy === 'Delete' && es.spec.target.creationPolicy !== 'Owner';
  }

  async #ensureFinalizer(raw: KubeObject, es: ExternalSecret): Promise<void> {
    const finalizers = raw.metadata.finalizers ?? [];
    const has = finalizers.includes(FINALIZERS.ExternalSecret);
    const needs = ExternalSecretReconciler.needsFinalizer(es);
    if (has === needs) return;
    const next = needs
      ? [...finalizers, FINALIZERS.ExternalSecret]
      : finalizers.filter((f) => f !== FINALIZERS.ExternalSecret);
    await this.#o.resources.setFinalizers(refOf(raw), next, raw.metadata.resourceVersion);
  }

  async #finalize(raw: KubeObject, es: ExternalSecret | undefined, log: Logger): Promise<void> {
    const finalizers = raw.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZERS.ExternalSecret)) return;
    if (es && ExternalSecretReconciler.needsFinalizer(es)) {
      const what = await this.#removeTarget(es);
      log.info({ cleanup: what }, 'ExternalSecret deleted; cleaned up its Secret');
    } else if (!es) {
      this.#o.events.record(
        subject(raw),
        'Warning',
        REASONS.InvalidSpec,
        'deleted with a spec that does not parse: its Secret was left as it is',
      );
    }
    try {
      await this.#o.resources.setFinalizers(
        refOf(raw),
        finalizers.filter((f) => f !== FINALIZERS.ExternalSecret),
        raw.metadata.resourceVersion,
      );
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
    }
    this.#forget(idOf(raw.metadata));
  }

  // --- status --------------------------------------------------------------------------------

  /**
   * Writes the Ready condition (and `extra` fields) through the status subresource, only when
   * something changed, and records an Event when Ready changes status or reason.
   */
  async #setStatus(
    raw: KubeObject,
    es: ExternalSecret | undefined,
    ready: { ready: boolean; reason: string; message: string },
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    const status = (raw as { status?: Status }).status ?? {};
    const generation = raw.metadata.generation ?? 0;
    const update: ConditionUpdate = {
      type: READY,
      status: ready.ready ? 'True' : 'False',
      reason: ready.reason,
      message: ready.message,
      observedGeneration: generation,
    };
    const current = status as Record<string, unknown>;
    const extraChanged = Object.entries(extra).some(
      ([k, v]) => (current[k] ?? null) !== (v ?? null),
    );
    const secretName = es ? externalSecretTargetName(es) : status.secretName;
    const unchanged =
      conditionUnchanged(status.conditions, update) &&
      status.observedGeneration === generation &&
      !extraChanged &&
      (secretName === undefined || status.secretName === secretName);
    this.#trackReadiness(idOf(raw.metadata), update);
    if (unchanged) return;
    const previous = findCondition(status.conditions, READY);
    const conditions: Condition[] = setCondition(
      status.conditions,
      update,
      new Date(this.#o.clock.now()),
    );
    const patched = (await this.#o.resources.patchStatus(refOf(raw), {
      conditions,
      observedGeneration: generation,
      ...(secretName !== undefined ? { secretName } : {}),
      ...extra,
    })) as KubeObject | undefined;
    if (patched?.status !== undefined) {
      this.#statuses.set(idOf(raw.metadata), { uid: raw.metadata.uid, status: patched.status });
    }
    const rv = patched?.metadata?.resourceVersion;
    if (rv) this.#echoes.set(idOf(raw.metadata), { resourceVersion: rv, at: this.#o.clock.now() });
    if (previous?.status !== update.status || previous?.reason !== update.reason) {
      this.#o.events.record(
        subject(raw),
        ready.ready ? 'Normal' : 'Warning',
        update.reason,
        update.message,
      );
    }
  }

  #trackReadiness(id: string, update: ConditionUpdate): void {
    const gauge = this.#o.metrics.resources;
    const label = `${update.status}|${update.reason}`;
    const before = this.#readiness.get(id);
    if (before === label) return;
    if (before) {
      const [ready, reason] = before.split('|') as [string, string];
      gauge.dec({ ready, reason });
    }
    gauge.inc({ ready: update.status, reason: update.reason });
    this.#readiness.set(id, label);
  }

  #forget(id: string): void {
    this.#written.delete(id);
    this.#statuses.delete(id);
    this.#echoes.delete(id);
    this.#seen.delete(id);
    const before = this.#readiness.get(id);
    if (before) {
      const [ready, reason] = before.split('|') as [string, string];
      this.#o.metrics.resources.dec({ ready, reason });
      this.#readiness.delete(id);
    }
  }
}

function idOf(metadata: { namespace?: string | undefined; name: string }): string {
  return `${metadata.namespace ?? ''}/${metadata.name}`;
}

function refOf(raw: KubeObject) {
  return {
    kind: KIND,
    name: raw.metadata.name,
    namespace: raw.metadata.namespace as string,
  } as const;
}

function subject(raw: KubeObject) {
  return { apiVersion: raw.apiVersion ?? API_VERSION, kind: KIND, metadata: raw.metadata };
}
