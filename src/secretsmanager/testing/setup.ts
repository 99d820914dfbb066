/** A client wired to the MockAgent fake servers and a fake clock, for unit tests. */
import { Registry } from 'prom-client';
import { FakeClock, settle } from '../../runtime/testing/fake-clock.ts';
import { HttpSecretsManagerClient, type SecretsManagerClientOptions } from '../client.ts';
import { API_KEY, IAM_URL, MockSecretsManager, SM_URL } from './mock-server.ts';

export function setup(over: Partial<SecretsManagerClientOptions> = {}) {
  const server = new MockSecretsManager();
  const clock = new FakeClock();
  const registry = new Registry();
  const client = new HttpSecretsManagerClient({
    url: SM_URL,
    iamUrl: IAM_URL,
    apiKey: API_KEY,
    clock,
    random: () => 0.5,
    dispatcher: server.agent,
    metrics: registry,
    ...over,
  });
  return {
    server,
    clock,
    registry,
    client,
    /** Drives a promise to its end on the fake clock. */
    run: <T>(p: Promise<T>) => settle(p, clock),
    /** The outcome of a promise expected to reject. */
    fail: async (p: Promise<unknown>): Promise<unknown> => {
      try {
        await settle(p, clock);
      } catch (e) {
        return e;
      }
      throw new Error('expected the call to fail');
    },
  };
}

/** The value of one sample of a metric, 0 when absent. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  let total = 0;
  for (const v of values) {
    const l = v.labels as Record<string, string | number | undefined>;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) {
      if (!('metricName' in v) || !String(v.metricName).endsWith('_bucket')) total += v.value;
    }
  }
  return total;
}
