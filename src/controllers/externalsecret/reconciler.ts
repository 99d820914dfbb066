import {
  API_VERSION,
  type ExternalSecret,
  externalSecretTargetName,
  MAX_RECORDED_SOURCES,
  type ParseResult,
  parseExternalSecret,
  EXTERNAL_SECRET_REASONS as REASONS,
  type RefreshPlan,
  refreshPlan,
  toRfc3339,
} from '../../api/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import { describeError } from '../../runtime/errors.ts';
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import { resourceId } from '../../runtime/intern.ts';
import type { Logger, ObjectKey } from '../../runtime/logger.ts';
import type { ReconcileContext, Reconciler, Result } from '../../runtime/reconciler.ts';
import { isUnauthenticated } from '../../secretsmanager/index.ts';
import { ANNOTATIONS, FINALIZERS } from '../shared/constants.ts';
import { hasFinalizer, removeFinalizer, setFinalizer } from '../shared/finalizers.ts';
import type { HashKeySource } from '../shared/hashkey.ts';
import { byCodeUnit } from '../shared/order.ts';
import { EVENT_REASONS } from '../shared/reasons.ts';
import type { CustomResources } from '../shared/resources.ts';
import { type RolloutApi, restartWorkloads } from '../shared/rollout.ts';
import { hashData, type SecretsApi, type SecretValue } from '../shared/secrets.ts';
import { type EventSink, StatusWriter } from '../shared/status.ts';
import { TargetReader } from '../shared/target.ts';
import type { ConfigMapSource } from '../shared/template.ts';
import { describeStore, rawStoreRef, type StoreKey } from '../store/key.ts';
import type { StoreRegistry } from '../store/registry.ts';
import type { RemoteView, SourceState } from '../store/view.ts';
import {
  type DueReason,
  dueReason,
  dueWithoutTarget,
  FORBIDDEN_RETRY_MS,
  findTypes,
  isBlocked,
  isRoutine,
  needsFinalizer,
  nextRefresh,
  nextStatus,
  presumesAbsentTarget,
  type ReadyState,
  retryAtNextRefreshMs,
  STORE_NOT_READY_RETRY_MS,
  STORE_PENDING_RETRY_MS,
  type Status,
  syncedMessage,
  targetProblem,
} from './decide.ts';
import { FAILURES, removedMessage, retryAfterFailure } from './failures.ts';
import { directRefs, type FetchFailure, fetchSecretData } from './fetch.ts';
import { RefreshGate } from './gate.ts';
import { type ExternalSecretMetrics, ReadinessGauge } from './metrics.ts';
import { maxValueAgeMs, nextRefreshAt, overdueDelayMs } from './refresh.ts';
import { buildData, templateMoved } from './template.ts';
import { TargetSecrets } from './writer.ts';

const KIND = 'ExternalSecret';

export interface ExternalSecretReconcilerOptions {
  externalSecrets: Informer<KubeObject>;
  managedSecrets: Informer<KubeObject>;
  /** `track` and `release` keep the store views' references (absent in tests without views). */
  stores: Pick<StoreRegistry, 'resolve' | 'requestRecheck'> &
    Partial<Pick<StoreRegistry, 'track' | 'release'>>;
  core: SecretsApi;
  resources: Pick<CustomResources, 'patchStatus' | 'replaceStatus' | 'setFinalizers'>;
  events: EventSink;
  hashKey: HashKeySource;
  rollout: RolloutApi;
  clock: Clock;
  metrics: ExternalSecretMetrics;
  /** Where spec.target.template.templateFrom ConfigMaps are read and watched. */
  configMaps: ConfigMapSource;
  /** Refreshes that may sync at once; the other workers stay free for new resources. */
  refreshSlots: number;
  /**
   * Enqueues a resource (its controller's queue): a sync whose values the store's view must
   * read first returns at once and is woken here when the reads are done. Without it, a sync
   * waits for its reads.
   */
  wake?: (key: ObjectKey) => void;
  random?: () => number;
}

/** What writing the target came to: written, already as wanted, or not ours (its Result). */
type WriteOutcome = 'written' | 'unchanged' | Result;

/** What one sync works with. */
interface Sync {
  raw: KubeObject;
  es: ExternalSecret;
  plan: RefreshPlan;
  why: DueReason;
  target: TargetReader;
  log: Logger;
  signal: AbortSignal;
}

export class ExternalSecretReconciler implements Reconciler {
  readonly name = 'externalsecret';
  readonly #o: ExternalSecretReconcilerOptions;
  readonly #gate: RefreshGate;
  readonly #status: StatusWriter;
  readonly #readiness: ReadinessGauge;
  readonly #targets: TargetSecrets;
  /** Keys seen since this process started (an overdue refresh at first sight is spread). */
  readonly #seen = new Set<string>();
  /** Keys whose reads the view did ahead of their sync, until that sync. */
  readonly #warmed = new Set<string>();
  /** Each object the cache holds is parsed once, not at every pass over it. */
  readonly #parsed = new WeakMap<object, ParseResult<ExternalSecret>>();

  constructor(options: ExternalSecretReconcilerOptions) {
    this.#o = options;
    this.#gate = new RefreshGate(options.refreshSlots);
    this.#status = new StatusWriter({
      kind: KIND,
      resources: options.resources,
      events: options.events,
      clock: options.clock,
      mode: 'merge',
    });
    this.#readiness = new ReadinessGauge(options.metrics.resources);
    this.#targets = new TargetSecrets(options.core, options.metrics);
  }

  /** Whether a watch event of this object is the echo of our own status write. */
  isOwnEcho(obj: KubeObject): boolean {
    return this.#status.isOwnEcho(obj);
  }

  /** Whether `secret` is exactly as the last write by the ExternalSecret `key` left it. */
  isOwnSecretEcho(key: ObjectKey, secret: KubeObject): boolean {
    return this.#targets.wrote(`${key.namespace ?? ''}/${key.name}`, secret);
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Result | undefined> {
    const namespace = key.namespace as string;
    const id = resourceId(key);
    const cached = this.#o.externalSecrets.get(namespace, key.name);
    if (!cached) {
      this.#forget(key);
      return undefined;
    }
    const raw = this.#status.view(cached);
    // Just started, the store not validated yet: nothing is worth doing before its verdict,
    // which enqueues every resource using it (ready or not). Checked before anything costly,
    // since at a start every resource comes here first.
    if (!raw.metadata.deletionTimestamp && this.#storePending(namespace, raw)) return undefined;
    const firstSight = !this.#seen.has(id);
    this.#seen.add(id);
    const parsed = this.#parse(raw);
    if (raw.metadata.deletionTimestamp) {
      await this.#finalize(raw, parsed.ok ? parsed.value : undefined, ctx);
      return undefined;
    }
    if (!parsed.ok) {
      const invalid = { ready: false, reason: REASONS.InvalidSpec, message: parsed.message };
      await this.#setStatus(raw, undefined, invalid, {}, ctx.signal);
      return undefined;
    }
    const es = parsed.value;
    ctx.signal.throwIfAborted();
    await setFinalizer(
      this.#o.resources,
      refOf(raw),
      raw,
      FINALIZERS.ExternalSecret,
      needsFinalizer(es),
    );
    const now = this.#o.clock.now();
    const plan = refreshPlan(es.spec);
    const target = new TargetReader(
      this.#o.core,
      namespace,
      externalSecretTargetName(es),
      this.#o.managedSecrets,
    );
    let due = dueReason(
      es,
      plan,
      now,
      dueWithoutTarget(es) === 'checkTarget' ? { meta: await target.meta() } : undefined,
    );
    if (!due && this.#remoteChanged(id, es, plan)) due = 'remoteChanged';
    if (!due && templateMoved(es, this.#o.configMaps)) due = 'template';
    ctx.log.debug(
      { resourceVersion: raw.metadata.resourceVersion, due: due ?? 'nothing' },
      'reconciling',
    );
    if (!due) {
      if (isBlocked(es)) return undefined;
      const next = nextRefresh(es, plan, now);
      return next === undefined ? undefined : { requeueAfterMs: Math.max(1, next - now) };
    }
    const sync: Sync = {
      raw,
      es,
      plan,
      why: due,
      target,
      log: ctx.log.child({ reason: due }),
      signal: ctx.signal,
    };
    if (due !== 'refresh') return this.#sync(sync);
    // Overdue at first sight (operator restarted after the refresh time): spread, not burst.
    const delay = firstSight ? overdueDelayMs(es.metadata.uid ?? id, plan) : 0;
    if (delay >= 1_000) return { requeueAfterMs: delay };
    if (!this.#gate.tryEnter()) {
      this.#o.metrics.refreshesDeferred.inc();
      return { requeueAfterMs: RefreshGate.deferMs(this.#o.random) };
    }
    try {
      return await this.#sync(sync);
    } finally {
      this.#gate.leave();
    }
  }

  #parse(raw: KubeObject): ParseResult<ExternalSecret> {
    let parsed = this.#parsed.get(raw);
    if (!parsed) {
      parsed = parseExternalSecret(raw);
      this.#parsed.set(raw, parsed);
    }
    return parsed;
  }

  /** Whether the store `raw` names (as written; the parse comes later) awaits validation. */
  #storePending(namespace: string, raw: KubeObject): boolean {
    const ref = rawStoreRef(raw);
    if (ref === null) return false;
    const resolved = this.#o.stores.resolve(namespace, ref);
    return !resolved.ok && resolved.pending === true;
  }

  // --- syncing -------------------------------------------------------------------------------

  async #sync(s: Sync): Promise<Result | undefined> {
    const { stores, metrics } = this.#o;
    const { raw, es, target, log, signal } = s;
    const targetName = target.name;
    const resolved = stores.resolve(target.namespace, es.spec.storeRef);
    if (!resolved.ok) {
      if (resolved.pending) {
        log.debug('store not validated yet; waiting');
        return { requeueAfterMs: STORE_PENDING_RETRY_MS };
      }
      const forbidden = resolved.reason === 'Forbidden';
      await this.#setStatus(
        raw,
        es,
        {
          ready: false,
          reason: forbidden ? REASONS.Forbidden : REASONS.StoreNotReady,
          message: resolved.message,
        },
        {},
        signal,
      );
      return { requeueAfterMs: forbidden ? FORBIDDEN_RETRY_MS : STORE_NOT_READY_RETRY_MS };
    }
    const store = describeStore(resolved.store);

    const view = resolved.view;
    // A Secret of ours the cache does not show does not exist: no read before writing it, and
    // the write is create-only (`#writeTarget`).
    if (presumesAbsentTarget(es)) target.presumeAbsent();
    // Backlogged behind the store's rate limit, a resource waits for its values in the view and
    // is woken when they are in (`#warm`); the pass that writes looks at the target then.
    if (view && this.#warm(s, view)) return undefined;
    // Check the target before reading Secrets Manager: no read when we could not write anyway
    // (one presumed absent costs nothing). Routine syncs (refreshes) look only when they have
    // something to write.
    if (!isRoutine(s.why)) {
      const blocked = await this.#blockedByTarget(s);
      if (blocked) return blocked;
    }
    // Through the store's shared view: a forced sync reads anew (and refreshes the view), any
    // other sync takes values the view read recently enough for this resource's refresh.
    const viewReader = view?.reader(this.#maxValueAgeMs(s, view));
    const fetched = await fetchSecretData(viewReader?.reader ?? resolved.client, es.spec, {
      signal,
    });
    signal.throwIfAborted();
    if (!fetched.ok) return this.#fetchFailed(s, fetched.failure, store, resolved.store);
    const built = await buildData(es, fetched.data, this.#o.configMaps);
    signal.throwIfAborted();
    if (!built.ok) return this.#templateFailed(s, built.message);
    const sources = viewReader ? recordable(viewReader.sources()) : undefined;
    const data = built.data;
    const hash = hashData(data, await this.#o.hashKey.get());
    const status: Status = es.status ?? {};
    let wrote: 'written' | 'unchanged' = 'unchanged';
    if (await this.#targets.needsWrite(s, data, hash)) {
      if (isRoutine(s.why)) {
        const blocked = await this.#blockedByTarget(s);
        if (blocked) return blocked;
      }
      let outcome: WriteOutcome;
      try {
        outcome = await this.#writeTarget(s, data, hash);
      } catch (err) {
        metrics.syncs.inc({ result: REASONS.SyncError });
        const message = `writing Secret ${targetName} failed: ${describeError(err).message}; retried with backoff`;
        await this.#setStatus(
          raw,
          es,
          { ready: false, reason: REASONS.SyncError, message },
          {},
          signal,
        );
        throw err;
      }
      if (typeof outcome !== 'string') return outcome;
      wrote = outcome;
    }
    if (wrote === 'written') {
      metrics.syncs.inc({ result: 'written' });
      log.info({ keys: Object.keys(data).length, secret: targetName }, 'wrote the target Secret');
    } else {
      metrics.syncs.inc({ result: 'unchanged' });
      log.debug({ secret: targetName }, 'target Secret already up to date');
    }
    await this.#targets.dropRenamed(s, status.secretName);

    if (status.syncedDataHash !== undefined && status.syncedDataHash !== hash) {
      this.#o.events.record(
        subject(raw),
        'Normal',
        EVENT_REASONS.Updated,
        `Secret ${targetName} updated: the data in Secrets Manager changed`,
      );
      await this.#rollout(s);
    }
    const now = this.#o.clock.now();
    const next =
      s.plan.kind === 'once' ? undefined : nextRefreshAt(s.plan, now, es.metadata.uid ?? '');
    const keys = Object.keys(data).length;
    await this.#setStatus(
      raw,
      es,
      { ready: true, reason: REASONS.Synced, message: syncedMessage(keys, store, targetName) },
      {
        refreshTime: toRfc3339(new Date(now)),
        nextRefreshTime: next === undefined ? null : toRfc3339(new Date(next)),
        syncedDataHash: hash,
        secretName: targetName,
        forceSyncValue: es.metadata.annotations?.[ANNOTATIONS.forceSync] ?? null,
        templateSources: built.sources ?? null,
        sources: sources === undefined || sources.length === 0 ? null : sources,
      },
      signal,
    );
    if (view && sources) this.#track(view, raw, es, sources, true);
    return next === undefined ? undefined : { requeueAfterMs: Math.max(1, next - now) };
  }

  /**
   * Writes the target Secret. A write that presumed no Secret exists is create-only; when it is
   * refused (someone else's Secret is there, or ours that the cache did not show yet) or fails,
   * the Secret is read and the sync goes on as if it had been read first: refused if it is not
   * ours to write, written again unless it already holds the data. A Result: it was not ours.
   */
  async #writeTarget(
    s: Sync,
    data: Readonly<Record<string, SecretValue>>,
    hash: string,
  ): Promise<WriteOutcome> {
    try {
      await this.#targets.write(s, data, hash);
      return 'written';
    } catch (err) {
      if (!s.target.presumed) throw err;
      s.log.debug(
        { secret: s.target.name, err: describeError(err) },
        'create-only write refused; reading the Secret',
      );
    }
    await s.target.look();
    s.signal.throwIfAborted();
    const blocked = await this.#blockedByTarget(s);
    if (blocked) return blocked;
    if (!(await this.#targets.needsWrite(s, data, hash))) return 'unchanged';
    await this.#targets.write(s, data, hash);
    return 'written';
  }

  /** A template failed: nothing is written; tried again at the next refresh or on a change. */
  async #templateFailed(s: Sync, message: string): Promise<Result | undefined> {
    this.#o.metrics.syncs.inc({ result: REASONS.TemplateError });
    const text = `${message}; nothing was written and the Secret keeps its last data`;
    const ready = { ready: false, reason: REASONS.TemplateError, message: text };
    await this.#setStatus(s.raw, s.es, ready, {}, s.signal);
    return { requeueAfterMs: retryAtNextRefreshMs(s.es, s.plan, this.#o.clock.now()) };
  }

  // --- the store's view ----------------------------------------------------------------------

  /**
   * Whether the store's lists show that a secret this (Ready, refreshing) resource synced from
   * moved or vanished. First sight after a start: the view learns the recorded sources here, so
   * a resource whose sources did not move is neither read nor written.
   */
  #remoteChanged(id: string, es: ExternalSecret, plan: RefreshPlan): boolean {
    if (plan.kind === 'once' || isBlocked(es) || !this.#o.stores.track) return false;
    const resolved = this.#o.stores.resolve(es.metadata.namespace as string, es.spec.storeRef);
    if (!resolved.ok || !resolved.view) return false;
    const recorded = (es.status?.sources ?? []) as SourceState[];
    if (!resolved.view.tracks(id)) {
      this.#o.stores.track(resolved.view, id, recorded, findTypes(es), false);
    }
    return resolved.view.changed(id, recorded);
  }

  /**
   * Whether the view is reading values this sync needs (it is woken when they are in): a
   * first sync of 10,000 resources waits for the store's rate limit in the view, not in the
   * workers, which meanwhile sync the resources whose values are at hand. Only when the view is
   * backlogged: otherwise its reads take milliseconds and the worker waits for them (joining
   * reads in flight), which costs less than a pass more. Once per sync: the woken pass syncs
   * whatever the reads brought (a failed read is read again and reported).
   */
  #warm(s: Sync, view: RemoteView): boolean {
    const wake = this.#o.wake;
    const id = resourceId(s.raw.metadata);
    if (this.#warmed.delete(id) || !wake || s.why === 'force' || !view.backlogged) return false;
    const key = { namespace: s.target.namespace, name: s.raw.metadata.name };
    const waiting = view.warm(directRefs(s.es.spec), this.#maxValueAgeMs(s, view), () => wake(key));
    if (waiting) {
      this.#warmed.add(id);
      // Not kept while it waits: at a first sync, a second copy of every waiting resource.
      this.#parsed.delete(s.raw);
    }
    return waiting;
  }

  #maxValueAgeMs(s: Sync, view: RemoteView): number {
    if (s.why === 'force') return 0;
    if (s.plan.kind === 'once') return view.pollIntervalMs > 0 ? Number.POSITIVE_INFINITY : 0;
    return maxValueAgeMs(s.plan, this.#o.clock.now(), s.es.metadata.uid ?? '');
  }

  #track(
    view: RemoteView,
    raw: KubeObject,
    es: ExternalSecret,
    sources: SourceState[],
    synced: boolean,
  ): void {
    const id = resourceId(raw.metadata);
    // A resource that syncs once does not follow remote changes.
    if (refreshPlan(es.spec).kind === 'once') this.#o.stores.release?.(id);
    else this.#o.stores.track?.(view, id, sources, findTypes(es), synced);
  }

  /** Reports a target that cannot be written (someone else's, missing for Merge). */
  async #blockedByTarget(s: Sync): Promise<Result | undefined> {
    const problem = targetProblem(s.es, await s.target.full());
    if (!problem) return undefined;
    const { reason, message } = problem;
    await this.#setStatus(s.raw, s.es, { ready: false, reason, message }, {}, s.signal);
    return { requeueAfterMs: problem.retryMs };
  }

  async #rollout(s: Sync): Promise<void> {
    const targets = s.es.spec.rolloutRestartTargets ?? [];
    if (targets.length === 0) return;
    s.signal.throwIfAborted();
    await restartWorkloads(
      this.#o.rollout,
      { events: this.#o.events, counter: this.#o.metrics.rolloutRestarts },
      subject(s.raw),
      targets,
      toRfc3339(new Date(this.#o.clock.now())),
      'after the Secret changed',
    );
  }

  /** Reports a failed read as the failures table says; the Secret keeps its last data. */
  async #fetchFailed(
    s: Sync,
    failure: FetchFailure,
    store: string,
    storeKey: StoreKey,
  ): Promise<Result | undefined> {
    const policy = FAILURES[failure.kind];
    this.#o.metrics.syncs.inc({ result: policy.reason });
    let message = policy.message(failure, store);
    const extra: Record<string, unknown> = {};
    if (
      failure.kind === 'notFound' &&
      failure.allGone &&
      s.es.spec.target.deletionPolicy === 'Delete'
    ) {
      s.signal.throwIfAborted();
      message = removedMessage(failure, store, await this.#targets.remove(s.es));
      extra.syncedDataHash = null;
    }
    if (failure.kind === 'remote' && isUnauthenticated(failure.error)) {
      this.#o.stores.requestRecheck(storeKey);
    }
    await this.#setStatus(
      s.raw,
      s.es,
      { ready: false, reason: policy.reason, message },
      extra,
      s.signal,
    );
    const wait = retryAfterFailure(policy, failure, () =>
      retryAtNextRefreshMs(s.es, s.plan, this.#o.clock.now()),
    );
    if (wait === 'backoff') {
      // Throwing hands the key to the queue's per-key exponential backoff.
      const code = failure.kind === 'remote' ? failure.error?.code : undefined;
      throw Object.assign(new Error(`sync failed: ${failure.message}`), {
        code: code ?? 'SyncError',
      });
    }
    if (wait !== undefined && failure.kind === 'remote') {
      s.log.info({ retryAfterMs: wait }, 'Secrets Manager asked to retry later');
    }
    return wait === undefined ? undefined : { requeueAfterMs: wait };
  }

  // --- deletion ------------------------------------------------------------------------------

  async #finalize(
    raw: KubeObject,
    es: ExternalSecret | undefined,
    { log, signal }: ReconcileContext,
  ): Promise<void> {
    if (!hasFinalizer(raw, FINALIZERS.ExternalSecret)) return;
    signal.throwIfAborted();
    if (es && needsFinalizer(es)) {
      const what = await this.#targets.remove(es);
      log.info({ cleanup: what }, 'ExternalSecret deleted; cleaned up its Secret');
    } else if (!es) {
      this.#o.events.record(
        subject(raw),
        'Warning',
        EVENT_REASONS.InvalidSpec,
        'deleted with a spec that does not parse: its Secret was left as it is',
      );
    }
    signal.throwIfAborted();
    await removeFinalizer(this.#o.resources, refOf(raw), raw, FINALIZERS.ExternalSecret);
    this.#forget(raw.metadata);
  }

  // --- status --------------------------------------------------------------------------------

  /** Ready (and `extra` fields; null removes one) through the status writer. */
  async #setStatus(
    raw: KubeObject,
    es: ExternalSecret | undefined,
    ready: ReadyState,
    extra: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    const next = nextStatus(raw, es, ready, extra, this.#o.clock.now());
    this.#readiness.track(resourceId(raw.metadata), ready.ready ? 'True' : 'False', ready.reason);
    await this.#status.write(raw, next, signal);
  }

  #forget(key: { namespace?: string | undefined; name: string }): void {
    const id = resourceId(key);
    this.#targets.forget(id);
    this.#seen.delete(id);
    this.#warmed.delete(id);
    this.#status.forget({
      metadata: { name: key.name, ...(key.namespace ? { namespace: key.namespace } : {}) },
    });
    this.#readiness.forget(id);
    this.#o.stores.release?.(id);
  }
}

/** Sources as recorded in status: sorted (a stable status), at most MAX_RECORDED_SOURCES. */
function recordable(sources: SourceState[]): SourceState[] {
  return sources
    .sort((a, b) => byCodeUnit(a.type, b.type) || byCodeUnit(a.id, b.id))
    .slice(0, MAX_RECORDED_SOURCES);
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
