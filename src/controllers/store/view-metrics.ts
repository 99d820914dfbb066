import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../runtime/metrics.ts';

/** The metrics of every store's remote view, labelled by store. */
export interface RemoteViewMetrics {
  /** Remote secrets whose value a view holds. */
  entries: Gauge<'store'>;
  /** Value reads a view sent to Secrets Manager (each one shared by every resource using it). */
  valueReads: Counter<'store' | 'reason'>;
  /** List calls (one per secret type) a view sent, for change detection and dataFrom.find. */
  listCalls: Counter<'store'>;
  /** Remote secrets whose last_update_date moved or that vanished. */
  changes: Counter<'store'>;
  /** How many resources one detected change re-synced. */
  resyncsPerChange: Histogram<'store'>;
}

export function createRemoteViewMetrics(registry: Registry): RemoteViewMetrics {
  const p = `${METRIC_PREFIX}remote_view_`;
  return {
    entries: new Gauge({
      name: `${p}entries`,
      help: 'Remote secrets whose value the store view holds in memory (shared by every resource that references them).',
      labelNames: ['store'],
      registers: [registry],
    }),
    valueReads: new Counter({
      name: `${p}value_reads_total`,
      help: 'Value reads sent to Secrets Manager by the store view, by reason (first, changed, stale, forced).',
      labelNames: ['store', 'reason'],
      registers: [registry],
    }),
    listCalls: new Counter({
      name: `${p}list_calls_total`,
      help: 'List calls sent to Secrets Manager by the store view (change detection and dataFrom.find).',
      labelNames: ['store'],
      registers: [registry],
    }),
    changes: new Counter({
      name: `${p}changes_total`,
      help: 'Remote secrets whose last_update_date moved, or that vanished, as the lists showed.',
      labelNames: ['store'],
      registers: [registry],
    }),
    resyncsPerChange: new Histogram({
      name: `${p}resyncs_per_change`,
      help: 'ExternalSecrets re-synced because of one detected change.',
      labelNames: ['store'],
      buckets: [0, 1, 10, 100, 1000, 10000],
      registers: [registry],
    }),
  };
}

/** Metrics on a registry of their own (unit tests, registries built without metrics). */
export function detachedRemoteViewMetrics(): RemoteViewMetrics {
  return createRemoteViewMetrics(new Registry());
}
