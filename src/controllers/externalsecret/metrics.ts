import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../runtime/metrics.ts';

export interface ExternalSecretMetrics {
  /** Syncs that read Secrets Manager, by outcome: written, unchanged, or the failure reason. */
  syncs: Counter<'result'>;
  /** Writes of target Secrets (apply, delete). */
  secretWrites: Counter<'operation'>;
  /** ExternalSecrets by Ready status and reason, as this process last saw them. */
  resources: Gauge<'ready' | 'reason'>;
  /** Scheduled refreshes handed back to the queue to keep a worker for new resources. */
  refreshesDeferred: Counter;
  rolloutRestarts: Counter<'result'>;
}

export function createExternalSecretMetrics(registry: Registry): ExternalSecretMetrics {
  const p = `${METRIC_PREFIX}externalsecret_`;
  const existing = registry.getSingleMetric(`${p}syncs_total`);
  if (existing) throw new Error('ExternalSecret metrics are already registered on this registry');
  return {
    syncs: new Counter({
      name: `${p}syncs_total`,
      help: 'ExternalSecret syncs that read Secrets Manager, by result (written, unchanged, or the Ready reason of a failure).',
      labelNames: ['result'],
      registers: [registry],
    }),
    secretWrites: new Counter({
      name: `${p}secret_writes_total`,
      help: 'Writes of target Secrets by operation (apply, delete, release).',
      labelNames: ['operation'],
      registers: [registry],
    }),
    resources: new Gauge({
      name: `${p}resources`,
      help: 'ExternalSecrets by Ready status and reason.',
      labelNames: ['ready', 'reason'],
      registers: [registry],
    }),
    refreshesDeferred: new Counter({
      name: `${p}refreshes_deferred_total`,
      help: 'Scheduled refreshes handed back to the queue so that new and changed ExternalSecrets get a worker.',
      registers: [registry],
    }),
    rolloutRestarts: new Counter({
      name: `${p}rollout_restarts_total`,
      help: 'Workload rollout restarts after a Secret changed, by result (restarted, failed).',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

/** Keeps the `resources` gauge equal to the last Ready status and reason of each resource. */
export class ReadinessGauge {
  readonly #gauge: Gauge<'ready' | 'reason'>;
  readonly #last = new Map<string, { ready: string; reason: string }>();
  /** One labels object per (ready, reason), shared by every resource that has it. */
  readonly #labels = new Map<string, { ready: string; reason: string }>();

  constructor(gauge: Gauge<'ready' | 'reason'>) {
    this.#gauge = gauge;
  }

  track(id: string, ready: string, reason: string): void {
    const before = this.#last.get(id);
    if (before?.ready === ready && before.reason === reason) return;
    if (before) this.#gauge.dec(before);
    const key = `${ready}|${reason}`;
    let labels = this.#labels.get(key);
    if (!labels) {
      labels = { ready, reason };
      this.#labels.set(key, labels);
    }
    this.#gauge.inc(labels);
    this.#last.set(id, labels);
  }

  forget(id: string): void {
    const before = this.#last.get(id);
    if (!before) return;
    this.#gauge.dec(before);
    this.#last.delete(id);
  }
}
