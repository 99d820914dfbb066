import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const METRIC_PREFIX = 'secrets_manager_operator_';

/** How a reconcile ended, as the `result` label of `reconcile_total`. */
export type ReconcileResult = 'success' | 'requeue_after' | 'error' | 'terminal_error';

/**
 * The runtime's metrics on one registry. The Secrets Manager client and the controllers
 * register theirs on `registry` too, so `/metrics` serves everything.
 */
export interface RuntimeMetrics {
  registry: Registry;
  reconcileTotal: Counter<'controller' | 'result'>;
  reconcileErrors: Counter<'controller' | 'code'>;
  reconcileDuration: Histogram<'controller'>;
  workqueueDepth: Gauge<'controller'>;
  workqueueRetries: Counter<'controller'>;
  informerRestarts: Counter<'resource' | 'reason'>;
  leader: Gauge;
}

export interface MetricsOptions {
  /** Reuse a registry (tests make a fresh one each time; the default is a new registry). */
  registry?: Registry;
  /** Process metrics (CPU, memory, event loop lag, GC); on by default. */
  processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): RuntimeMetrics {
  const registry = options.registry ?? new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const p = METRIC_PREFIX;
  return {
    registry,
    reconcileTotal: new Counter({
      name: `${p}reconcile_total`,
      help: 'Reconciles by controller and result (success, requeue_after, error, terminal_error).',
      labelNames: ['controller', 'result'],
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: `${p}reconcile_errors_total`,
      help: 'Failed reconciles by controller and error code.',
      labelNames: ['controller', 'code'],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: `${p}reconcile_duration_seconds`,
      help: 'Time spent in one reconcile, by controller.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    workqueueDepth: new Gauge({
      name: `${p}workqueue_depth`,
      help: 'Keys waiting to be reconciled, by controller.',
      labelNames: ['controller'],
      registers: [registry],
    }),
    workqueueRetries: new Counter({
      name: `${p}workqueue_retries_total`,
      help: 'Keys requeued with backoff after an error, by controller.',
      labelNames: ['controller'],
      registers: [registry],
    }),
    informerRestarts: new Counter({
      name: `${p}informer_restarts_total`,
      help: 'Informer list/watch restarts by resource and reason (error, expired, timeout, closed).',
      labelNames: ['resource', 'reason'],
      registers: [registry],
    }),
    leader: new Gauge({
      name: `${p}leader`,
      help: '1 while this instance holds the leader election Lease (or runs without election).',
      registers: [registry],
    }),
  };
}
