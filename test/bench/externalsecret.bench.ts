/**
 * ExternalSecret numbers on a real API server with the emulator behind a SecretStore:
 *
 * 1. first sync: time from creating an ExternalSecret to its Secret existing (seen by a watch),
 *    median and worst over `--count` resources, created one after another and then all at once;
 * 2. steady state: `--steady` resources refreshing every 5 s for `--seconds`; Vault requests, IAM
 *    token exchanges, Vault logins and Secret writes per refresh, from the emulator's counters
 *    and the operator's metrics;
 * 3. with `--wave N`: N resources refreshing every 5 s against an emulator answering in
 *    `--latency-ms`, and the first-sync time of new resources created in the middle of it.
 *
 *   node test/bench/externalsecret.bench.ts [--kubeconfig <file>] [--count 100] [--steady 20]
 *       [--seconds 30] [--wave 0] [--latency-ms 20] [--refresh-slots <n>]
 *
 * Without --kubeconfig a control plane is started (and stopped) for the run. Run by hand, not in
 * `npm test`.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import type { Counter } from 'prom-client';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import { parseConfig } from '../../src/config/config.ts';
import { registerControllers } from '../../src/controllers/index.ts';
import { type Emulator, startEmulator } from '../../src/emulator/index.ts';
import { loadKubeConfig } from '../../src/runtime/kube.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Manager } from '../../src/runtime/manager.ts';
import { startControlPlane } from '../controlplane/controlplane.ts';
import { installCrds } from '../integration/support/crds.ts';
import { createBenchStore, percentile } from './support.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    count: { type: 'string', default: '100' },
    steady: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '30' },
    wave: { type: 'string', default: '0' },
    'latency-ms': { type: 'string', default: '20' },
    // Refreshes syncing at once; the default keeps one worker for new resources.
    'refresh-slots': { type: 'string' },
  },
});
const COUNT = Number(values.count);
const STEADY = Number(values.steady);
const SECONDS = Number(values.seconds);
const WAVE = Number(values.wave);
const LATENCY_MS = Number(values['latency-ms']);
const API_KEY = `bench-${randomBytes(6).toString('hex')}`;

const say = (line = '') => process.stdout.write(`${line}\n`);

function summary(label: string, ms: number[]): void {
  const sorted = [...ms].sort((a, b) => a - b);
  say(
    `${label}: n=${sorted.length} median ${percentile(sorted, 0.5).toFixed(0)} ms, p90 ${percentile(sorted, 0.9).toFixed(0)} ms, worst ${(sorted.at(-1) ?? Number.NaN).toFixed(0)} ms`,
  );
}

/** First time each Secret of the namespace was seen, by a watch (no polling delay). */
class SecretArrivals {
  readonly seen = new Map<string, number>();
  readonly #waiters = new Map<string, (at: number) => void>();
  #abort: { abort(): void } | undefined;

  async start(kc: KubeConfig, namespace: string): Promise<void> {
    this.#abort = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/secrets`,
      { labelSelector: 'secrets-manager.dev/managed-by=secrets-manager-operator' },
      (type: string, obj: { metadata: { name: string } }) => {
        if (type !== 'ADDED' || this.seen.has(obj.metadata.name)) return;
        const at = performance.now();
        this.seen.set(obj.metadata.name, at);
        this.#waiters.get(obj.metadata.name)?.(at);
      },
      () => {},
    );
  }

  when(name: string): Promise<number> {
    const at = this.seen.get(name);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve) => this.#waiters.set(name, resolve));
  }

  stop(): void {
    this.#abort?.abort();
  }
}

async function main(): Promise<void> {
  const cp = values.kubeconfig
    ? undefined
    : await startControlPlane({
        log: (line) => say(`  [control plane] ${line}`),
        beforeControllers: async (path) => {
          const kc = new KubeConfig();
          kc.loadFromFile(path);
          await installCrds(kc, 'bench');
        },
      });
  const kubeconfigPath = values.kubeconfig ?? (cp?.kubeconfigPath as string);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  if (values.kubeconfig) await installCrds(kc, 'bench');
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const namespace = `es-bench-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });

  const emulator: Emulator = await startEmulator({ apiKeys: [{ key: API_KEY, role: 'Manager' }] });
  const ids: string[] = [];
  for (let i = 0; i < Math.max(COUNT, STEADY, WAVE) + 20; i++) {
    ids.push(
      emulator.createSecret({ type: 'arbitrary', name: `bench-${i}`, payload: `value-${i}` }),
    );
  }
  await createBenchStore(
    { core, custom },
    {
      namespace,
      url: emulator.url,
      apiKey: API_KEY,
      spec: { rateLimit: { qps: 1000, burst: 1000 } },
    },
  );

  const config = parseConfig(
    [
      '--kubeconfig',
      kubeconfigPath,
      '--watch-namespaces',
      namespace,
      '--metrics-bind-address',
      '0',
      '--health-probe-bind-address',
      '0',
      '--log-level',
      'info',
    ],
    {},
  );
  const log = createLogger({
    level: 'info',
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });
  const manager = new Manager({ config, kubeConfig: loadKubeConfig(kubeconfigPath, {}), log });
  const context = registerControllers(manager, {
    operatorNamespace: namespace,
    ...(values['refresh-slots']
      ? { externalSecretRefreshSlots: Number(values['refresh-slots']) }
      : {}),
  });
  await manager.start();
  const registry = manager.metrics.registry;
  const counter = (name: string) =>
    registry.getSingleMetric(`secrets_manager_operator_${name}`) as Counter<string> | undefined;
  const total = async (name: string, label?: Record<string, string>) => {
    const metric = counter(name);
    if (!metric) return 0;
    const data = await metric.get();
    return data.values
      .filter((v) => !label || Object.entries(label).every(([k, x]) => v.labels[k] === x))
      .reduce((sum, v) => sum + v.value, 0);
  };

  const arrivals = new SecretArrivals();
  await arrivals.start(kc, namespace);
  const create = async (name: string, id: string, interval: string) => {
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURALS.ExternalSecret,
      namespace,
      body: {
        apiVersion: API_VERSION,
        kind: 'ExternalSecret',
        metadata: { name },
        spec: {
          storeRef: { kind: 'SecretStore', name: 'sm' },
          refreshInterval: interval,
          data: [{ secretKey: 'value', remoteRef: { type: 'arbitrary', id } }],
        },
      },
    });
  };

  // Warm-up: the store validated, one resource synced.
  await create('warmup', ids[0] as string, '1h');
  await arrivals.when('warmup');

  say(`first sync (emulator latency 0 ms, ${config.concurrency} workers)`);
  const sequential: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    const name = `seq-${i}`;
    const start = performance.now();
    await create(name, ids[i % ids.length] as string, '1h');
    sequential.push((await arrivals.when(name)) - start);
  }
  summary('  one after another', sequential);
  const burstStart = performance.now();
  const burst = await Promise.all(
    Array.from({ length: COUNT }, async (_, i) => {
      const name = `burst-${i}`;
      await create(name, ids[i % ids.length] as string, '1h');
      return (await arrivals.when(name)) - burstStart;
    }),
  );
  summary(`  ${COUNT} created at once (from the first create)`, burst);

  say();
  say(`steady state: ${STEADY} ExternalSecrets refreshing every 5 s for ${SECONDS} s`);
  for (let i = 0; i < STEADY; i++) await create(`steady-${i}`, ids[i] as string, '5s');
  for (let i = 0; i < STEADY; i++) await arrivals.when(`steady-${i}`);
  await new Promise((r) => setTimeout(r, 6_000));
  emulator.resetCounters();
  const unchangedBefore = await total('externalsecret_syncs_total', { result: 'unchanged' });
  const writesBefore = await total('externalsecret_secret_writes_total');
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const refreshes =
    (await total('externalsecret_syncs_total', { result: 'unchanged' })) - unchangedBefore;
  const writes = (await total('externalsecret_secret_writes_total')) - writesBefore;
  const counters = emulator.counters();
  const vaultRequests = Object.entries(counters.requests)
    .filter(([route]) => route.includes(' /v1/') && !route.includes('/auth/'))
    .reduce((sum, [, byStatus]) => sum + Object.values(byStatus).reduce((a, b) => a + b, 0), 0);
  say(`  refreshes: ${refreshes} (${(refreshes / SECONDS).toFixed(1)}/s)`);
  say(
    `  Vault secret requests: ${vaultRequests} (${(vaultRequests / Math.max(1, refreshes)).toFixed(2)} per refresh)`,
  );
  say(`  IAM token exchanges: ${counters.iamTokenExchanges}, Vault logins: ${counters.logins}`);
  say(`  Secret writes: ${writes}`);

  if (WAVE > 0) {
    say();
    say(
      `priority: ${WAVE} ExternalSecrets refreshing every 5 s, emulator latency ${LATENCY_MS} ms`,
    );
    emulator.setFaults({ latencyMs: LATENCY_MS });
    for (let i = 0; i < WAVE; i++) await create(`wave-${i}`, ids[i % ids.length] as string, '5s');
    await new Promise((r) => setTimeout(r, 10_000));
    const fresh: number[] = [];
    for (let i = 0; i < 10; i++) {
      const name = `new-${i}`;
      const start = performance.now();
      await create(name, ids[i] as string, '1h');
      fresh.push((await arrivals.when(name)) - start);
      await new Promise((r) => setTimeout(r, 500));
    }
    summary('  first sync of a new resource during the wave', fresh);
    say(
      `  refreshes handed back to keep a worker free: ${await total('externalsecret_refreshes_deferred_total')}`,
    );
  }

  arrivals.stop();
  await manager.stop();
  await context.pool.close();
  await emulator.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => {});
  await cp?.stop();
}

await main();
process.exit(0);
