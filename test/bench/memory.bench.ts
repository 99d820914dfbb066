/**
 * Memory of the operator as its own process, at scale: N ExternalSecrets, each with `--refs`
 * references spread over `--unique` Secrets Manager secrets (refreshInterval 1h), created before
 * the operator starts; then the operator is started exactly as users run it and sampled until
 * every ExternalSecret is Ready. Prints peak RSS (VmHWM), RSS once settled, the highest heap
 * used (its own nodejs_heap_size_used_bytes), CPU seconds, and the same for a restart.
 *
 *   npm run bench:memory -- [--n 10000] [--unique 3000] [--refs 3] [--store-qps 1000]
 *       [--src] [--snapshot] [--restart] [--settle 15]
 *       [--node-flag=<flag> ...]
 *
 * The operator runs with the Node flags of `npm start` (the image's ENTRYPOINT has the same).
 * `--n 0` measures the operator on an empty cluster. It runs the image's entry point,
 * `dist/main.js` (compiled first); `--src` runs `src/main.ts` as `npm start` does. `--snapshot` writes a heap
 * snapshot of the operator once all are Ready (summarise it with
 * `node test/bench/heap-summary.ts <file>`). SMO_TEST_KUBECONFIG reuses a running control plane
 * (`npm run cluster -- --dir .tmp/c`); otherwise one is started for the run and stopped after it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import { RESOURCE_TYPES } from '../../src/controllers/shared/resources.ts';
import { startEmulator } from '../../src/emulator/index.ts';
import { realClock } from '../../src/runtime/clock.ts';
import { Informer, type KubeObject } from '../../src/runtime/informer.ts';
import { loadKubeConfig } from '../../src/runtime/kube.ts';
import { reuseConnections } from '../../src/runtime/kube-fallback.ts';
import { KubeListWatchClient } from '../../src/runtime/listwatch.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { OperatorProcess, startFlags } from './operator-process.ts';
import { benchCluster, createBenchStore, inParallel, operatorEntry, say } from './support.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    unique: { type: 'string', default: '3000' },
    refs: { type: 'string', default: '3' },
    'store-qps': { type: 'string', default: '1000' },
    src: { type: 'boolean', default: false },
    snapshot: { type: 'boolean', default: false },
    restart: { type: 'boolean', default: false },
    settle: { type: 'string', default: '15' },
    timeout: { type: 'string', default: '1200' },
    // A Node/V8 flag for the operator process (repeatable), e.g. --node-flag=--max-semi-space-size=2
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const N = Number(values.n);
const UNIQUE = Math.max(1, Number(values.unique));
const REFS = Math.max(1, Number(values.refs));
const QPS = Number(values['store-qps']);
const SETTLE_MS = Number(values.settle) * 1000;
const TIMEOUT_MS = Number(values.timeout) * 1000;
const API_KEY = `bench-${randomBytes(6).toString('hex')}`;
const mib = (x: number) => `${x.toFixed(0)} MiB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isReady(obj: KubeObject): boolean {
  const conditions = (obj.status as { conditions?: Array<{ type: string; status: string }> })
    ?.conditions;
  return conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Samples the operator until `done()` or the timeout; prints one line per 10 s. */
async function follow(op: OperatorProcess, label: string, done: () => Promise<boolean> | boolean) {
  const started = performance.now();
  let lastPrint = 0;
  for (;;) {
    await op.metrics();
    const elapsed = performance.now() - started;
    if (await done()) return elapsed;
    if (op.child.exitCode !== null) throw new Error(`operator exited (${op.child.exitCode})`);
    if (elapsed > TIMEOUT_MS) throw new Error(`${label}: not done after ${TIMEOUT_MS / 1000} s`);
    if (elapsed - lastPrint >= 10_000) {
      lastPrint = elapsed;
      const s = op.sample();
      say(
        `  ${label} ${(elapsed / 1000).toFixed(0)} s: rss ${mib(s?.rssMiB ?? 0)}, peak ${mib(s?.peakRssMiB ?? 0)}, cpu ${(s?.cpuSeconds ?? 0).toFixed(1)} s`,
      );
    }
    await sleep(1000);
  }
}

async function report(op: OperatorProcess, label: string, ms: number) {
  await sleep(SETTLE_MS);
  await op.metrics();
  const s = op.sample();
  say(
    `${label}: done in ${(ms / 1000).toFixed(1)} s; peak RSS (VmHWM) ${mib(s?.peakRssMiB ?? 0)}; RSS ${SETTLE_MS / 1000} s later ${mib(s?.rssMiB ?? 0)}; max heap used ${mib(op.maxHeapUsedMiB)}; CPU ${(s?.cpuSeconds ?? 0).toFixed(1)} s`,
  );
}

async function main(): Promise<void> {
  const cluster = await benchCluster('memory-bench');
  const kubeconfig = cluster.kubeconfigPath;
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  reuseConnections(kc); // client-node alone opens a TLS connection per request
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const namespace = `mem-bench-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });

  const emulator = await startEmulator({ apiKeys: [{ key: API_KEY, role: 'Manager' }] });
  const ids = Array.from({ length: UNIQUE }, (_, i) =>
    emulator.createSecret({ type: 'arbitrary', name: `bench-${i}`, payload: `value-${i}` }),
  );
  await createBenchStore(
    { core, custom },
    {
      namespace,
      url: emulator.url,
      apiKey: API_KEY,
      spec: { rateLimit: { qps: QPS, burst: QPS } },
    },
  );

  const createStart = performance.now();
  await inParallel(
    Array.from({ length: N }, (_, i) => i),
    32,
    (i) =>
      custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURALS.ExternalSecret,
        namespace,
        body: {
          apiVersion: API_VERSION,
          kind: 'ExternalSecret',
          metadata: { name: `es-${i}` },
          spec: {
            storeRef: { kind: 'SecretStore', name: 'sm' },
            refreshInterval: '1h',
            data: Array.from({ length: REFS }, (_, j) => ({
              secretKey: `k${j}`,
              remoteRef: { type: 'arbitrary', id: ids[(i * REFS + j) % UNIQUE] },
            })),
          },
        },
      }),
  );
  say(
    `${N} ExternalSecrets x ${REFS} references over ${UNIQUE} secrets created in ${((performance.now() - createStart) / 1000).toFixed(0)} s; store limit ${QPS} qps`,
  );

  // The bench's own view of readiness: an informer on the ExternalSecrets of the namespace.
  const quiet = createLogger({
    level: 'warn',
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });
  const watched = new Informer({
    client: new KubeListWatchClient(loadKubeConfig(kubeconfig, {})),
    clock: realClock,
    log: quiet,
    type: RESOURCE_TYPES.ExternalSecret,
    namespaces: [namespace],
  });
  watched.start();
  await watched.waitForSync();
  const readyCount = () => watched.list().filter(isReady).length;

  const dir = mkdtempSync(join(tmpdir(), 'smo-mem-bench-'));
  const logFile = join(dir, 'operator.log');
  const nodeFlags = [
    ...values['node-flag'],
    ...(values.snapshot ? ['--heapsnapshot-signal=SIGUSR2'] : []),
  ];
  const entry = operatorEntry(values.src);
  const dist = entry === 'dist/main.js';
  say(`operator: node ${[...startFlags(), ...nodeFlags, entry].join(' ')}; log ${logFile}`);
  const op = await OperatorProcess.start({
    kubeconfig,
    namespace,
    dist,
    nodeFlags,
    logFile,
    cwd: dir,
  });
  const firstMs = await follow(op, 'first sync', async () => {
    if (N === 0) return (await op.metrics()) !== undefined;
    return readyCount() >= N;
  });
  await report(op, `first sync of ${N}`, firstMs);
  if (values.snapshot) say(`heap snapshot: ${await op.heapSnapshot()}`);
  const code = await op.stop();
  if (code !== 0) say(`operator exited with ${code}`);

  if (values.restart) {
    const again = await OperatorProcess.start({
      kubeconfig,
      namespace,
      dist,
      nodeFlags,
      logFile,
      cwd: dir,
    });
    const restartMs = await follow(again, 'restart', async () => {
      const m = await again.metrics();
      const total = [...(m?.entries() ?? [])]
        .filter(([k]) =>
          k.startsWith('secrets_manager_operator_reconcile_total{controller="externalsecret"'),
        )
        .reduce((sum, [, v]) => sum + v, 0);
      return m !== undefined && total >= N;
    });
    await report(again, `restart with ${N}`, restartMs);
    await again.stop();
  }

  await watched.stop();
  await emulator.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => {});
  await cluster.stop();
}

await main();
process.exit(0);
