import type { Clock } from './clock.ts';
import { describeError, isTerminalError } from './errors.ts';
import type { Informer, KubeObject } from './informer.ts';
import { intern } from './intern.ts';
import { forResource, keyString, type Logger, type ObjectKey } from './logger.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { type ShutdownResult, WorkQueue } from './queue.ts';

export type { ObjectKey } from './logger.ts';

/** What a reconcile returns: done, or "again after `requeueAfterMs`" (refreshes, renewals). */
export interface Result {
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  /** Bound to the controller and the resource key. */
  log: Logger;
  /** Aborts when the operator shuts down past its grace period or loses leadership. */
  signal: AbortSignal;
}

/**
 * The reconcile contract (controller-runtime's): given only a key, read the world, converge it,
 * and return. Throwing retries with per-key backoff; throwing `TerminalError` records the
 * failure without retrying. Never called twice at once for the same key.
 */
export interface Reconciler {
  /** Names the controller in logs and metric labels, e.g. `externalsecret`. */
  name: string;
  reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Result | undefined>;
}

/** Maps an object's event to the keys to reconcile (default: the object's own key). */
export type KeyMapper<T extends KubeObject> = (obj: T) => ObjectKey[];

/**
 * How a controller watches an informer (controller-runtime's handler and predicates): `map`
 * turns an object into the keys to reconcile (an owned Secret into its owner, a store into its
 * users); `filter` drops add, update and resync events that need no reconcile (the echo of our
 * own status write). Deletes always pass: a reconcile must see that the object is gone.
 */
export interface WatchOptions<T extends KubeObject> {
  map?: KeyMapper<T>;
  filter?: (obj: T) => boolean;
}

export function objectKeyOf(obj: KubeObject): ObjectKey {
  const { namespace, name } = obj.metadata;
  return namespace ? { namespace, name } : { name };
}

export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export interface ControllerOptions {
  reconciler: Reconciler;
  clock: Clock;
  log: Logger;
  metrics: RuntimeMetrics;
  /** Reconciles at once (different keys). */
  concurrency: number;
  backoff?: { baseMs?: number; maxMs?: number };
  rateLimit?: { qps?: number; burst?: number };
}

interface Source {
  list(): ObjectKey[];
}

/**
 * Wires informers to a work queue and the queue to a reconciler, with metrics per controller.
 * `watch` registers event sources once; each `run` (one leadership term) gets a fresh queue
 * seeded with every key the sources know, so nothing is missed across a leader change.
 */
export class Controller {
  readonly name: string;
  readonly #o: ControllerOptions;
  readonly #log: Logger;
  readonly #sources: Source[] = [];
  #queue: WorkQueue<string> | undefined;

  constructor(options: ControllerOptions) {
    this.#o = options;
    this.name = options.reconciler.name;
    this.#log = options.log.child({ controller: this.name });
  }

  /** Reconciles `key` soon (ignored while this instance is not running the controller). */
  enqueue(key: ObjectKey): void {
    this.#queue?.add(intern(keyString(key)));
  }

  /** Reconciles `key` after `ms` (an earlier pending time wins). */
  enqueueAfter(key: ObjectKey, ms: number): void {
    this.#queue?.addAfter(intern(keyString(key)), ms);
  }

  /**
   * Reconciles the keys `options.map` gives for every add, update, delete and resync of
   * `informer`'s objects that `options.filter` lets through (by default each object's own key,
   * every event), and seeds each run with the keys of all of them.
   */
  watch<T extends KubeObject>(informer: Informer<T>, options: WatchOptions<T> = {}): void {
    const map = options.map ?? ((o: T) => [objectKeyOf(o)]);
    const filter = options.filter ?? (() => true);
    const enqueueAll = (obj: T) => {
      for (const key of map(obj)) this.enqueue(key);
    };
    const enqueueIf = (obj: T) => {
      if (filter(obj)) enqueueAll(obj);
    };
    informer.on({
      add: enqueueIf,
      update: (_old, obj) => enqueueIf(obj),
      delete: enqueueAll,
      resync: enqueueIf,
    });
    this.#sources.push({ list: () => informer.list().flatMap((o) => map(o)) });
  }

  get running(): boolean {
    return this.#queue !== undefined && !this.#queue.shuttingDown;
  }

  /** Runs workers until `signal` aborts or `shutdown` is called; resolves when they are done. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, metrics, concurrency } = this.#o;
    const labels = { controller: this.name };
    const queue = new WorkQueue<string>({
      clock,
      backoff: this.#o.backoff,
      rateLimit: this.#o.rateLimit,
      hooks: {
        depth: (n) => metrics.workqueueDepth.set(labels, n),
        retry: () => metrics.workqueueRetries.inc(labels),
      },
    });
    this.#queue = queue;
    for (const source of this.#sources)
      for (const key of source.list()) queue.add(intern(keyString(key)));
    this.#log.info({ concurrency, queued: queue.depth }, 'starting workers');
    try {
      await queue.run(
        concurrency,
        (key, workSignal) => this.#reconcile(queue, key, workSignal),
        signal,
      );
    } finally {
      if (this.#queue === queue) this.#queue = undefined;
      this.#log.info('workers stopped');
    }
  }

  /** Stops taking work and waits up to `graceMs` for in-flight reconciles. */
  async shutdown(graceMs: number): Promise<ShutdownResult<string>> {
    const queue = this.#queue;
    if (!queue) return { drained: true, abandoned: [] };
    const result = await queue.shutdown(graceMs);
    if (!result.drained) {
      this.#log.warn(
        { abandoned: result.abandoned },
        'reconciles still running at the shutdown deadline',
      );
    }
    return result;
  }

  async #reconcile(
    queue: WorkQueue<string>,
    keyText: string,
    signal: AbortSignal,
  ): Promise<Result | undefined> {
    const { clock, metrics, reconciler } = this.#o;
    const key = parseKey(keyText);
    const log = forResource(this.#o.log, this.name, key);
    const started = clock.now();
    const observe = (result: 'success' | 'requeue_after' | 'error' | 'terminal_error') => {
      metrics.reconcileTotal.inc({ controller: this.name, result });
      metrics.reconcileDuration.observe({ controller: this.name }, (clock.now() - started) / 1000);
    };
    try {
      const result = await reconciler.reconcile(key, { log, signal });
      observe(result?.requeueAfterMs ? 'requeue_after' : 'success');
      return result;
    } catch (err) {
      const safe = describeError(err);
      const code = String(safe.code ?? safe.name);
      metrics.reconcileErrors.inc({ controller: this.name, code });
      if (isTerminalError(err)) {
        observe('terminal_error');
        log.error({ err: safe }, 'reconcile failed; not retrying until the resource changes');
      } else if (safe.status === 409) {
        // Optimistic concurrency doing its job (another writer, or our own stale cache): the
        // retry reads the object again. Expected under contention, so not a warning.
        observe('error');
        log.info(
          { err: safe, attempt: queue.numRequeues(keyText) + 1 },
          'reconcile met a newer version of an object; retrying',
        );
      } else {
        observe('error');
        log.warn(
          { err: safe, attempt: queue.numRequeues(keyText) + 1 },
          'reconcile failed; retrying with backoff',
        );
      }
      throw err;
    }
  }
}
