/**
 * `npm run bench:scale -- --n 10000 --unique 3000 --refs 3 [--store-qps N]`: the operator at
 * scale, run as users run it. A control plane and the emulator (its own process, with a seed file
 * generated for the run) are started; N ExternalSecrets with `--refs` references each, spread over
 * `--unique` secrets (the first `--fanout` resources all reference secret 0; half the references
 * are by name), are created before the operator starts as a separate process with `npm start`'s
 * flags and environment. Printed: time to all Ready, Secrets Manager requests against unique secrets and list
 * calls, the API server's raw ceiling (Secret creates per second by a minimal client, 32 in
 * flight) and the ratio, the operator's peak RSS (VmHWM), CPU seconds and GC pauses, how the CPU
 * was shared among the run's processes during the ceiling and the first sync (and the API
 * server's CPU per first sync in each), one rotation of secret 0 reaching its resources, a
 * steady window, new-resource latency while all are steady, and a restart.
 *
 *   --poll-interval 60s   the store's spec.pollInterval
 *   --steady-seconds 600  the steady-state window (60 for a quick run)
 *   --fanout 1000         resources on the rotated secret (at most n)
 *   --new 50              new resources created one by one while the rest are steady
 *   --concurrency <n>     passed to the operator (default: its own default)
 *   --src                 run src/main.ts as `npm start` does (default: the image's entry point,
 *                         dist/main.js, compiled first)
 *   --node-flag <flag>    an extra Node flag for the operator (repeatable), e.g. --cpu-prof
 *
 * SMO_TEST_KUBECONFIG reuses a running control plane. Run by hand, not in `npm test`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import { FIELD_MANAGER, LABELS, MANAGED_BY_VALUE } from '../../src/controllers/shared/constants.ts';
import { CREATE_ONLY_VERSION } from '../../src/controllers/shared/secrets.ts';
import { type Counters, requestKinds } from '../../src/emulator/index.ts';
import { loadKubeConfig } from '../../src/runtime/kube.ts';
import { PatchType } from '../../src/runtime/kubeapi.ts';
import type { KubeClient } from '../../src/runtime/kubeclient.ts';
import { startEnv, startFlags } from './operator-process.ts';
import {
  benchCluster,
  cpuBetween,
  cpuSnapshot,
  createBenchStore,
  freePort,
  inParallel,
  operatorEntry,
  percentile,
  processStats,
  ResumingWatch,
  say,
  until,
} from './support.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    unique: { type: 'string' },
    refs: { type: 'string', default: '3' },
    'store-qps': { type: 'string' },
    'poll-interval': { type: 'string', default: '60s' },
    'steady-seconds': { type: 'string', default: '600' },
    fanout: { type: 'string', default: '1000' },
    new: { type: 'string', default: '50' },
    concurrency: { type: 'string' },
    src: { type: 'boolean', default: false },
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const N = Number(values.n);
const ENTRY = operatorEntry(values.src);
const UNIQUE = Number(values.unique ?? Math.max(1, Math.round(N * 0.3)));
const REFS = Number(values.refs);
const FANOUT = Math.min(N, Number(values.fanout));
const STEADY_MS = Number(values['steady-seconds']) * 1000;
const NEW = Number(values.new);
const POLL_MS = parseSeconds(values['poll-interval']);
const ROOT = resolve(import.meta.dirname, '../..');
const WORK = join(ROOT, '.tmp', `scale-${Date.now().toString(36)}`);
const API_KEY = `bench-${randomBytes(6).toString('hex')}`;
const MANAGED = `${LABELS.managedBy}=${MANAGED_BY_VALUE}`;

function parseSeconds(text: string): number {
  const m = /^(\d+)(s|m)$/.exec(text);
  if (!m) throw new Error(`--poll-interval: use seconds or minutes, such as 60s or 1m`);
  return Number(m[1]) * (m[2] === 'm' ? 60_000 : 1000);
}

/** The references of resource `i`: secret indexes, the first being 0 for the fan-out resources. */
function refsOf(i: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < REFS; k++) {
    out.push(k === 0 && i < FANOUT ? 0 : 1 + ((i * REFS + k) % Math.max(1, UNIQUE - 1)));
  }
  return out;
}

class Emulator {
  readonly url: string;
  readonly #proc: ChildProcess;

  private constructor(url: string, proc: ChildProcess) {
    this.url = url;
    this.#proc = proc;
  }

  static async start(seedPath: string): Promise<Emulator> {
    const proc = spawn(
      process.execPath,
      ['src/emulator/cli.ts', '--port', '0', '--api-key', API_KEY, '--seed', seedPath],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const url = await new Promise<string>((resolveUrl, reject) => {
      let out = '';
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolveUrl(m[1] as string);
      });
      proc.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
    });
    return new Emulator(url, proc);
  }

  async counters(): Promise<Counters> {
    return (await (await fetch(`${this.url}/__emulator/counters`)).json()) as Counters;
  }

  async rotate(id: string, payload: string): Promise<void> {
    const res = await fetch(`${this.url}/__emulator/secrets/${id}/rotate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload }),
    });
    if (!res.ok) throw new Error(`rotate: ${res.status}`);
  }

  get pid(): number {
    return this.#proc.pid as number;
  }

  stop(): void {
    this.#proc.kill('SIGTERM');
  }
}

class Operator {
  readonly proc: ChildProcess;
  readonly startedAt = performance.now();
  readonly #healthUrl: string;
  readonly #metricsUrl: string;
  readonly #exited: Promise<void>;

  constructor(kubeconfig: string, namespace: string, metricsPort: number, healthPort: number) {
    const flags = [
      '--kubeconfig',
      kubeconfig,
      '--watch-namespaces',
      namespace,
      '--leader-election-namespace',
      namespace,
      '--metrics-bind-address',
      `127.0.0.1:${metricsPort}`,
      '--health-probe-bind-address',
      `127.0.0.1:${healthPort}`,
      ...(values.concurrency ? ['--concurrency', values.concurrency] : []),
    ];
    // The image's entry point with the flags of its ENTRYPOINT (or, with --src, what
    // `npm start -- <flags>` runs), at the default log level, its lines going to a file.
    mkdirSync(WORK, { recursive: true });
    const log = openSync(join(WORK, 'operator.log'), 'a');
    this.proc = spawn(
      process.execPath,
      [...startFlags(), ...values['node-flag'], ENTRY, ...flags],
      { cwd: ROOT, env: { ...process.env, ...startEnv() }, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.#healthUrl = `http://127.0.0.1:${healthPort}/readyz`;
    this.#metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    this.#exited = new Promise((r) => this.proc.once('exit', () => r()));
  }

  stats() {
    return processStats(this.proc.pid as number);
  }

  /** The sum of one counter's samples on the operator's /metrics whose labels contain `labels`. */
  async counter(name: string, labels = ''): Promise<number> {
    return (await this.counters([[name, labels]]))[0] as number;
  }

  /** `counter` for several [name, labels] at once, from one scrape of /metrics. */
  async counters(queries: ReadonlyArray<readonly [string, string]>): Promise<number[]> {
    const lines = (await (await fetch(this.#metricsUrl)).text()).split('\n');
    return queries.map(([name, labels]) => {
      let sum = 0;
      for (const line of lines) {
        if (line.startsWith(`${name}{`) && line.includes(labels)) {
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
        }
      }
      return sum;
    });
  }

  async ready(): Promise<boolean> {
    try {
      return (await fetch(this.#healthUrl)).ok;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    this.proc.kill('SIGTERM');
    await this.#exited;
  }
}

function seedFile(): { path: string; ids: string[] } {
  const ids = Array.from({ length: UNIQUE }, (_, i) => {
    const hex = i.toString(16).padStart(12, '0');
    return `5ca1ab1e-0000-4000-8000-${hex}`;
  });
  const secrets = ids.map((id, i) => ({
    type: 'arbitrary',
    id,
    name: `scale-${i}`,
    payload: `value-${i}-${randomBytes(8).toString('hex')}`,
  }));
  mkdirSync(WORK, { recursive: true });
  const path = join(WORK, 'seed.json');
  writeFileSync(path, JSON.stringify({ secrets }));
  return { path, ids };
}

/** Secret creates per second by a plain client, 32 in flight, in a scratch namespace. */
/**
 * Secret creates per second by a minimal client (the operator's own JSON client: keep-alive
 * connections, no model classes), 32 in flight, in a scratch namespace. client-node 2.x opens a
 * TLS connection per request and measured a ceiling about 8 times lower on the same server.
 */
async function rawCeiling(core: CoreV1Api, raw: KubeClient, count: number): Promise<number> {
  const namespace = `scale-raw-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // Warm the connections, as a running operator's are.
  await raw.core.readNamespacedSecret({ namespace, name: 'none' }).catch(() => undefined);
  const start = performance.now();
  await inParallel(
    Array.from({ length: count }, (_, i) => i),
    32,
    (i) =>
      raw.core.createNamespacedSecret({
        namespace,
        body: { metadata: { name: `raw-${i}` }, stringData: { k0: `v${i}`, k1: 'x', k2: 'y' } },
      }),
  );
  const perSecond = count / ((performance.now() - start) / 1000);
  await core.deleteCollectionNamespacedSecret({ namespace });
  await deleteNamespace(core, namespace);
  return perSecond;
}

/**
 * Deletes a scratch namespace and waits until it is gone: the namespace controller deleting
 * thousands of objects must not overlap the operator's run and take the API server from it.
 */
async function deleteNamespace(core: CoreV1Api, name: string): Promise<void> {
  await core.deleteNamespace({ name });
  await until(
    `namespace ${name} deleted`,
    () =>
      core.readNamespace({ name }).then(
        () => false,
        (err: unknown) => {
          if ((err as { code?: number }).code === 404) return true;
          throw err;
        },
      ),
    10 * 60_000,
    500,
  );
}

/**
 * First syncs per second by a minimal client making exactly the API calls one first sync of a
 * new resource makes (a create-only server-side apply of its Secret with the operator's labels,
 * owner reference and 3 keys, a merge patch of the ExternalSecret's status), 32 syncs in flight
 * over keep-alive connections, on `count` ExternalSecrets created beforehand in a scratch
 * namespace (not watched by the operator). No watches, no Secrets Manager: what the API server
 * allows an operator that does nothing else.
 */
async function syncCeiling(
  core: CoreV1Api,
  raw: KubeClient,
  count: number,
  processes: () => Array<{ name: string; pid: number }>,
): Promise<{ perSecond: number; cpu: ReturnType<typeof cpuBetween> }> {
  const namespace = `scale-mix-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const group = { group: GROUP, version: VERSION, namespace, plural: PLURALS.ExternalSecret };
  const uids: string[] = [];
  await inParallel(
    Array.from({ length: count }, (_, i) => i),
    32,
    async (i) => {
      const created = (await raw.custom.createNamespacedCustomObject({
        ...group,
        body: {
          apiVersion: API_VERSION,
          kind: 'ExternalSecret',
          metadata: { name: `mix-${i}` },
          spec: {
            storeRef: { kind: 'SecretStore', name: 'none' },
            data: [0, 1, 2].map((k) => ({
              secretKey: `k${k}`,
              remoteRef: { type: 'arbitrary', name: `scale-${k}` },
            })),
          },
        },
      })) as { metadata: { uid: string } };
      uids[i] = created.metadata.uid;
    },
  );
  const hash = randomBytes(32).toString('hex');
  const cpuBefore = cpuSnapshot(processes());
  const start = performance.now();
  await inParallel(
    Array.from({ length: count }, (_, i) => i),
    32,
    async (i) => {
      const name = `mix-${i}`;
      await raw.core.patchNamespacedSecret(
        {
          namespace,
          name,
          fieldManager: FIELD_MANAGER,
          force: true,
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              name,
              namespace,
              labels: { [LABELS.managedBy]: MANAGED_BY_VALUE },
              resourceVersion: CREATE_ONLY_VERSION,
              ownerReferences: [
                {
                  apiVersion: API_VERSION,
                  kind: 'ExternalSecret',
                  name,
                  uid: uids[i] as string,
                  controller: true,
                  blockOwnerDeletion: true,
                },
              ],
            },
            data: Object.fromEntries(
              [0, 1, 2].map((k) => [`k${k}`, Buffer.from(`value-${i}-${k}`).toString('base64')]),
            ),
          },
        },
        PatchType.Apply,
        'metadata',
      );
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      await raw.custom.patchNamespacedCustomObjectStatus(
        {
          ...group,
          name,
          body: {
            status: {
              conditions: [
                {
                  type: 'Ready',
                  status: 'True',
                  reason: 'Synced',
                  message: `3 keys from SecretStore ${namespace}/none in Secret ${name}`,
                  lastTransitionTime: now,
                  observedGeneration: 1,
                },
              ],
              observedGeneration: 1,
              secretName: name,
              refreshTime: now,
              nextRefreshTime: now,
              syncedDataHash: hash,
              sources: [0, 1, 2].map((k) => ({
                type: 'arbitrary',
                id: `5ca1ab1e-0000-4000-8000-00000000000${k}`,
                lastUpdateDate: now,
              })),
            },
          },
        },
        PatchType.Merge,
        'metadata',
      );
    },
  );
  const perSecond = count / ((performance.now() - start) / 1000);
  const cpu = cpuBetween(cpuBefore, cpuSnapshot(processes()));
  await deleteNamespace(core, namespace);
  return { perSecond, cpu };
}

/** Milliseconds of the API server's CPU per first sync, from a stretch's CPU shares. */
function apiServerMsPer(cpu: ReturnType<typeof cpuBetween>, syncs: number): string {
  const api = cpu.find((p) => p.name === 'kube-apiserver');
  return api ? ((api.seconds * 1000) / syncs).toFixed(1) : 'not measured (reused control plane)';
}

/** `name cores, ...` for the processes that used the CPU in a stretch, busiest first. */
function coresLine(cpu: ReturnType<typeof cpuBetween>): string {
  if (!cpu.some((p) => p.name === 'kube-apiserver')) return 'not measured (reused control plane)';
  const sum = cpu.reduce((total, p) => total + p.cores, 0);
  return `${cpu.map((p) => `${p.name} ${p.cores.toFixed(2)}`).join(', ')}; sum ${sum.toFixed(2)} of ${availableParallelism()}`;
}

async function main(): Promise<void> {
  const unique = UNIQUE;
  say(
    `bench:scale n=${N} unique=${unique} refs=${REFS} fanout=${FANOUT} store-qps=${values['store-qps'] ?? 'default (20)'} poll=${values['poll-interval']} steady=${STEADY_MS / 1000}s operator=${ENTRY} log=${join(WORK, 'operator.log')}`,
  );
  const cluster = await benchCluster('scale-bench');
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const seed = seedFile();
  const emulator = await Emulator.start(seed.path);
  const results: Array<[string, string]> = [];
  const row = (what: string, value: string) => {
    results.push([what, value]);
    say(`  ${what}: ${value}`);
  };
  let operator: Operator | undefined;
  try {
    const raw = loadKubeConfig(cluster.kubeconfigPath);
    const ceiling = await rawCeiling(core, raw, Math.min(N, 3000));
    row('API server raw ceiling (Secret creates/s, 32 in flight)', ceiling.toFixed(0));
    // Every process of the run but the operator: the control plane's, the emulator, this one.
    const processes = () => [
      ...(cluster.processes?.() ?? []),
      { name: 'emulator', pid: emulator.pid },
      { name: 'bench', pid: process.pid },
    ];
    const mixCount = Math.min(N, 2000);
    const mixRun = await syncCeiling(core, raw, mixCount, processes);
    const mix = mixRun.perSecond;
    row(
      "API server ceiling for a first sync's calls (create-only apply + status patch), 32 in flight (syncs/s)",
      `${mix.toFixed(0)} (all Ready in ${(N / mix).toFixed(1)} s)`,
    );
    row('CPU during that ceiling run (cores, by process)', coresLine(mixRun.cpu));

    const namespace = `scale-${randomBytes(3).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const qps = values['store-qps'] ? Number(values['store-qps']) : undefined;
    const group = { group: GROUP, version: VERSION, namespace };
    await createBenchStore(
      { core, custom },
      {
        namespace,
        url: emulator.url,
        apiKey: API_KEY,
        spec: {
          pollInterval: values['poll-interval'],
          ...(qps ? { rateLimit: { qps, burst: Math.min(10_000, qps * 2) } } : {}),
        },
      },
    );

    // What the resources and their Secrets do, seen by watches (no polling of 10,000 objects).
    const ready = new Set<string>();
    let esStatusWrites = 0;
    const esWatch = new ResumingWatch<EsObject>(
      kc,
      `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURALS.ExternalSecret}`,
      {},
      (type, obj) => {
        const ok = obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        if (type === 'MODIFIED') esStatusWrites++;
        if (type !== 'DELETED' && ok) ready.add(obj.metadata.name);
        else ready.delete(obj.metadata.name);
      },
    );
    let secretWrites = 0;
    const hot = new Map<string, string>();
    const arrived = new Map<string, number>();
    const secretWatch = new ResumingWatch<SecretObject>(
      kc,
      `/api/v1/namespaces/${namespace}/secrets`,
      { labelSelector: MANAGED },
      (type, obj) => {
        if (type === 'ADDED' || type === 'MODIFIED') secretWrites++;
        if (type === 'ADDED') arrived.set(obj.metadata.name, performance.now());
        const index = Number(obj.metadata.name.slice('es-'.length));
        if (index < FANOUT && obj.data?.k0) {
          hot.set(obj.metadata.name, Buffer.from(obj.data.k0, 'base64').toString());
        }
      },
    );
    await esWatch.start();
    await secretWatch.start();

    const createEs = (name: string, refs: number[]) =>
      raw.custom.createNamespacedCustomObject({
        ...group,
        plural: PLURALS.ExternalSecret,
        body: {
          apiVersion: API_VERSION,
          kind: 'ExternalSecret',
          metadata: { name },
          spec: {
            storeRef: { kind: 'SecretStore', name: 'sm' },
            refreshInterval: '1h',
            data: refs.map((s, k) => ({
              secretKey: `k${k}`,
              remoteRef:
                (s + k) % 2 === 0
                  ? { type: 'arbitrary', id: seed.ids[s] }
                  : { type: 'arbitrary', name: `scale-${s}` },
            })),
          },
        },
      });
    const createStart = performance.now();
    await inParallel(
      Array.from({ length: N }, (_, i) => i),
      32,
      (i) => createEs(`es-${i}`, refsOf(i)),
    );
    say(
      `  created ${N} ExternalSecrets in ${((performance.now() - createStart) / 1000).toFixed(1)} s`,
    );

    // --- first sync ---------------------------------------------------------------------------
    const before = requestKinds(await emulator.counters());
    const metricsPort = await freePort();
    const started = new Operator(cluster.kubeconfigPath, namespace, metricsPort, await freePort());
    operator = started;
    const withOperator = () => [
      ...processes(),
      { name: 'operator', pid: started.proc.pid as number },
    ];
    const cpuAtStart = cpuSnapshot(withOperator());
    await until(`all ${N} Ready`, () => ready.size >= N, 60 * 60_000, 250);
    const allReadyS = (performance.now() - operator.startedAt) / 1000;
    const firstStats = operator.stats();
    const firstCpu = cpuBetween(cpuAtStart, cpuSnapshot(withOperator()));
    const first = diff(requestKinds(await emulator.counters()), before);
    row('time to all Ready from operator start (s)', allReadyS.toFixed(1));
    row(
      'Secrets Manager requests (value reads + lists + other)',
      `${first.vault} (${first.valueReads} + ${first.lists} + ${first.vault - first.valueReads - first.lists}) for ${unique} unique secrets: ${(first.valueReads / unique).toFixed(3)} reads per unique secret`,
    );
    row(
      'Secret creates/s by the operator vs raw ceiling',
      `${(N / allReadyS).toFixed(0)} vs ${ceiling.toFixed(0)} (ratio ${(N / allReadyS / ceiling).toFixed(2)})`,
    );
    row(
      "first syncs/s by the operator vs the first-sync calls' ceiling",
      `${(N / allReadyS).toFixed(0)} vs ${mix.toFixed(0)} (ratio ${(N / allReadyS / mix).toFixed(2)})`,
    );
    row(
      "API server CPU per first sync (ms): the ceiling's calls alone vs the operator's run",
      `${apiServerMsPer(mixRun.cpu, mixCount)} vs ${apiServerMsPer(firstCpu, N)}`,
    );
    row('CPU during the first sync (cores, by process)', coresLine(firstCpu));
    row(
      'operator CPU seconds to all Ready / per first sync (ms)',
      `${firstStats.cpuSeconds.toFixed(1)} / ${((firstStats.cpuSeconds * 1000) / N).toFixed(2)}`,
    );
    row('operator peak RSS at all Ready (MiB, VmHWM)', firstStats.peakRssMiB.toFixed(0));
    // Its own nodejs_gc_duration_seconds (main-thread pauses), read just after all Ready.
    const gc = await started.counters(
      ['minor', 'major', 'incremental'].flatMap((kind) => [
        ['nodejs_gc_duration_seconds_count', `kind="${kind}"`] as const,
        ['nodejs_gc_duration_seconds_sum', `kind="${kind}"`] as const,
      ]),
    );
    const [minorN = 0, minorS = 0, majorN = 0, majorS = 0, incN = 0, incS = 0] = gc;
    row(
      'operator GC pauses to all Ready: minor, major, incremental (count, s); share of its CPU',
      `${minorN} ${minorS.toFixed(1)} s, ${majorN} ${majorS.toFixed(1)} s, ${incN} ${incS.toFixed(1)} s; ${((100 * (minorS + majorS + incS)) / firstStats.cpuSeconds).toFixed(0)} %`,
    );
    const reconciles = await started.counter(
      'secrets_manager_operator_reconcile_total',
      'controller="externalsecret"',
    );
    const reasons = ['first', 'changed', 'stale', 'forced'];
    const byReason = await started.counters(
      reasons.map(
        (r) => ['secrets_manager_operator_remote_view_value_reads_total', `reason="${r}"`] as const,
      ),
    );
    row('store view value reads by reason (first, changed, stale, forced)', byReason.join(', '));
    row(
      'ExternalSecret reconciles and status writes per resource to all Ready',
      `${(reconciles / N).toFixed(2)}, ${(esStatusWrites / N).toFixed(2)}`,
    );

    // --- one rotation -------------------------------------------------------------------------
    await new Promise((r) => setTimeout(r, 1_100)); // last_update_date has 1 s resolution
    const beforeRotation = requestKinds(await emulator.counters());
    const newValue = `rotated-${randomBytes(6).toString('hex')}`;
    const rotatedAt = performance.now();
    await emulator.rotate(seed.ids[0] as string, newValue);
    await until(
      `the rotation in ${FANOUT} Secrets`,
      () => hot.size >= FANOUT && [...hot.values()].every((v) => v === newValue),
      POLL_MS + 10 * 60_000,
      100,
    );
    const rotation = diff(requestKinds(await emulator.counters()), beforeRotation);
    row(
      `rotation of a secret referenced by ${FANOUT} ExternalSecrets: time to all ${FANOUT} Secrets (s), value reads`,
      `${((performance.now() - rotatedAt) / 1000).toFixed(1)} (poll interval ${POLL_MS / 1000} s), ${rotation.valueReads}`,
    );

    // --- steady state -------------------------------------------------------------------------
    const steadyWrites = secretWrites;
    const beforeSteady = requestKinds(await emulator.counters());
    await new Promise((r) => setTimeout(r, STEADY_MS));
    const steady = diff(requestKinds(await emulator.counters()), beforeSteady);
    row(
      `steady ${STEADY_MS / 1000} s: Secret writes, SM requests (lists + value reads)`,
      `${secretWrites - steadyWrites}, ${steady.vault} (${steady.lists} + ${steady.valueReads})`,
    );

    // --- new resources while all are steady -----------------------------------------------------
    const latencies: number[] = [];
    for (let j = 0; j < NEW; j++) {
      const name = `es-new-${j}`;
      const t0 = performance.now();
      await createEs(name, refsOf(FANOUT + j));
      await until(`Secret ${name}`, () => arrived.has(name), 60_000, 5);
      latencies.push((arrived.get(name) as number) - t0);
    }
    latencies.sort((a, b) => a - b);
    row(
      `new resource to Secret, ${NEW} one by one (ms p50 / p99)`,
      `${percentile(latencies, 0.5).toFixed(0)} / ${percentile(latencies, 0.99).toFixed(0)}`,
    );
    const lastStats = operator.stats();
    row(
      'operator peak RSS over the run (MiB, VmHWM), CPU seconds',
      `${lastStats.peakRssMiB.toFixed(0)}, ${lastStats.cpuSeconds.toFixed(1)}`,
    );

    // --- restart ------------------------------------------------------------------------------
    await operator.stop();
    const restartWrites = secretWrites;
    const beforeRestart = requestKinds(await emulator.counters());
    operator = new Operator(cluster.kubeconfigPath, namespace, metricsPort, await freePort());
    const restarted = operator;
    await until('the restarted operator ready', () => restarted.ready(), 120_000, 50);
    const readyAfterS = (performance.now() - restarted.startedAt) / 1000;
    await until(
      'a list call of the restarted operator',
      async () => diff(requestKinds(await emulator.counters()), beforeRestart).lists > 0,
      POLL_MS + 60_000,
      250,
    );
    await new Promise((r) => setTimeout(r, 10_000));
    const restart = diff(requestKinds(await emulator.counters()), beforeRestart);
    row(
      'restart: ready (s), Secret writes, value reads, list calls',
      `${readyAfterS.toFixed(1)}, ${secretWrites - restartWrites}, ${restart.valueReads}, ${restart.lists}`,
    );
    esWatch.stop();
    secretWatch.stop();
  } finally {
    await operator?.stop();
    emulator.stop();
    await cluster.stop();
  }
  say('');
  say('| figure | value |');
  say('| --- | --- |');
  for (const [what, value] of results) say(`| ${what} | ${value} |`);
}

interface EsObject {
  metadata: { name: string; resourceVersion?: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

interface SecretObject {
  metadata: { name: string; resourceVersion?: string };
  data?: Record<string, string>;
}

function diff<T extends object>(after: T, before: T): T {
  const out = { ...after } as Record<string, number>;
  for (const [k, v] of Object.entries(before)) out[k] = (out[k] as number) - (v as number);
  return out as T;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:scale failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
