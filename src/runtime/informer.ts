import { z } from 'zod';
import { type Cancel, type Clock, sleep } from './clock.ts';
import { describeError } from './errors.ts';
import { intern, internAny } from './intern.ts';
import { isApiError, KubeHttpError } from './kube.ts';
import {
  type ListWatchClient,
  type ResourceType,
  resourceName,
  resourcePath,
  type WatchEvent,
} from './listwatch.ts';
import type { Logger } from './logger.ts';

/** The part of every Kubernetes object the informer relies on. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    finalizers?: string[];
    ownerReferences?: Array<{
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
    }>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

const kubeObject = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().optional(),
    resourceVersion: z.string().optional(),
  }),
});

/** kubectl's copy of the last applied object: the spec again, as a JSON string. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops, in place, what no controller reads but every object carries: `metadata.managedFields`
 * (server-side apply bookkeeping, often larger than the spec) and kubectl's last-applied
 * annotation. Informers cache thousands of objects; these two fields were most of each. The
 * strings objects repeat (apiVersion, kind, namespace, labels, owners' kinds, creation and
 * condition times, condition reasons and messages) become one shared copy (see `intern`).
 */
export function trimObject(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const obj = raw as { apiVersion?: unknown; kind?: unknown; metadata?: unknown };
  // List items may lack apiVersion and kind: no property is added where there was none.
  if (obj.apiVersion !== undefined) obj.apiVersion = internAny(obj.apiVersion);
  if (obj.kind !== undefined) obj.kind = internAny(obj.kind);
  const metadata = obj.metadata;
  if (typeof metadata !== 'object' || metadata === null) return raw;
  const m = metadata as Record<string, unknown> & {
    labels?: Record<string, unknown>;
    annotations?: Record<string, string>;
  };
  delete m.managedFields;
  if (m.annotations && LAST_APPLIED_ANNOTATION in m.annotations) {
    delete m.annotations[LAST_APPLIED_ANNOTATION];
    if (Object.keys(m.annotations).length === 0) delete m.annotations;
  }
  if (m.namespace !== undefined) m.namespace = internAny(m.namespace);
  // Timestamps to the second: thousands of objects created or synced in the same second.
  if (m.creationTimestamp !== undefined) m.creationTimestamp = internAny(m.creationTimestamp);
  if (typeof m.labels === 'object' && m.labels !== null) {
    for (const key of Object.keys(m.labels)) m.labels[key] = internAny(m.labels[key]);
  }
  if (Array.isArray(m.ownerReferences)) {
    for (const owner of m.ownerReferences as Array<Record<string, unknown>>) {
      if (typeof owner !== 'object' || owner === null) continue;
      owner.apiVersion = internAny(owner.apiVersion);
      owner.kind = internAny(owner.kind);
    }
  }
  shareStatusStrings((raw as { status?: unknown }).status);
  return raw;
}

const CONDITION_FIELDS = ['type', 'status', 'reason', 'message', 'lastTransitionTime'] as const;

/**
 * The status fields the operator's kinds repeat across resources, as shared strings: conditions
 * (a Ready condition's reason and message are the same for every resource synced from one
 * store, its time the same for all synced in one second) and the last refresh time.
 */
function shareStatusStrings(status: unknown): void {
  if (typeof status !== 'object' || status === null) return;
  const s = status as { conditions?: unknown; refreshTime?: unknown };
  if (s.refreshTime !== undefined) s.refreshTime = internAny(s.refreshTime);
  if (!Array.isArray(s.conditions)) return;
  for (const condition of s.conditions as Array<Record<string, unknown>>) {
    if (typeof condition !== 'object' || condition === null) continue;
    for (const field of CONDITION_FIELDS) {
      if (condition[field] !== undefined) condition[field] = internAny(condition[field]);
    }
  }
}

/** Validates the metadata every object must have; the rest is the controller's to parse. */
export function parseKubeObject(raw: unknown): KubeObject {
  return kubeObject.parse(raw) as KubeObject;
}

/** Why a list/watch was restarted, as the `reason` label of `informer_restarts_total`. */
export type RestartReason = 'error' | 'expired' | 'stalled' | 'closed' | 'resync';

export interface EventHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
  /** Called for every cached object after each periodic relist, so controllers re-enqueue. */
  resync?(obj: T): void;
}

export interface InformerOptions<T extends KubeObject> {
  client: ListWatchClient;
  clock: Clock;
  log: Logger;
  type: ResourceType;
  /** Namespaces to watch; empty or omitted means all (ignored for cluster-scoped types). */
  namespaces?: readonly string[];
  labelSelector?: string;
  fieldSelector?: string;
  /** Watch `PartialObjectMetadata` only (e.g. Secrets, to keep memory flat). */
  metadataOnly?: boolean;
  /** Relist and resync every object this often; 0 disables. */
  resyncPeriodMs?: number;
  /** Parses each object from the API; defaults to `parseKubeObject` (metadata only). */
  parse?: (raw: unknown) => T;
  /** Called on every list/watch restart (bound to the `informer_restarts_total` metric). */
  onRestart?: (reason: RestartReason) => void;
  /** Backoff after errors: 1 s doubling to 30 s by default, with up to 20% jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Server-side watch timeout; defaults to a random 5-10 minutes, as client-go does. */
  watchTimeoutSeconds?: () => number;
  /** Source (0..1) of the backoff jitter and the default watch timeout; default Math.random. */
  random?: () => number;
  /** Objects per LIST page; default 500. */
  pageSize?: number;
}

/** Extra time past the server-side timeout before a silent watch counts as stalled. */
const STALL_GRACE_MS = 30_000;

class WatchRestart extends Error {
  readonly reason: RestartReason;

  constructor(reason: RestartReason) {
    super(`watch restarted: ${reason}`);
    this.reason = reason;
  }
}

function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * A cache of one resource type kept current by LIST + WATCH, that never stops by itself:
 * - any error restarts the list/watch with exponential backoff (a metric and a log line each);
 * - 410 Gone (an expired resourceVersion) relists at once, emitting deletes for what vanished;
 * - a watch silent past its timeout is treated as stalled and restarted;
 * - every `resyncPeriodMs` it relists and hands every object to `resync` handlers;
 * - several namespaces are watched separately and merged into one cache;
 * - lists are read page by page (500 objects each by default), and every cached object is
 *   trimmed of `managedFields` and kubectl's last-applied annotation (see `trimObject`).
 */
export class Informer<T extends KubeObject = KubeObject> {
  readonly #o: InformerOptions<T>;
  readonly #parse: (raw: unknown) => T;
  readonly #random: () => number;
  readonly #log: Logger;
  readonly #cache = new Map<string, T>();
  readonly #handlers = new Set<EventHandlers<T>>();
  readonly #scopes: Array<string | undefined>;
  readonly #synced = new Set<string | undefined>();
  readonly #watches = new Map<string | undefined, AbortController>();
  readonly #syncWaiters: Array<() => void> = [];
  #stop = new AbortController();
  /** Aborted (and replaced) to end every backoff wait at once: see `retryNow`. */
  #wake = new AbortController();
  #running: Promise<void>[] = [];
  #cancelResync: Cancel | undefined;

  constructor(options: InformerOptions<T>) {
    this.#o = options;
    this.#parse = options.parse ?? (parseKubeObject as (raw: unknown) => T);
    this.#random = options.random ?? Math.random;
    this.#log = options.log.child({ informer: resourceName(options.type) });
    const ns = options.type.namespaced ? (options.namespaces ?? []) : [];
    this.#scopes = ns.length > 0 ? [...new Set(ns)] : [undefined];
  }

  get resource(): string {
    return resourceName(this.#o.type);
  }

  /** True once every namespace has been listed at least once. */
  get hasSynced(): boolean {
    return this.#synced.size === this.#scopes.length;
  }

  /** Registers handlers; returns a function that removes them. */
  on(handlers: EventHandlers<T>): () => void {
    this.#handlers.add(handlers);
    return () => this.#handlers.delete(handlers);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#cache.get(objectKey(namespace, name));
  }

  /** Every cached object, or those of one namespace. */
  list(namespace?: string): T[] {
    const all = [...this.#cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  /** Starts listing and watching; returns at once. */
  start(): void {
    if (this.#running.length > 0) return;
    this.#stop = new AbortController();
    this.#running = this.#scopes.map((scope) => this.#reflect(scope));
    this.#scheduleResync();
  }

  /** Stops every watch and waits for the loops to end. The cache keeps its contents. */
  async stop(): Promise<void> {
    this.#stop.abort(new Error('informer stopped'));
    this.#cancelResync?.();
    await Promise.all(this.#running);
    this.#running = [];
  }

  /** Resolves once `hasSynced`; rejects if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /**
   * Ends any backoff wait: a list or watch that failed is tried again now rather than when its
   * backoff runs out. A replica that just became the leader calls it for caches it still waits
   * for; after a long outage of the API server the backoff has grown to many seconds, and every
   * one of them is a second with no reconcile.
   */
  retryNow(): void {
    this.#wake.abort();
    this.#wake = new AbortController();
  }

  #scheduleResync(): void {
    const period = this.#o.resyncPeriodMs ?? 0;
    if (period <= 0) return;
    this.#cancelResync = this.#o.clock.setTimeout(() => {
      for (const ac of this.#watches.values()) ac.abort(new WatchRestart('resync'));
      this.#scheduleResync();
    }, period);
  }

  #path(scope: string | undefined): string {
    return resourcePath(this.#o.type, scope);
  }

  async #reflect(scope: string | undefined): Promise<void> {
    const log = scope ? this.#log.child({ namespace: scope }) : this.#log;
    const stop = this.#stop.signal;
    let resourceVersion = '';
    let failures = 0;
    let resyncAfterList = false;
    while (!stop.aborted) {
      try {
        if (resourceVersion === '') {
          resourceVersion = await this.#list(scope, stop);
          if (resyncAfterList) this.#resyncScope(scope);
          resyncAfterList = false;
        }
        // Progress survives a failed watch: the next one resumes from the last version seen.
        await this.#watch(scope, resourceVersion, (rv) => {
          resourceVersion = rv;
          failures = 0;
        });
        this.#restarted(log, 'closed');
      } catch (err) {
        if (stop.aborted) break;
        const reason = restartReason(err);
        this.#restarted(log, reason, err);
        if (reason === 'expired' || reason === 'resync') {
          resourceVersion = '';
          resyncAfterList = reason === 'resync';
          continue;
        }
        if (reason === 'stalled') continue;
        failures++;
        const delay = this.#backoff(failures);
        log.warn({ err: describeError(err), retryInMs: delay, failures }, 'list/watch failed');
        await sleep(this.#o.clock, delay, AbortSignal.any([stop, this.#wake.signal])).catch(
          () => {},
        );
      }
    }
  }

  #restarted(log: Logger, reason: RestartReason, err?: unknown): void {
    this.#o.onRestart?.(reason);
    const fields = err === undefined ? { reason } : { reason, err: describeError(err) };
    if (reason === 'closed' || reason === 'resync') log.debug(fields, 'restarting watch');
    else log.info(fields, 'restarting list/watch');
  }

  #backoff(failures: number): number {
    const initial = this.#o.backoff?.initialMs ?? 1000;
    const max = this.#o.backoff?.maxMs ?? 30_000;
    const base = Math.min(initial * 2 ** (failures - 1), max);
    return Math.round(base * (1 + 0.2 * this.#random()));
  }

  /**
   * LISTs the scope page by page, reconciles the cache with it and returns the list's
   * resourceVersion. Each page goes into the cache as it arrives, so at most one page of raw
   * objects is alive at a time; what vanished is deleted once the last page is in. A failure
   * part way (a 410 for an expired continue token, a dropped connection) leaves the objects
   * seen so far in the cache, and the caller lists again from the start.
   */
  async #list(scope: string | undefined, signal: AbortSignal): Promise<string> {
    const pages = this.#o.client.list(this.#path(scope), {
      labelSelector: this.#o.labelSelector,
      fieldSelector: this.#o.fieldSelector,
      metadataOnly: this.#o.metadataOnly,
      ...(this.#o.pageSize ? { pageSize: this.#o.pageSize } : {}),
      signal,
    });
    const seen = new Set<string>();
    let resourceVersion = '';
    for await (const page of pages) {
      for (const raw of page.items) {
        const obj = this.#tryParse(raw);
        if (!obj) continue;
        seen.add(objectKey(obj.metadata.namespace, obj.metadata.name));
        this.#upsert(obj);
      }
      resourceVersion = page.resourceVersion;
    }
    for (const [key, obj] of this.#cache) {
      if (!seen.has(key) && this.#inScope(obj, scope)) {
        this.#cache.delete(key);
        this.#emit((h) => h.delete?.(obj));
      }
    }
    this.#markSynced(scope);
    return resourceVersion;
  }

  /** Watches from `resourceVersion` until the server closes; reports each version seen. */
  async #watch(
    scope: string | undefined,
    resourceVersion: string,
    onEvent: (resourceVersion: string) => void,
  ): Promise<void> {
    const timeoutSeconds =
      this.#o.watchTimeoutSeconds?.() ?? Math.round(300 + 300 * this.#random());
    const ac = new AbortController();
    const onStop = () => ac.abort(this.#stop.signal.reason);
    this.#stop.signal.addEventListener('abort', onStop, { once: true });
    // stop() may have run between the list and here; a listener added now would never fire.
    if (this.#stop.signal.aborted) onStop();
    this.#watches.set(scope, ac);
    let cancelStall: Cancel = () => {};
    const armStallTimer = () => {
      cancelStall();
      cancelStall = this.#o.clock.setTimeout(
        () => ac.abort(new WatchRestart('stalled')),
        timeoutSeconds * 1000 + STALL_GRACE_MS,
      );
    };
    try {
      if (ac.signal.aborted) return;
      armStallTimer();
      const events = this.#o.client.watch(this.#path(scope), {
        resourceVersion,
        timeoutSeconds,
        labelSelector: this.#o.labelSelector,
        fieldSelector: this.#o.fieldSelector,
        metadataOnly: this.#o.metadataOnly,
        signal: ac.signal,
      });
      for await (const event of events) {
        armStallTimer();
        const rv = this.#apply(event);
        if (rv) onEvent(rv);
      }
    } catch (err) {
      // An abort surfaces as the request's abort error; report the reason we aborted for.
      if (ac.signal.aborted && ac.signal.reason instanceof WatchRestart) throw ac.signal.reason;
      throw err;
    } finally {
      cancelStall();
      this.#stop.signal.removeEventListener('abort', onStop);
      this.#watches.delete(scope);
    }
  }

  /** Applies one watch event to the cache; returns its resourceVersion. */
  #apply(event: WatchEvent): string | undefined {
    if (event.type === 'ERROR') {
      const status = z
        .object({
          code: z.number().optional(),
          reason: z.string().optional(),
          message: z.string().optional(),
        })
        .safeParse(event.object);
      const code = status.success ? (status.data.code ?? 500) : 500;
      const reason = status.success ? status.data.reason : undefined;
      throw new KubeHttpError(code, reason, `watch error: ${status.data?.message ?? 'unknown'}`);
    }
    if (event.type === 'BOOKMARK') {
      // A bookmark carries only a resourceVersion (no name), so it is not parsed as an object.
      const bookmark = z
        .object({ metadata: z.object({ resourceVersion: z.string() }) })
        .safeParse(event.object);
      return bookmark.success ? bookmark.data.metadata.resourceVersion : undefined;
    }
    const obj = this.#tryParse(event.object);
    if (!obj) return undefined;
    if (event.type === 'DELETED') {
      const key = objectKey(obj.metadata.namespace, obj.metadata.name);
      this.#cache.delete(key);
      this.#emit((h) => h.delete?.(obj));
    } else {
      this.#upsert(obj);
    }
    return obj.metadata.resourceVersion;
  }

  #upsert(obj: T): void {
    const key = objectKey(obj.metadata.namespace, obj.metadata.name);
    const old = this.#cache.get(key);
    // A new entry keys the cache with the shared copy that controllers' maps use too.
    this.#cache.set(old ? key : intern(key), obj);
    if (!old) this.#emit((h) => h.add?.(obj));
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) {
      this.#emit((h) => h.update?.(old, obj));
    }
  }

  #tryParse(raw: unknown): T | undefined {
    try {
      return this.#parse(trimObject(raw));
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'ignoring an object that does not parse');
      return undefined;
    }
  }

  #inScope(obj: T, scope: string | undefined): boolean {
    return scope === undefined || obj.metadata.namespace === scope;
  }

  #resyncScope(scope: string | undefined): void {
    for (const obj of this.#cache.values()) {
      if (this.#inScope(obj, scope)) this.#emit((h) => h.resync?.(obj));
    }
  }

  #markSynced(scope: string | undefined): void {
    this.#synced.add(scope);
    if (!this.hasSynced) return;
    for (const fn of this.#syncWaiters.splice(0)) fn();
  }

  #emit(call: (h: EventHandlers<T>) => void): void {
    for (const h of this.#handlers) {
      try {
        call(h);
      } catch (err) {
        this.#log.error({ err: describeError(err) }, 'event handler threw');
      }
    }
  }
}

function restartReason(err: unknown): RestartReason {
  if (err instanceof WatchRestart) return err.reason;
  if (isApiError(err, 410)) return 'expired';
  return 'error';
}
