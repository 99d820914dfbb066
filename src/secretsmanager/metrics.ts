/**
 * The client's Prometheus metrics. Created once per registry (the pool shares them among every
 * store's client), so calling the factory twice with one registry returns the same set.
 */
import { Counter, Histogram, Registry } from 'prom-client';

export interface SecretsManagerMetrics {
  /** One per HTTP attempt: operation and HTTP status (or `network_error`, `timeout`). */
  requests: Counter<'operation' | 'status'>;
  requestDuration: Histogram<'operation'>;
  iamTokenExchanges: Counter<'result'>;
  vaultLogins: Counter<'result'>;
  retries: Counter<'operation' | 'reason'>;
  /** Calls that joined an identical in-flight read instead of sending their own. */
  coalesced: Counter<'operation'>;
}

const PREFIX = 'secrets_manager_operator_sm_';
const byRegistry = new WeakMap<Registry, SecretsManagerMetrics>();

export function createSecretsManagerMetrics(registry: Registry): SecretsManagerMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: SecretsManagerMetrics = {
    requests: new Counter({
      name: `${PREFIX}requests_total`,
      help: 'HTTP requests to Secrets Manager and IAM, by operation and response status.',
      labelNames: ['operation', 'status'],
      registers,
    }),
    requestDuration: new Histogram({
      name: `${PREFIX}request_duration_seconds`,
      help: 'Latency of HTTP requests to Secrets Manager and IAM, by operation.',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    iamTokenExchanges: new Counter({
      name: `${PREFIX}iam_token_exchanges_total`,
      help: 'IAM API key to token exchanges, by result (success, failure).',
      labelNames: ['result'],
      registers,
    }),
    vaultLogins: new Counter({
      name: `${PREFIX}vault_logins_total`,
      help: 'Vault logins with an IAM token, by result (success, failure).',
      labelNames: ['result'],
      registers,
    }),
    retries: new Counter({
      name: `${PREFIX}retries_total`,
      help: 'Requests retried, by operation and reason (rate_limited, server_error, network, timeout, relogin).',
      labelNames: ['operation', 'reason'],
      registers,
    }),
    coalesced: new Counter({
      name: `${PREFIX}coalesced_requests_total`,
      help: 'Reads that shared an identical in-flight request instead of sending their own.',
      labelNames: ['operation'],
      registers,
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}

/** Metrics on a private registry, for clients built without one. */
export function detachedMetrics(): SecretsManagerMetrics {
  return createSecretsManagerMetrics(new Registry());
}
